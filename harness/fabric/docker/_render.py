"""Fabric 2.5 configuration rendered from a network spec: core.yaml per peer,
orderer.yaml per orderer, configtx.yaml, a compose file and the channel script.

Orgs stored ``hsm`` get the whole BCCSP section with ``Default: PKCS11``: Fabric
silently falls back to software keys when only environment variables are set, so
the section is always written in full. The token PIN therefore appears in the
rendered core.yaml / orderer.yaml (that is where Fabric reads it); those files are
written owner-only and the PIN is never logged.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from harness.fabric.docker._layout import (
    ADMIN_PORT,
    CHAINCODE_PORT,
    CONFIG_MOUNT,
    CRYPTO_MOUNT,
    DATA_MOUNT,
    OPERATIONS_PORT,
    ORDERER_PORT,
    PEER_PORT,
    SOFTHSM_LIBRARY,
    SOFTHSM_MOUNT,
    NodeLayout,
    admin_dir,
    in_container,
    node_layouts,
    org_folder,
)
from harness.runs import write_atomic
from harness.spec import BatchSettings, Channel, NetworkSpec, Org, PortBlock

log = logging.getLogger(__name__)

PEER_IMAGE = "hyperledger/fabric-peer:2.5"
ORDERER_IMAGE = "hyperledger/fabric-orderer:2.5"
TOOLS_IMAGE = "hyperledger/fabric-tools:2.5"
COMPOSE_FILE = "docker-compose.yaml"
CONFIGTX_DIR = "configtx"
CHANNEL_SCRIPT = "create-channels.sh"
NODES_FILE = "nodes.json"
CHAINCODE_SERVER_PORT = 9999
_KB = 1024
_MB = 1024 * 1024


@dataclass(frozen=True)
class RenderOptions:
    """Images and host paths a rendering needs beyond the spec."""

    peer_image: str = PEER_IMAGE
    orderer_image: str = ORDERER_IMAGE
    tools_image: str = TOOLS_IMAGE
    softhsm_home: Path | None = None
    softhsm_library: Path | None = None
    log_spec: str = "INFO"
    chaincode_images: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderedNetwork:
    """What :func:`render_network` wrote, by purpose."""

    root: Path
    compose_file: Path
    configtx: Path
    node_configs: dict[str, Path]
    channel_script: Path
    layouts: dict[str, NodeLayout]
    project: str


# --- BCCSP ---------------------------------------------------------------------------


def bccsp_section(spec: NetworkSpec, org: Org, *, peer: bool) -> dict[str, Any]:
    """The whole BCCSP section for a node of ``org`` (PKCS11 when its keys are in
    the HSM, SW otherwise)."""
    from harness.hsm import resolve_pin

    hsm = spec.hsm
    software = {
        "Hash": hsm.hash,
        "Security": hsm.security,
        "FileKeyStore": {"KeyStore": None},
    }
    if org.identities != "hsm":
        return {"Default": "SW", "SW": software}
    pkcs11: dict[str, Any] = {
        "Library": str(SOFTHSM_LIBRARY),
        "Label": hsm.label,
        "Pin": resolve_pin(hsm.pin),
        "Hash": hsm.hash,
        "Security": hsm.security,
        "Immutable": hsm.immutable,
    }
    if peer:
        pkcs11["SoftwareVerify"] = True
    return {"Default": "PKCS11", "SW": software, "PKCS11": pkcs11}


def _tls_files(crypto_root: Path, node: NodeLayout, stem: str) -> dict[str, str]:
    """Container paths of a node's TLS certificate, key and CA certificate."""
    tls = in_container(crypto_root, node.tls_dir)
    return {
        "cert": str(tls / f"{stem}.crt"),
        "key": str(tls / f"{stem}.key"),
        "ca": str(tls / "ca.crt"),
    }


# --- core.yaml -----------------------------------------------------------------------


