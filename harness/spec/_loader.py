"""Load a network spec from YAML and validate every key before anything starts."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml

from harness.fabric.sim._policy import (
    META_RULES,
    ImplicitMeta,
    PolicyError,
    parse_policy,
    principals_of,
)
from harness.spec._errors import SpecError, closest
from harness.spec._model import (
    HSM_SECURITY_LEVELS,
    RAFT_SIZES,
    BatchSettings,
    Chaincode,
    Channel,
    Consensus,
    HashFamily,
    HsmSettings,
    IdentityStore,
    NetworkSpec,
    OrdererService,
    Org,
    PortSettings,
    TimingProfile,
    User,
    UserRole,
)
from harness.spec._ports import EPHEMERAL_HIGH, EPHEMERAL_LOW, in_ephemeral_range
from harness.spec._timing import PROFILES

log = logging.getLogger(__name__)

T = TypeVar("T")

NETWORKS_DIR = Path(__file__).resolve().parents[2] / "networks"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CHANNEL = re.compile(r"^[a-z][a-z0-9.-]*$")  # Fabric's channel name rule
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|MB|GB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0}

TOP_KEYS = (
    "name",
    "timing",
    "hsm",
    "orgs",
    "orderer",
    "channels",
    "chaincodes",
    "users",
    "ports",
)
ORG_KEYS = ("name", "msp_id", "ca", "identities", "peers")
ORDERER_KEYS = ("org", "consensus", "nodes")
CHANNEL_KEYS = ("name", "orgs", "batch")
BATCH_KEYS = (
    "timeout",
    "max_message_count",
    "absolute_max_bytes",
    "preferred_max_bytes",
)
CHAINCODE_KEYS = ("name", "implementation", "endorsement_policy", "channels", "version")
USER_KEYS = ("name", "org", "role")
PORT_KEYS = ("base", "block_size", "per_worker")
HSM_KEYS = ("label", "pin", "hash", "security", "immutable")
HASH_FAMILIES = ("SHA2", "SHA3")
IDENTITY_STORES = ("hsm", "files")
USER_ROLES = ("client", "admin")
CONSENSUS = ("etcdraft",)


class _Node:
    """A value in the YAML tree with its key path, for precise errors."""

    def __init__(self, source: str, path: str, value: Any) -> None:
        self.source = source
        self.path = path
        self.value = value

    def error(self, problem: str, **kwargs: Any) -> SpecError:
        return SpecError(self.source, self.path, problem, **kwargs)

    def child(self, key: str | int) -> _Node:
        if isinstance(key, int):
            path = f"{self.path}[{key}]"
            return _Node(self.source, path, self.value[key])
        path = f"{self.path}.{key}" if self.path else key
        return _Node(self.source, path, self.value.get(key))

    def mapping(self, allowed: Sequence[str], required: Sequence[str] = ()) -> _Node:
        if not isinstance(self.value, Mapping):
            raise self.error(f"expected a mapping, got {_kind(self.value)}")
        for key in self.value:
            if not isinstance(key, str) or key not in allowed:
                guess = closest(str(key), allowed)
                raise self.error(
                    f"unknown key {key!r}", allowed=allowed, suggestion=guess
                )
        for key in required:
            if key not in self.value:
                raise self.error(f"missing required key {key!r}")
        return self

    def has(self, key: str) -> bool:
        return isinstance(self.value, Mapping) and key in self.value

    def items(self) -> list[_Node]:
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, got {_kind(self.value)}")
        return [self.child(index) for index in range(len(self.value))]

    def string(self, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        if not isinstance(self.value, str) or not self.value:
            raise self.error(f"expected a non-empty string, got {_kind(self.value)}")
        if pattern is not None and not pattern.match(self.value):
            raise self.error(f"{self.value!r} is not a valid {what}")
        return self.value

    def choice(self, allowed: Sequence[str]) -> str:
        value = self.value
        if not isinstance(value, str) or value not in allowed:
            guess = closest(str(value), allowed) if isinstance(value, str) else None
            raise self.error(
                f"{value!r} is not allowed", allowed=allowed, suggestion=guess
            )
        return value

    def integer(self, low: int, high: int | None = None) -> int:
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"expected an integer, got {_kind(value)}")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            raise self.error(f"{value} is out of range; it must be {bound}")
        return value

    def names(self, pattern: re.Pattern[str] = _NAME) -> tuple[str, ...]:
        result: list[str] = []
        for item in self.items():
            name = item.string(pattern, "name")
            if name in result:
                raise item.error(f"{name!r} is listed twice")
            result.append(name)
        return tuple(result)

    def duration(self) -> float:
        value = self.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        else:
            match = _DURATION.match(value) if isinstance(value, str) else None
            if match is None:
                raise self.error(f"{value!r} is not a duration like 2s, 250ms or 0.5")
            seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]
        if seconds <= 0:
            raise self.error(f"{value!r} must be longer than zero")
        return seconds

    def size(self) -> int:
        value = self.value
        if isinstance(value, int) and not isinstance(value, bool):
            size = value
        else:
            match = _SIZE.match(value) if isinstance(value, str) else None
            if match is None:
                raise self.error(
                    f"{value!r} is not a size like 512 KB, 10 MB or 1048576"
                )
            size = int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]
        if size <= 0:
            raise self.error(f"{value!r} must be larger than zero")
        return size


YamlNode = _Node  # public name: scenario and benchmark files validate the same way


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _optional(node: _Node, key: str, read: Callable[[_Node], T], default: T) -> T:
    return read(node.child(key)) if node.has(key) else default


def _resolve_ref(node: _Node, name: str, known: Mapping[str, str], what: str) -> str:
    """An org/channel reference by name (or MSP id) -> the canonical name."""
    if name in known:
        return known[name]
    raise node.error(
        f"unknown {what} {name!r}",
        allowed=sorted(set(known.values())),
        suggestion=closest(name, known),
    )


# --- sections --------------------------------------------------------------------


def _orgs(root: _Node) -> tuple[Org, ...]:
    orgs: list[Org] = []
    seen: dict[str, str] = {}
    for node in root.child("orgs").items():
        node.mapping(ORG_KEYS, required=("name", "msp_id", "ca"))
        org = Org(
            name=node.child("name").string(_NAME, "org name"),
            msp_id=node.child("msp_id").string(_NAME, "MSP id"),
            ca=node.child("ca").string(_NAME, "CA name"),
            identities=cast(
                IdentityStore,
                _optional(
                    node, "identities", lambda n: n.choice(IDENTITY_STORES), "hsm"
                ),
            ),
            peers=_optional(node, "peers", _Node.names, ()),
        )
        for label in (org.name, org.msp_id):
            if label in seen and seen[label] != org.name:
                raise node.error(f"{label!r} is already used by org {seen[label]!r}")
        seen[org.name] = seen[org.msp_id] = org.name
        orgs.append(org)
    if not orgs:
        raise root.child("orgs").error("a network needs at least one org")
    return tuple(orgs)


def _orderer(root: _Node, orgs: Mapping[str, str]) -> OrdererService:
    node = root.child("orderer").mapping(ORDERER_KEYS, required=("org", "nodes"))
    org_node = node.child("org")
    nodes_node = node.child("nodes")
    nodes = nodes_node.names()
    if len(nodes) not in RAFT_SIZES:
        raise nodes_node.error(
            f"a Raft cluster has 1, 3 or 5 nodes, not {len(nodes)}",
            allowed=[str(size) for size in RAFT_SIZES],
        )
    return OrdererService(
        org=_resolve_ref(org_node, org_node.string(), orgs, "org"),
        consensus=cast(
            Consensus,
            _optional(node, "consensus", lambda n: n.choice(CONSENSUS), "etcdraft"),
        ),
        nodes=nodes,
    )


def _batch(node: _Node, defaults: BatchSettings) -> BatchSettings:
    node.mapping(BATCH_KEYS)
    batch = BatchSettings(
        timeout_s=_optional(node, "timeout", _Node.duration, defaults.timeout_s),
        max_message_count=_optional(
            node,
            "max_message_count",
            lambda n: n.integer(1),
            defaults.max_message_count,
        ),
        absolute_max_bytes=_optional(
            node, "absolute_max_bytes", _Node.size, defaults.absolute_max_bytes
        ),
        preferred_max_bytes=_optional(
            node, "preferred_max_bytes", _Node.size, defaults.preferred_max_bytes
        ),
    )
    if batch.preferred_max_bytes > batch.absolute_max_bytes:
        raise node.child("preferred_max_bytes").error(
            f"preferred_max_bytes ({batch.preferred_max_bytes}) exceeds "
            f"absolute_max_bytes ({batch.absolute_max_bytes})"
        )
    return batch


def _channels(
    root: _Node, orgs: Mapping[str, str], timing: TimingProfile
) -> tuple[Channel, ...]:
    channels: list[Channel] = []
    for node in root.child("channels").items():
        node.mapping(CHANNEL_KEYS, required=("name", "orgs"))
        name = node.child("name").string(
            _CHANNEL, "channel name (lower case, digits, . and -)"
        )
        if any(channel.name == name for channel in channels):
            raise node.child("name").error(f"channel {name!r} is defined twice")
        orgs_node = node.child("orgs")
        members = tuple(
            _resolve_ref(item, item.string(), orgs, "org") for item in orgs_node.items()
        )
        if not members:
            raise orgs_node.error("a channel needs at least one org")
        batch = timing.batch
        if node.has("batch"):
            batch = _batch(node.child("batch"), timing.batch)
        channels.append(Channel(name=name, orgs=members, batch=batch))
    if not channels:
        raise root.child("channels").error("a network needs at least one channel")
    return tuple(channels)


def _chaincodes(
    root: _Node, channels: tuple[Channel, ...], org_msp: Mapping[str, str]
) -> tuple[Chaincode, ...]:
    if not root.has("chaincodes"):
        return ()
    channel_names = {channel.name: channel.name for channel in channels}
    chaincodes: list[Chaincode] = []
    for node in root.child("chaincodes").items():
        node.mapping(CHAINCODE_KEYS, required=("name", "implementation"))
        name = node.child("name").string(_NAME, "chaincode name")
        on: tuple[str, ...] = tuple(channel_names)
        if node.has("channels"):
            on = tuple(
                _resolve_ref(item, item.string(), channel_names, "channel")
                for item in node.child("channels").items()
            )
        for channel in on:
            if any(cc.name == name and channel in cc.channels for cc in chaincodes):
                raise node.child("name").error(
                    f"chaincode {name!r} is defined twice on {channel}"
                )
        policy_node = node.child("endorsement_policy")
        policy_text = _optional(
            node, "endorsement_policy", _Node.string, "MAJORITY Endorsement"
        )
        _check_policy(
            policy_node, policy_text, [c for c in channels if c.name in on], org_msp
        )
        chaincodes.append(
            Chaincode(
                name=name,
                implementation=node.child("implementation").string(
                    _NAME, "implementation name"
                ),
                endorsement_policy=policy_text,
                channels=on,
                version=_optional(node, "version", _Node.string, "1.0"),
            )
        )
    return tuple(chaincodes)


def _check_policy(
    node: _Node, text: str, channels: Sequence[Channel], org_msp: Mapping[str, str]
) -> None:
    try:
        policy = parse_policy(text)
    except PolicyError as error:
        raise node.error(error.message) from error
    if isinstance(policy, ImplicitMeta) and policy.sub_policy != "Endorsement":
        raise node.error(
            f"implicit meta policies name the org policy 'Endorsement', not {policy.sub_policy!r}",
            allowed=[f"{rule} Endorsement" for rule in META_RULES],
            suggestion=f"{policy.rule} Endorsement",
        )
    for channel in channels:
        members = {org_msp[org] for org in channel.orgs}
        for principal in principals_of(policy):
            if principal.msp_id not in members:
                raise node.error(
                    f"{principal.msp_id} is not an org of channel {channel.name}",
                    allowed=sorted(members),
                    suggestion=closest(principal.msp_id, members),
                )


def _users(root: _Node, orgs: Mapping[str, str]) -> tuple[User, ...]:
    if not root.has("users"):
        return ()
    users: list[User] = []
    for node in root.child("users").items():
        node.mapping(USER_KEYS, required=("name", "org"))
        name = node.child("name").string(_NAME, "user name")
        org_node = node.child("org")
        org = _resolve_ref(org_node, org_node.string(), orgs, "org")
        if any(user.name == name and user.org == org for user in users):
            raise node.child("name").error(f"user {name!r} of {org} is listed twice")
        role = _optional(node, "role", lambda n: n.choice(USER_ROLES), "client")
        users.append(User(name=name, org=org, role=cast(UserRole, role)))
    return tuple(users)


def _ports(root: _Node) -> PortSettings:
    defaults = PortSettings(base=20000, block_size=40, per_worker=400)
    if not root.has("ports"):
        return defaults
    node = root.child("ports").mapping(PORT_KEYS)
    settings = PortSettings(
        base=_optional(node, "base", lambda n: n.integer(1024, 65535), defaults.base),
        block_size=_optional(
            node, "block_size", lambda n: n.integer(1, 10000), defaults.block_size
        ),
        per_worker=_optional(
            node, "per_worker", lambda n: n.integer(1, 65535), defaults.per_worker
        ),
    )
    if settings.per_worker < settings.block_size:
        raise node.child("per_worker").error(
            f"per_worker ({settings.per_worker}) is smaller than block_size ({settings.block_size})"
        )
    last = settings.base + settings.per_worker - 1
    if in_ephemeral_range(settings.base, last) or last > 65535:
        raise node.child("base").error(
            f"ports {settings.base}-{last} reach the Linux ephemeral range "
            f"{EPHEMERAL_LOW}-{EPHEMERAL_HIGH} or pass 65535",
            allowed=[
                f"1024-{EPHEMERAL_LOW - settings.per_worker}",
                f"{EPHEMERAL_HIGH + 1}-{65536 - settings.per_worker}",
            ],
        )
    return settings


def _hsm(root: _Node) -> HsmSettings:
    node = root.child("hsm").mapping(HSM_KEYS)
    defaults = HsmSettings()
    security = _optional(node, "security", lambda n: n.integer(256, 384), 256)
    if security not in HSM_SECURITY_LEVELS:
        raise node.child("security").error(
            f"{security} is not a BCCSP security level",
            allowed=[str(level) for level in HSM_SECURITY_LEVELS],
        )
    immutable = _optional(node, "immutable", lambda n: n.value, False)
    if not isinstance(immutable, bool):
        raise node.child("immutable").error(
            f"expected true or false, got {immutable!r}"
        )
    return HsmSettings(
        label=_optional(node, "label", _Node.string, defaults.label),
        pin=_optional(node, "pin", _pin, None),
        hash=cast(
            HashFamily,
            _optional(node, "hash", lambda n: n.choice(HASH_FAMILIES), "SHA2"),
        ),
        security=security,
        immutable=immutable,
    )


def _pin(node: _Node) -> str:
    """A PIN may be written as a number in YAML; it is kept as text."""
    if isinstance(node.value, int) and not isinstance(node.value, bool):
        return str(node.value)
    return node.string()


def _check_nodes(root: _Node, orgs: tuple[Org, ...], orderer: OrdererService) -> None:
    seen: set[str] = set()
    for name in orderer.nodes + tuple(peer for org in orgs for peer in org.peers):
        if name in seen:
            raise root.error(
                f"node name {name!r} is used twice; node names are network-wide"
            )
        seen.add(name)
    if not any(org.peers for org in orgs):
        raise root.child("orgs").error("no org has a peer; list some under peers")


# --- entry points ----------------------------------------------------------------


def parse_spec(data: Any, source: str = "<spec>") -> NetworkSpec:
    """Validate a spec already read from YAML; ``source`` names it in errors."""
    root = _Node(source, "", data).mapping(
        TOP_KEYS, required=("name", "orgs", "orderer", "channels")
    )
    timing = PROFILES[
        _optional(root, "timing", lambda n: n.choice(tuple(PROFILES)), "test")
    ]
    hsm = _hsm(root) if root.has("hsm") else HsmSettings()

    orgs = _orgs(root)
    by_name = {org.name: org.name for org in orgs} | {
        org.msp_id: org.name for org in orgs
    }
    org_msp = {org.name: org.msp_id for org in orgs}
    orderer = _orderer(root, by_name)
    _check_nodes(root, orgs, orderer)
    channels = _channels(root, by_name, timing)
    spec = NetworkSpec(
        name=root.child("name").string(_NAME, "network name"),
        source=source,
        timing=timing,
        hsm=hsm,
        orgs=orgs,
        orderer=orderer,
        channels=channels,
        chaincodes=_chaincodes(root, channels, org_msp),
        users=_users(root, by_name),
        ports=_ports(root),
    )
    log.debug("spec %s: %d orgs, %d channels", spec.name, len(orgs), len(channels))
    return spec


def load_spec(name_or_path: str | Path) -> NetworkSpec:
    """Load ``networks/<name>.yaml`` by name, or any spec file by path."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml") and path.parent == Path("."):
        path = NETWORKS_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in NETWORKS_DIR.glob("*.yaml"))
            raise SpecError(
                str(name_or_path),
                "",
                "no such network spec",
                allowed=known,
                suggestion=closest(str(name_or_path), known),
            )
    try:
        text = path.read_text()
    except OSError as error:
        raise SpecError(str(path), "", f"cannot be read: {error.strerror}") from error
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise SpecError(str(path), where, f"is not valid YAML: {error}") from error
    return parse_spec(data, str(path))


def spec_to_dict(spec: NetworkSpec) -> dict[str, Any]:
    """The resolved spec as plain data (what a run folder's ``spec.yaml`` holds)."""
    plain: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(spec)))
    return plain


def dump_spec(spec: NetworkSpec) -> str:
    """The resolved spec as YAML text."""
    return yaml.safe_dump(spec_to_dict(spec), sort_keys=False)
