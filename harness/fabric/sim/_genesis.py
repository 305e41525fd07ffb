"""A channel's genesis block: block 0 holding one CONFIG transaction, as on Fabric.

The ConfigEnvelope models part of what configtxgen writes: the ``Application``
group with one group per member org carrying its ``MSP`` value (MSP id, root and
intermediate certificates), and the ``Orderer`` group with the ``BatchSize`` and
``BatchTimeout`` values and its org's MSP. Policies, capabilities, consenters and
anchor peers are left out. TODO(fabric-config): model them when a client reads
them from the config block (config updates are not simulated either).

The block is built from the spec and the orgs' certificates only, without a clock
or randomness, so every orderer, in-process or in its own process, builds the same
block and the chains agree from block 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.serialization import Encoding
from fabric_protos.common import common_pb2, configtx_pb2
from fabric_protos.msp import msp_config_pb2
from fabric_protos.orderer import configuration_pb2
from google.protobuf.message import DecodeError

from harness.fabric.sim._block import new_block

if TYPE_CHECKING:
    from harness.identity import Organization
    from harness.spec import BatchSettings, NetworkSpec

CONFIG = common_pb2.HeaderType.Value("CONFIG")
_FABRIC_MSP = 0  # MSPConfig.type for an X.509 (bccsp) MSP


@dataclass(frozen=True)
class OrgMsp:
    """What a channel config says about an org: MSP id and CA certificates (PEM)."""

    msp_id: str
    root_certs: tuple[bytes, ...]
    intermediate_certs: tuple[bytes, ...] = ()


def genesis_block(
    channel: str,
    members: Sequence[OrgMsp],
    batch: BatchSettings,
    orderer_org: OrgMsp | None = None,
) -> Any:
    """Block 0 of ``channel``: one unsigned CONFIG envelope, nothing else."""
    config = configtx_pb2.Config(sequence=0)
    root = config.channel_group
    application = root.groups["Application"]
    for org in members:
        _set_msp(application.groups[org.msp_id], org)
    orderer = root.groups["Orderer"]
    _set_value(
        orderer,
        "BatchSize",
        configuration_pb2.BatchSize(
            max_message_count=batch.max_message_count,
            absolute_max_bytes=batch.absolute_max_bytes,
            preferred_max_bytes=batch.preferred_max_bytes,
        ),
    )
    _set_value(
        orderer, "BatchTimeout", configuration_pb2.BatchTimeout(timeout=_go(batch))
    )
    if orderer_org is not None:
        _set_msp(orderer.groups[orderer_org.msp_id], orderer_org)
    header = common_pb2.ChannelHeader(type=CONFIG, version=1, channel_id=channel)
    payload = common_pb2.Payload(
        header=common_pb2.Header(
            channel_header=header.SerializeToString(),
            signature_header=common_pb2.SignatureHeader().SerializeToString(),
        ),
        data=configtx_pb2.ConfigEnvelope(config=config).SerializeToString(
            deterministic=True  # maps in a stable order: every orderer agrees
        ),
    )
    envelope = common_pb2.Envelope(payload=payload.SerializeToString())
    return new_block(0, b"", [envelope.SerializeToString()])


def channel_genesis(
    spec: NetworkSpec, channel: str, orgs: Mapping[str, Organization]
) -> Any:
    """The genesis block of a spec's channel, from its orgs' CAs (``orgs`` by name)."""
    settings = spec.channel(channel)
    members = [_org_msp(orgs[spec.org(name).name]) for name in settings.orgs]
    orderer_org = orgs.get(spec.orderer.org)
    return genesis_block(
        channel,
        members,
        settings.batch,
        _org_msp(orderer_org) if orderer_org is not None else None,
    )


def _org_msp(org: Organization) -> OrgMsp:
    return OrgMsp(
        org.msp_id,
        (org.root_ca.certificate.public_bytes(Encoding.PEM),),
        tuple(
            cert.public_bytes(Encoding.PEM) for cert in org.ca.intermediate_certificates
        ),
    )


def is_config(envelope_bytes: bytes) -> bool:
    """Whether an envelope carries a CONFIG transaction (False if it does not parse)."""
    try:
        envelope = common_pb2.Envelope.FromString(envelope_bytes)
        payload = common_pb2.Payload.FromString(envelope.payload)
        header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    except DecodeError:
        return False
    return bool(header.type == CONFIG)


def read_config(block: Any) -> Any:
    """The ``common.Config`` of a config block."""
    envelope = common_pb2.Envelope.FromString(block.data.data[0])
    payload = common_pb2.Payload.FromString(envelope.payload)
    return configtx_pb2.ConfigEnvelope.FromString(payload.data).config


def _set_msp(group: Any, org: OrgMsp) -> None:
    msp = msp_config_pb2.FabricMSPConfig(
        name=org.msp_id,
        root_certs=list(org.root_certs),
        intermediate_certs=list(org.intermediate_certs),
    )
    _set_value(
        group,
        "MSP",
        msp_config_pb2.MSPConfig(type=_FABRIC_MSP, config=msp.SerializeToString()),
    )


def _set_value(group: Any, key: str, message: Any) -> None:
    group.values[key].value = message.SerializeToString()


def _go(batch: BatchSettings) -> str:
    """A duration as Go prints it in channel configs (``2s``, ``250ms``)."""
    millis = round(batch.timeout_s * 1000)
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"