def render_core(
    spec: NetworkSpec, node: NodeLayout, crypto_root: Path, options: RenderOptions
) -> dict[str, Any]:
    """A peer's core.yaml as data."""
    tls = _tls_files(crypto_root, node, "server")
    return {
        "peer": {
            "id": node.host,
            "networkId": spec.name,
            "listenAddress": f"0.0.0.0:{PEER_PORT}",
            "chaincodeListenAddress": f"0.0.0.0:{CHAINCODE_PORT}",
            "chaincodeAddress": f"{node.host}:{CHAINCODE_PORT}",
            "address": node.address,
            "addressAutoDetect": False,
            "gateway": {
                "enabled": True,
                "endorsementTimeout": "30s",
                "broadcastTimeout": "30s",
                "dialTimeout": "2m",
            },
            "keepalive": {
                "interval": "7200s",
                "timeout": "20s",
                "minInterval": "60s",
                "client": {"interval": "60s", "timeout": "20s"},
                "deliveryClient": {"interval": "60s", "timeout": "20s"},
            },
            "gossip": {
                "bootstrap": node.address,
                "endpoint": node.address,
                "externalEndpoint": node.address,
                "useLeaderElection": False,
                "orgLeader": True,
                "state": {"enabled": False},
                "pvtData": {"implicitCollectionDisseminationPolicy": {}},
            },
            "tls": {
                "enabled": True,
                "clientAuthRequired": False,
                "cert": {"file": tls["cert"]},
                "key": {"file": tls["key"]},
                "rootcert": {"file": tls["ca"]},
                "clientRootCAs": {"files": [tls["ca"]]},
            },
            "authentication": {"timewindow": "15m"},
            "fileSystemPath": str(DATA_MOUNT),
            "BCCSP": bccsp_section(spec, node.org, peer=True),
            "mspConfigPath": str(in_container(crypto_root, node.msp_dir)),
            "localMspId": node.org.msp_id,
            "localMspType": "bccsp",
            "client": {"connTimeout": "3s"},
            "deliveryclient": {
                "reconnectTotalTimeThreshold": "3600s",
                "connTimeout": "3s",
                "reConnectBackoffThreshold": "3600s",
            },
            "profile": {"enabled": False, "listenAddress": "0.0.0.0:6060"},
            "handlers": {
                "authFilters": [{"name": "DefaultAuth"}, {"name": "ExpirationCheck"}],
                "decorators": [{"name": "DefaultDecorator"}],
                "endorsers": {"escc": {"name": "DefaultEndorsement"}},
                "validators": {"vscc": {"name": "DefaultValidation"}},
            },
            "discovery": {
                "enabled": True,
                "authCacheEnabled": True,
                "authCacheMaxSize": 1000,
                "authCachePurgeRetentionRatio": 0.75,
                "orgMembersAllowedAccess": False,
            },
            "limits": {
                "concurrency": {
                    "endorserService": 2500,
                    "deliverService": 2500,
                    "gatewayService": 500,
                }
            },
        },
        # No Docker socket in the peer: chaincodes run as services (ccaas builder).
        "vm": {"endpoint": ""},
        "chaincode": {
            "id": {"path": None, "name": None},
            "pull": False,
            "installTimeout": "300s",
            "startuptimeout": "300s",
            "executetimeout": "30s",
            "mode": "net",
            "keepalive": 0,
            "system": {
                "_lifecycle": "enable",
                "cscc": "enable",
                "lscc": "enable",
                "qscc": "enable",
            },
            "externalBuilders": [
                {
                    "name": "ccaas_builder",
                    "path": "/opt/hyperledger/ccaas_builder",
                    "propagateEnvironment": ["CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG"],
                }
            ],
            "logging": {"level": "info", "shim": "warning"},
        },
        "ledger": {
            "state": {"stateDatabase": "goleveldb", "totalQueryLimit": 100000},
            "history": {"enableHistoryDatabase": True},
        },
        "operations": {
            "listenAddress": f"0.0.0.0:{OPERATIONS_PORT}",
            "tls": {"enabled": False},
        },
        "metrics": {"provider": "prometheus"},
    }


# --- orderer.yaml --------------------------------------------------------------------


