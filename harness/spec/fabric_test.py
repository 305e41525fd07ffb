"""Import a fabric-test ``regression/hsm``-style config folder as a network spec.

The folder holds core.yaml, orderer.yaml, configtx.yaml and the fabric-ca server
and client configs. What the spec takes from them:

- orgs, MSP ids, anchor peers and Raft consenters: configtx.yaml (the one profile
  with an Application section, or the one named);
- the channel's batch settings: that profile's Orderer section;
- where identities live: each BCCSP section; ``Default: PKCS11`` makes the org's
  identities ``hsm``, and the token label, PIN, hash, security level and
  Immutable flag go to the spec's ``hsm`` section (one token per run, so every
  file must name the same label).

The channel name is not in these files (the regression's createChannel.sh passes
``mychannel``); users and the chaincode follow the regression's scripts (``admin``
and ``user1`` per peer org, one chaincode with the channel's default endorsement).
Anything that cannot be mapped raises :class:`FabricTestImportError`, one line
naming the file, the key path, what is wrong and what to do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.spec._loader import parse_spec
from harness.spec._model import NetworkSpec

log = logging.getLogger(__name__)

FILES = (
    "core.yaml",
    "orderer.yaml",
    "configtx.yaml",
    "fabric-ca-server-config.yaml",
    "fabric-ca-client-config.yaml",
)
DEFAULT_CHANNEL = "mychannel"
_BCCSP_DEFAULTS = ("PKCS11", "SW")
_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class FabricTestImportError(ConfigError):
    """A fabric-test config cannot be mapped to a network spec."""

    def __init__(self, source: Path | str, key_path: str, problem: str, todo: str):
        where = f"{source}: {key_path}" if key_path else str(source)
        super().__init__(f"{where}: {problem}", hint=todo)
        self.source = str(source)
        self.key_path = key_path


@dataclass(frozen=True)
class Pkcs11:
    """One BCCSP PKCS11 section, normalised; ``where`` names it for errors."""

    label: str
    pin: str
    hash: str
    security: int
    immutable: bool
    path: Path
    key: str

    @property
    def where(self) -> str:
        return f"{self.path.name}: {self.key}"


@dataclass(frozen=True)
class ImportResult:
    spec: NetworkSpec
    data: dict[str, Any]
    profile: str
    folder: Path


def config_folder(folder: Path) -> Path:
    """``folder`` itself, or its ``config/`` (fabric-test's regression/hsm layout)."""
    if not (folder / "configtx.yaml").is_file() and (folder / "config").is_dir():
        return folder / "config"
    return folder


def import_fabric_test(
    folder: Path,
    *,
    channel: str = DEFAULT_CHANNEL,
    profile: str | None = None,
    name: str | None = None,
) -> ImportResult:
    """Read the config folder and return the equivalent, validated network spec."""
    root = config_folder(folder)
    if not root.is_dir():
        raise FabricTestImportError(
            folder, "", "is not a folder", "pass a regression/hsm config folder"
        )
    files = {file: _read(root / file) for file in FILES}
    configtx = files["configtx.yaml"]
    profile_name, profile_data = _profile(root / "configtx.yaml", configtx, profile)
    where = f"Profiles.{profile_name}"

    peer_hsm = _node_bccsp(root / "core.yaml", files["core.yaml"], "peer.BCCSP")
    orderer_hsm = _node_bccsp(
        root / "orderer.yaml", files["orderer.yaml"], "General.BCCSP"
    )
    ca_hsm = [
        _ca_bccsp(root / file, files[file])
        for file in ("fabric-ca-server-config.yaml", "fabric-ca-client-config.yaml")
    ]
    hsm = _one_token([peer_hsm, orderer_hsm, *ca_hsm])

    orderer_section = _mapping(root / "configtx.yaml", profile_data, "Orderer", where)
    orderer_org, nodes = _orderer(root / "configtx.yaml", orderer_section, where)
    app = _mapping(root / "configtx.yaml", profile_data, "Application", where)
    peer_orgs = _orgs(root / "configtx.yaml", app, f"{where}.Application")
    orgs = [
        _org(orderer_org, [], orderer_hsm is not None),
        *(_org(org, _anchor_peers(org), peer_hsm is not None) for org in peer_orgs),
    ]
    data: dict[str, Any] = {
        "name": name or _default_name(folder),
        "timing": "realistic",
    }
    if hsm is not None:
        data["hsm"] = _hsm_section(hsm)
    data |= {
        "orgs": orgs,
        "orderer": {
            "org": orgs[0]["name"],
            "consensus": "etcdraft",
            "nodes": nodes,
        },
        "channels": [
            {
                "name": channel,
                "orgs": [org["name"] for org in orgs[1:]],
                "batch": _batch(root / "configtx.yaml", orderer_section, where),
            }
        ],
        "chaincodes": [
            {
                "name": "basic",
                "implementation": "kvstore",
                "endorsement_policy": _endorsement(app),
            }
        ],
        "users": [
            {"name": user, "org": org["name"], "role": role}
            for org in orgs[1:]
            for user, role in (("admin", "admin"), ("user1", "client"))
        ],
        "ports": {"base": 24000, "block_size": 40, "per_worker": 400},
    }
    spec = parse_spec(data, f"{root} (imported)")
    log.info(
        "imported %s: %d orgs, %d orderers, channel %s, identities %s",
        root,
        len(orgs),
        len(nodes),
        channel,
        "hsm" if hsm is not None else "files",
    )
    return ImportResult(spec=spec, data=data, profile=profile_name, folder=root)


def write_imported(result: ImportResult, out: Path) -> Path:
    """The imported spec as a commented YAML file at ``out``."""
    from harness.runs import write_atomic

    header = (
        f"# Imported from {result.folder} (configtx profile {result.profile})\n"
        "# by 'harness import fabric-test'.\n"
    )
    write_atomic(out, header + yaml.safe_dump(result.data, sort_keys=False))
    return out


# --- files ---------------------------------------------------------------------------


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FabricTestImportError(
            path,
            "",
            "is missing",
            f"a regression/hsm config folder holds {', '.join(FILES)}",
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark is not None else ""
        raise FabricTestImportError(
            path, line, "is not valid YAML", "fix the YAML syntax"
        ) from None
    if not isinstance(data, dict):
        raise FabricTestImportError(
            path, "", "does not hold a mapping", "check that it is the right file"
        )
    return data


def _get(data: Mapping[str, Any], dotted: str) -> Any:
    value: Any = data
    for key in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = _lookup(value, key)
    return value


def _lookup(data: Mapping[str, Any], key: str) -> Any:
    """Fabric's config keys are case-insensitive (viper)."""
    if key in data:
        return data[key]
    lowered = key.lower()
    for found, value in data.items():
        if isinstance(found, str) and found.lower() == lowered:
            return value
    return None


def _mapping(
    path: Path, data: Mapping[str, Any], key: str, where: str
) -> Mapping[str, Any]:
    value = _lookup(data, key)
    if not isinstance(value, Mapping):
        raise FabricTestImportError(
            path, f"{where}.{key}", "is missing or not a mapping", "add that section"
        )
    return value


# --- BCCSP ---------------------------------------------------------------------------


def _node_bccsp(path: Path, data: Mapping[str, Any], key: str) -> Pkcs11 | None:
    section = _get(data, key)
    if not isinstance(section, Mapping):
        raise FabricTestImportError(
            path,
            key,
            "is missing",
            "write the whole BCCSP section (env variables alone fall back to SW)",
        )
    return _bccsp(path, section, key)


def _ca_bccsp(path: Path, data: Mapping[str, Any]) -> Pkcs11 | None:
    section = _get(data, "bccsp")
    if section is None:
        return None  # fabric-ca then uses software keys for its own use only
    if not isinstance(section, Mapping):
        raise FabricTestImportError(path, "bccsp", "is not a mapping", "fix it")
    return _bccsp(path, section, "bccsp")


def _bccsp(path: Path, section: Mapping[str, Any], key: str) -> Pkcs11 | None:
    default = str(_lookup(section, "Default") or "SW").upper()
    if default not in _BCCSP_DEFAULTS:
        raise FabricTestImportError(
            path,
            f"{key}.Default",
            f"{default!r} cannot be mapped (the harness knows PKCS11 and SW)",
            "set Default: PKCS11 for HSM identities or SW for file keys",
        )
    if default == "SW":
        return None
    pkcs11 = _lookup(section, "PKCS11")
    where = f"{key}.PKCS11"
    if not isinstance(pkcs11, Mapping):
        raise FabricTestImportError(
            path,
            where,
            "is missing while Default is PKCS11",
            "add a PKCS11 section with Library, Label, Pin, Hash and Security",
        )
    label = _lookup(pkcs11, "Label")
    if not label:
        raise FabricTestImportError(
            path,
            f"{where}.Label",
            "is missing",
            "Fabric finds the token by label, never by slot: add Label: ForFabric",
        )
    pin = _lookup(pkcs11, "Pin")
    if pin is None or pin == "":
        raise FabricTestImportError(
            path, f"{where}.Pin", "is missing", "add the token's user PIN"
        )
    return Pkcs11(
        label=str(label),
        pin=str(pin),
        hash=_hash(path, pkcs11, where),
        security=_security(path, pkcs11, where),
        immutable=_immutable(path, pkcs11, where),
        path=path,
        key=where,
    )


def _hash(path: Path, section: Mapping[str, Any], where: str) -> str:
    value = str(_lookup(section, "Hash") or "SHA2").upper()
    if value not in ("SHA2", "SHA3"):
        raise FabricTestImportError(
            path, f"{where}.Hash", f"{value!r} is not SHA2 or SHA3", "use Hash: SHA2"
        )
    return value


def _security(path: Path, section: Mapping[str, Any], where: str) -> int:
    value = _lookup(section, "Security")
    if value is None:
        return 256
    if value not in (256, 384):
        raise FabricTestImportError(
            path,
            f"{where}.Security",
            f"{value!r} is not 256 or 384",
            "use Security: 256 (P-256) or 384 (P-384)",
        )
    return int(value)


def _immutable(path: Path, section: Mapping[str, Any], where: str) -> bool:
    value = _lookup(section, "Immutable")
    if value is None:
        return False
    if not isinstance(value, bool):
        raise FabricTestImportError(
            path, f"{where}.Immutable", f"{value!r} is not true or false", "fix it"
        )
    return value


def _one_token(sections: list[Pkcs11 | None]) -> Pkcs11 | None:
    found = [section for section in sections if section is not None]
    if not found:
        return None
    first = found[0]
    for other in found[1:]:
        for attribute in ("label", "pin"):
            if getattr(other, attribute) != getattr(first, attribute):
                shown = (
                    f"{first.label!r} vs {other.label!r}"
                    if attribute == "label"
                    else "two different PINs"
                )
                raise FabricTestImportError(
                    other.path,
                    other.key,
                    f"{attribute} differs from {first.where} ({shown})",
                    "the harness keeps one token per run: use one label and PIN",
                )
    return first


def _hsm_section(hsm: Pkcs11) -> dict[str, Any]:
    from harness.hsm import DEFAULT_PIN

    section: dict[str, Any] = {"label": hsm.label}
    if hsm.pin != DEFAULT_PIN:
        section["pin"] = hsm.pin
    section |= {
        "hash": hsm.hash,
        "security": hsm.security,
        "immutable": hsm.immutable,
    }
    return section


# --- configtx ------------------------------------------------------------------------


def _profile(
    path: Path, configtx: Mapping[str, Any], wanted: str | None
) -> tuple[str, Mapping[str, Any]]:
    profiles = _lookup(configtx, "Profiles")
    if not isinstance(profiles, Mapping) or not profiles:
        raise FabricTestImportError(
            path, "Profiles", "is missing or empty", "add the channel's profile"
        )
    if wanted is not None:
        if wanted not in profiles:
            raise FabricTestImportError(
                path,
                f"Profiles.{wanted}",
                "does not exist",
                f"choose one of {', '.join(map(str, profiles))}",
            )
        return wanted, profiles[wanted]
    channel_profiles = [
        (str(name), body)
        for name, body in profiles.items()
        if isinstance(body, Mapping)
        and isinstance(_lookup(body, "Application"), Mapping)
    ]
    if len(channel_profiles) != 1:
        names = ", ".join(name for name, _ in channel_profiles) or "none"
        raise FabricTestImportError(
            path,
            "Profiles",
            f"{len(channel_profiles)} profiles have an Application section ({names})",
            "name the channel's profile with --profile",
        )
    name, body = channel_profiles[0]
    if not isinstance(_lookup(body, "Orderer"), Mapping):
        raise FabricTestImportError(
            path,
            f"Profiles.{name}.Orderer",
            "is missing: a system-channel-less profile carries its Orderer section",
            "add Orderer: *OrdererDefaults with the orderer org",
        )
    return name, body


def _orderer(
    path: Path, orderer: Mapping[str, Any], where: str
) -> tuple[Mapping[str, Any], list[str]]:
    kind = str(_lookup(orderer, "OrdererType") or "")
    if kind != "etcdraft":
        raise FabricTestImportError(
            path,
            f"{where}.Orderer.OrdererType",
            f"{kind or 'nothing'!r} cannot be mapped: the harness orders with Raft",
            "set OrdererType: etcdraft with the orderer as its one consenter",
        )
    consenters = _get(orderer, "EtcdRaft.Consenters")
    if not isinstance(consenters, list) or not consenters:
        raise FabricTestImportError(
            path,
            f"{where}.Orderer.EtcdRaft.Consenters",
            "lists no consenter",
            "list each orderer node with Host and Port",
        )
    nodes = [_node_name(str(_lookup(c, "Host"))) for c in consenters]
    orgs = _orgs(path, orderer, f"{where}.Orderer")
    if len(orgs) != 1:
        raise FabricTestImportError(
            path,
            f"{where}.Orderer.Organizations",
            f"lists {len(orgs)} orderer orgs",
            "the harness runs one orderer org: list exactly one",
        )
    return orgs[0], nodes


def _orgs(
    path: Path, section: Mapping[str, Any], where: str
) -> list[Mapping[str, Any]]:
    orgs = _lookup(section, "Organizations")
    if not isinstance(orgs, list) or not orgs:
        raise FabricTestImportError(
            path,
            f"{where}.Organizations",
            "lists no organisation",
            "list the orgs (e.g. - *Org1)",
        )
    for index, org in enumerate(orgs):
        if not isinstance(org, Mapping) or not _lookup(org, "ID"):
            raise FabricTestImportError(
                path,
                f"{where}.Organizations[{index}].ID",
                "is missing",
                "give every organisation its MSP ID",
            )
    return orgs


def _org(org: Mapping[str, Any], peers: list[str], in_hsm: bool) -> dict[str, Any]:
    msp_id = str(_lookup(org, "ID"))
    name = _NAME.sub("-", str(_lookup(org, "Name") or msp_id))
    entry: dict[str, Any] = {
        "name": name,
        "msp_id": msp_id,
        "ca": f"ca.{name}",
        "identities": "hsm" if in_hsm else "files",
    }
    if peers:
        entry["peers"] = peers
    return entry


def _anchor_peers(org: Mapping[str, Any]) -> list[str]:
    anchors = _lookup(org, "AnchorPeers") or []
    return [_node_name(str(_lookup(anchor, "Host"))) for anchor in anchors]


def _node_name(host: str) -> str:
    """``peer0.org1`` for ``peer0.org1.example.com``: the harness adds the domain."""
    labels = host.split(".")
    return ".".join(labels[:-2]) if len(labels) > 2 else host


def _batch(path: Path, orderer: Mapping[str, Any], where: str) -> dict[str, Any]:
    batch: dict[str, Any] = {}
    timeout = _lookup(orderer, "BatchTimeout")
    if timeout is not None:
        batch["timeout"] = str(timeout)
    size = _lookup(orderer, "BatchSize") or {}
    if not isinstance(size, Mapping):
        raise FabricTestImportError(
            path, f"{where}.Orderer.BatchSize", "is not a mapping", "fix it"
        )
    for key, target in (
        ("MaxMessageCount", "max_message_count"),
        ("AbsoluteMaxBytes", "absolute_max_bytes"),
        ("PreferredMaxBytes", "preferred_max_bytes"),
    ):
        value = _lookup(size, key)
        if value is not None:
            batch[target] = value
    return batch


def _endorsement(application: Mapping[str, Any]) -> str:
    """The channel's default endorsement rule when it is implicit-meta."""
    policy = _get(application, "Policies.Endorsement")
    if isinstance(policy, Mapping) and _lookup(policy, "Type") == "ImplicitMeta":
        return str(_lookup(policy, "Rule"))
    return "MAJORITY Endorsement"


def _default_name(folder: Path) -> str:
    base = folder.resolve()
    if base.name == "config":
        base = base.parent
    return _NAME.sub("-", base.name).strip("-.") or "fabric-test"