def render_orderer(
    spec: NetworkSpec, node: NodeLayout, crypto_root: Path, options: RenderOptions
) -> dict[str, Any]:
    """An orderer's orderer.yaml: channel participation on, no system channel."""
    tls = _tls_files(crypto_root, node, "server")
    orderer_org = spec.org(spec.orderer.org)
    admin_ca = str(
        in_container(crypto_root, admin_dir(crypto_root, spec, orderer_org) / "tls")
        / "ca.crt"
    )
    return {
        "General": {
            "ListenAddress": "0.0.0.0",
            "ListenPort": ORDERER_PORT,
            "TLS": {
                "Enabled": True,
                "PrivateKey": tls["key"],
                "Certificate": tls["cert"],
                "RootCAs": [tls["ca"]],
                "ClientAuthRequired": False,
                "ClientRootCAs": None,
            },
            "Keepalive": {
                "ServerMinInterval": "60s",
                "ServerInterval": "7200s",
                "ServerTimeout": "20s",
            },
            "MaxRecvMsgSize": 104857600,
            "MaxSendMsgSize": 104857600,
            "Cluster": {
                "SendBufferSize": 100,
                "ClientCertificate": tls["cert"],
                "ClientPrivateKey": tls["key"],
                "ListenPort": None,
                "ListenAddress": None,
                "ServerCertificate": None,
                "ServerPrivateKey": None,
            },
            "BootstrapMethod": "none",
            "BootstrapFile": None,
            "LocalMSPDir": str(in_container(crypto_root, node.msp_dir)),
            "LocalMSPID": node.org.msp_id,
            "Profile": {"Enabled": False, "Address": "0.0.0.0:6060"},
            "BCCSP": bccsp_section(spec, node.org, peer=False),
            "Authentication": {"TimeWindow": "15m", "NoExpirationChecks": False},
        },
        "FileLedger": {"Location": f"{DATA_MOUNT}/orderer"},
        "Debug": {"BroadcastTraceDir": None, "DeliverTraceDir": None},
        "Operations": {
            "ListenAddress": f"0.0.0.0:{OPERATIONS_PORT}",
            "TLS": {"Enabled": False},
        },
        "Metrics": {"Provider": "prometheus"},
        "Admin": {
            "ListenAddress": f"0.0.0.0:{ADMIN_PORT}",
            "TLS": {
                "Enabled": True,
                "Certificate": tls["cert"],
                "PrivateKey": tls["key"],
                "RootCAs": [tls["ca"]],
                "ClientAuthRequired": True,
                "ClientRootCAs": [admin_ca],
            },
        },
        "ChannelParticipation": {"Enabled": True, "MaxRequestBodySize": "1 MB"},
        "Consensus": {
            "WALDir": f"{DATA_MOUNT}/orderer/etcdraft/wal",
            "SnapDir": f"{DATA_MOUNT}/orderer/etcdraft/snapshot",
        },
    }


# --- configtx.yaml -------------------------------------------------------------------


def _signature(rule: str) -> dict[str, str]:
    return {"Type": "Signature", "Rule": rule}


def _implicit(rule: str) -> dict[str, str]:
    return {"Type": "ImplicitMeta", "Rule": rule}


def _org_section(
    spec: NetworkSpec,
    org: Org,
    crypto_root: Path,
    layouts: Mapping[str, NodeLayout],
) -> dict[str, Any]:
    msp = org.msp_id
    section: dict[str, Any] = {
        "Name": org.name,
        "ID": msp,
        "MSPDir": str(
            in_container(crypto_root, org_folder(crypto_root, spec, org)) / "msp"
        ),
    }
    if org.name == spec.orderer.org:
        member = f"OR('{msp}.member')"
        section["Policies"] = {
            "Readers": _signature(member),
            "Writers": _signature(member),
            "Admins": _signature(f"OR('{msp}.admin')"),
            "Endorsement": _signature(member),
        }
        section["OrdererEndpoints"] = [
            layouts[node].address for node in spec.orderer.nodes
        ]
        return section
    section["Policies"] = {
        "Readers": _signature(f"OR('{msp}.admin', '{msp}.peer', '{msp}.client')"),
        "Writers": _signature(f"OR('{msp}.admin', '{msp}.client')"),
        "Admins": _signature(f"OR('{msp}.admin')"),
        "Endorsement": _signature(f"OR('{msp}.peer')"),
    }
    if org.peers:
        anchor = layouts[org.peers[0]]
        section["AnchorPeers"] = [{"Host": anchor.host, "Port": PEER_PORT}]
    return section


def format_duration(seconds: float) -> str:
    """Fabric's duration text: ``2s``, ``20ms``."""
    millis = round(seconds * 1000)
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def format_size(size: int) -> str | int:
    """Fabric's size text where exact (``99 MB``, ``512 KB``), else bytes."""
    if size % _MB == 0:
        return f"{size // _MB} MB"
    if size % _KB == 0:
        return f"{size // _KB} KB"
    return size


def batch_section(batch: BatchSettings) -> dict[str, Any]:
    return {
        "BatchTimeout": format_duration(batch.timeout_s),
        "BatchSize": {
            "MaxMessageCount": batch.max_message_count,
            "AbsoluteMaxBytes": format_size(batch.absolute_max_bytes),
            "PreferredMaxBytes": format_size(batch.preferred_max_bytes),
        },
    }


def render_configtx(
    spec: NetworkSpec, crypto_root: Path, layouts: Mapping[str, NodeLayout]
) -> dict[str, Any]:
    """configtx.yaml with one application-channel profile per spec channel."""
    orgs = {
        org.name: _org_section(spec, org, crypto_root, layouts) for org in spec.orgs
    }
    raft = spec.timing.raft
    consenters = []
    for name in spec.orderer.nodes:
        node = layouts[name]
        cert = str(in_container(crypto_root, node.tls_dir) / "server.crt")
        consenters.append(
            {
                "Host": node.host,
                "Port": ORDERER_PORT,
                "ClientTLSCert": cert,
                "ServerTLSCert": cert,
            }
        )
    capabilities = {"V2_0": True}
    application = {
        "Policies": {
            "Readers": _implicit("ANY Readers"),
            "Writers": _implicit("ANY Writers"),
            "Admins": _implicit("MAJORITY Admins"),
            "LifecycleEndorsement": _implicit("MAJORITY Endorsement"),
            "Endorsement": _implicit("MAJORITY Endorsement"),
        },
        "Capabilities": capabilities,
    }
    orderer = {
        "OrdererType": "etcdraft",
        "Addresses": [layouts[node].address for node in spec.orderer.nodes],
        "EtcdRaft": {
            "Consenters": consenters,
            "Options": {
                "TickInterval": format_duration(raft.tick_interval_s),
                "ElectionTick": raft.election_tick,
                "HeartbeatTick": raft.heartbeat_tick,
                "MaxInflightBlocks": raft.max_inflight_blocks,
                "SnapshotIntervalSize": "16 MB",
            },
        },
        **batch_section(spec.timing.batch),
        "Policies": {
            "Readers": _implicit("ANY Readers"),
            "Writers": _implicit("ANY Writers"),
            "Admins": _implicit("MAJORITY Admins"),
            "BlockValidation": _implicit("ANY Writers"),
        },
        "Capabilities": capabilities,
    }
    channel_defaults = {
        "Policies": {
            "Readers": _implicit("ANY Readers"),
            "Writers": _implicit("ANY Writers"),
            "Admins": _implicit("MAJORITY Admins"),
        },
        "Capabilities": capabilities,
    }
    profiles = {
        channel.name: _channel_profile(
            spec,
            channel=channel,
            orgs=orgs,
            defaults=channel_defaults,
            orderer=orderer,
            application=application,
        )
        for channel in spec.channels
    }
    return {
        "Organizations": list(orgs.values()),
        "Capabilities": {
            "Channel": capabilities,
            "Orderer": capabilities,
            "Application": capabilities,
        },
        "Application": {"Organizations": None, **application},
        "Orderer": {"Organizations": None, **orderer},
        "Channel": channel_defaults,
        "Profiles": profiles,
    }


def _channel_profile(
    spec: NetworkSpec,
    *,
    channel: Channel,
    orgs: Mapping[str, dict[str, Any]],
    defaults: dict[str, Any],
    orderer: dict[str, Any],
    application: dict[str, Any],
) -> dict[str, Any]:
    return {
        **defaults,
        "Orderer": {
            **orderer,
            **batch_section(channel.batch),
            "Organizations": [orgs[spec.orderer.org]],
        },
        "Application": {
            **application,
            "Organizations": [orgs[name] for name in channel.orgs],
        },
    }


# --- compose -------------------------------------------------------------------------


def _node_service(
    spec: NetworkSpec,
    node: NodeLayout,
    config_dir: Path,
    crypto_root: Path,
    options: RenderOptions,
) -> dict[str, Any]:
    is_peer = node.kind == "peer"
    extra = CHAINCODE_PORT if is_peer else ADMIN_PORT
    listen = PEER_PORT if is_peer else ORDERER_PORT
    environment = {
        "FABRIC_CFG_PATH": str(CONFIG_MOUNT),
        "FABRIC_LOGGING_SPEC": options.log_spec,
    }
    if is_peer:
        environment |= {
            "CORE_PEER_ID": node.host,
            "CORE_PEER_ADDRESS": node.address,
            "CORE_PEER_LOCALMSPID": node.org.msp_id,
            "CORE_PEER_MSPCONFIGPATH": str(in_container(crypto_root, node.msp_dir)),
            "CORE_OPERATIONS_LISTENADDRESS": f"0.0.0.0:{OPERATIONS_PORT}",
        }
    else:
        environment |= {
            "ORDERER_GENERAL_LOCALMSPID": node.org.msp_id,
            "ORDERER_OPERATIONS_LISTENADDRESS": f"0.0.0.0:{OPERATIONS_PORT}",
        }
    volumes = [
        f"{config_dir}:{CONFIG_MOUNT}:ro",
        f"{crypto_root}:{CRYPTO_MOUNT}:ro",
        f"{_volume_name(node)}:{DATA_MOUNT}",
    ]
    if node.org.identities == "hsm":
        environment["SOFTHSM2_CONF"] = str(CONFIG_MOUNT / "softhsm2.conf")
        volumes += _softhsm_volumes(options)
    return {
        "image": options.peer_image if is_peer else options.orderer_image,
        "container_name": node.host,
        "hostname": node.host,
        "command": "peer node start" if is_peer else "orderer",
        "environment": environment,
        "ports": [
            f"127.0.0.1:{node.listen_port}:{listen}",
            f"127.0.0.1:{node.operations_port}:{OPERATIONS_PORT}",
            f"127.0.0.1:{node.extra_port}:{extra}",
        ],
        "volumes": volumes,
        "networks": ["fabric"],
        "labels": {"harness.network": spec.name, "harness.node": node.name},
    }


def _softhsm_volumes(options: RenderOptions) -> list[str]:
    from harness.hsm import find_library

    library = options.softhsm_library or find_library()
    volumes = [f"{library}:{SOFTHSM_LIBRARY}:ro"]
    if options.softhsm_home is not None:
        volumes.append(f"{options.softhsm_home / 'tokens'}:{SOFTHSM_MOUNT}/tokens")
    return volumes


def _volume_name(node: NodeLayout) -> str:
    return "data-" + node.host.replace(".", "-")


def _chaincode_services(
    spec: NetworkSpec, options: RenderOptions
) -> dict[str, dict[str, Any]]:
    """One chaincode-as-a-service container per chaincode, named ``ccaas-<name>``.

    TODO(fabric-ccaas): the image serving a harness chaincode over Fabric's
    chaincode shim protocol does not exist yet; ``chaincode_images`` names one.
    """
    services: dict[str, dict[str, Any]] = {}
    for chaincode in spec.chaincodes:
        name = chaincode_service(chaincode.name)
        image = options.chaincode_images.get(
            chaincode.name, f"harness/chaincode-{chaincode.implementation}:latest"
        )
        services[name] = {
            "image": image,
            "container_name": name,
            "hostname": name,
            "environment": {
                "CHAINCODE_SERVER_ADDRESS": f"0.0.0.0:{CHAINCODE_SERVER_PORT}",
                "CHAINCODE_ID": "${CHAINCODE_ID_" + _env_key(chaincode.name) + ":-}",
            },
            "networks": ["fabric"],
            "labels": {
                "harness.network": spec.name,
                "harness.chaincode": chaincode.name,
            },
            "profiles": ["chaincode"],
        }
    return services


def chaincode_service(name: str) -> str:
    return f"ccaas-{name}"


def _env_key(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).upper()


def render_compose(
    spec: NetworkSpec,
    layouts: Mapping[str, NodeLayout],
    root: Path,
    crypto_root: Path,
    options: RenderOptions,
) -> dict[str, Any]:
    """The compose file: every node, the chaincode services and a tools container."""
    services = {
        layout.host: _node_service(
            spec, layout, root / "nodes" / layout.name, crypto_root, options
        )
        for layout in layouts.values()
    }
    services |= _chaincode_services(spec, options)
    tools_volumes = [
        f"{crypto_root}:{CRYPTO_MOUNT}:ro",
        f"{root / CONFIGTX_DIR}:{CONFIG_MOUNT}/configtx",
        f"{root / 'channel-artifacts'}:/var/hyperledger/channel-artifacts",
    ]
    tools_environment = {"FABRIC_CFG_PATH": f"{CONFIG_MOUNT}/configtx"}
    if any(org.identities == "hsm" for org in spec.orgs):
        tools_environment["SOFTHSM2_CONF"] = f"{CONFIG_MOUNT}/configtx/softhsm2.conf"
        tools_volumes += _softhsm_volumes(options)
    services["tools"] = {
        "image": options.tools_image,
        "container_name": f"tools-{spec.name}",
        "command": "sleep infinity",
        "environment": tools_environment,
        "volumes": tools_volumes,
        "networks": ["fabric"],
        "labels": {"harness.network": spec.name, "harness.node": "tools"},
        "profiles": ["tools"],
    }
    return {
        "name": project_name(spec),
        "services": services,
        "networks": {"fabric": {"name": f"harness-{spec.name}"}},
        "volumes": {_volume_name(layout): {} for layout in layouts.values()},
    }


def project_name(spec: NetworkSpec) -> str:
    return f"harness-{spec.name}".lower()


# --- channel script ------------------------------------------------------------------


def render_channel_script(
    spec: NetworkSpec, layouts: Mapping[str, NodeLayout], crypto_root: Path
) -> str:
    """A shell script for the tools container: a genesis block per channel from
    configtx.yaml, then each orderer joins it through the channel participation API."""
    orderer_org = spec.org(spec.orderer.org)
    admin_tls = in_container(crypto_root, admin_dir(crypto_root, spec, orderer_org))
    lines = [
        "#!/bin/sh",
        "# Rendered by harness.fabric.docker; runs inside the tools container.",
        "set -eu",
        "ARTIFACTS=/var/hyperledger/channel-artifacts",
        f"CONFIG={CONFIG_MOUNT}/configtx",
    ]
    for channel in spec.channels:
        block = f"$ARTIFACTS/{channel.name}.block"
        lines.append(
            f"configtxgen -configPath $CONFIG -profile {channel.name}"
            f" -channelID {channel.name} -outputBlock {block}"
        )
        for name in spec.orderer.nodes:
            node = layouts[name]
            ca = in_container(crypto_root, node.tls_dir) / "ca.crt"
            lines.append(
                f"osnadmin channel join --channelID {channel.name}"
                f" --config-block {block} -o {node.host}:{ADMIN_PORT}"
                f" --ca-file {ca} --client-cert {admin_tls}/tls/client.crt"
                f" --client-key {admin_tls}/tls/client.key"
            )
        for org_name in channel.orgs:
            org = spec.org(org_name)
            admin_msp = in_container(crypto_root, admin_dir(crypto_root, spec, org))
            for peer in org.peers:
                node = layouts[peer]
                ca = in_container(crypto_root, node.tls_dir) / "ca.crt"
                lines.append(
                    f"FABRIC_CFG_PATH=$CONFIG/{org.name}"
                    f" CORE_PEER_LOCALMSPID={org.msp_id}"
                    f" CORE_PEER_MSPCONFIGPATH={admin_msp}/msp"
                    f" CORE_PEER_ADDRESS={node.address}"
                    f" CORE_PEER_TLS_ENABLED=true CORE_PEER_TLS_ROOTCERT_FILE={ca}"
                    f" peer channel join -b {block}"
                )
    return "\n".join(lines) + "\n"


def render_admin_core(spec: NetworkSpec, org: Org) -> dict[str, Any]:
    """The core.yaml the tools container's peer CLI uses as ``org``'s Admin: the
    BCCSP section decides whether the Admin signs on the token."""
    return {
        "peer": {
            "BCCSP": bccsp_section(spec, org, peer=True),
            "localMspType": "bccsp",
            "client": {"connTimeout": "3s"},
            "tls": {"enabled": True},
        }
    }


# --- writing -------------------------------------------------------------------------


class _NoAliases(yaml.SafeDumper):
    """Fabric's YAML readers accept anchors, but a reader of the files should not
    have to follow them: every section is written out in full."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_NoAliases, sort_keys=False, width=100)


def _softhsm_conf() -> str:
    return (
        f"directories.tokendir = {SOFTHSM_MOUNT}/tokens\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )


def _write_secret(path: Path, text: str) -> None:
    """A file that may hold the token PIN: owner-only from the start."""
    write_atomic(path, text)
    os.chmod(path, 0o600)


def render_network(
    spec: NetworkSpec,
    root: Path,
    crypto_root: Path,
    ports: PortBlock,
    options: RenderOptions | None = None,
) -> RenderedNetwork:
    """Write every config of ``spec`` under ``root``; return where they are."""
    options = options or RenderOptions()
    crypto_root = crypto_root.resolve()
    root = root.resolve()
    layouts = node_layouts(spec, crypto_root, ports)
    node_configs: dict[str, Path] = {}
    for layout in layouts.values():
        folder = root / "nodes" / layout.name
        if layout.kind == "peer":
            data = render_core(spec, layout, crypto_root, options)
            target = folder / "core.yaml"
        else:
            data = render_orderer(spec, layout, crypto_root, options)
            target = folder / "orderer.yaml"
        _write_secret(target, to_yaml(data))
        if layout.org.identities == "hsm":
            write_atomic(folder / "softhsm2.conf", _softhsm_conf())
        node_configs[layout.name] = target
    configtx = root / CONFIGTX_DIR / "configtx.yaml"
    write_atomic(configtx, to_yaml(render_configtx(spec, crypto_root, layouts)))
    for org in spec.orgs:
        admin_core = root / CONFIGTX_DIR / org.name / "core.yaml"
        _write_secret(admin_core, to_yaml(render_admin_core(spec, org)))
    if any(org.identities == "hsm" for org in spec.orgs):
        write_atomic(root / CONFIGTX_DIR / "softhsm2.conf", _softhsm_conf())
    (root / "channel-artifacts").mkdir(parents=True, exist_ok=True)
    compose = root / COMPOSE_FILE
    write_atomic(
        compose, to_yaml(render_compose(spec, layouts, root, crypto_root, options))
    )
    script = root / CONFIGTX_DIR / CHANNEL_SCRIPT
    write_atomic(script, render_channel_script(spec, layouts, crypto_root))
    script.chmod(0o755)
    _write_chaincode_packages(spec, root)
    nodes = [
        {
            "name": layout.name,
            "host": layout.host,
            "kind": layout.kind,
            "listen_port": layout.listen_port,
            "operations_port": layout.operations_port,
        }
        for layout in layouts.values()
    ]
    write_atomic(root / NODES_FILE, json.dumps(nodes, indent=2) + "\n")
    log.info(
        "rendered %s for Docker: %d nodes, %d channels in %s",
        spec.name,
        len(layouts),
        len(spec.channels),
        root,
    )
    return RenderedNetwork(
        root=root,
        compose_file=compose,
        configtx=configtx,
        node_configs=node_configs,
        channel_script=script,
        layouts=layouts,
        project=project_name(spec),
    )


def _write_chaincode_packages(spec: NetworkSpec, root: Path) -> None:
    """connection.json and metadata.json of each chaincode-as-a-service package."""
    for chaincode in spec.chaincodes:
        folder = root / "chaincode" / chaincode.name
        connection = {
            "address": f"{chaincode_service(chaincode.name)}:{CHAINCODE_SERVER_PORT}",
            "dial_timeout": "10s",
            "tls_required": False,
        }
        metadata = {"type": "ccaas", "label": f"{chaincode.name}_{chaincode.version}"}
        write_atomic(folder / "connection.json", json.dumps(connection, indent=2))
        write_atomic(folder / "metadata.json", json.dumps(metadata, indent=2))


def container_path_to_host(
    service: Mapping[str, Any], container_path: str | PurePosixPath
) -> Path | None:
    """The host path a compose service's bind mounts put at ``container_path``."""
    wanted = PurePosixPath(container_path)
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        target = PurePosixPath(rest.split(":")[0])
        if not source.startswith("/"):
            continue
        if wanted == target or target in wanted.parents:
            return Path(source) / wanted.relative_to(target)
    return None
