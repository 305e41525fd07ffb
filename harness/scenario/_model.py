"""Scenario files: the network, the orchestrator, steps and checks, validated with
errors that name the file, the key path, the allowed values and the likely key."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.requestmanager import CRASH_POINTS
from harness.spec import SpecError, YamlNode

SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "scenarios"
Orchestrator = Literal["request-manager", "naive"]
ORCHESTRATORS: tuple[Orchestrator, ...] = ("request-manager", "naive")
AUDIT_OUTCOMES = ("minted", "refused", "rolled-back")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SLICE = re.compile(r"^([A-Za-z0-9_-]+)(?:\[(\d*):(\d*)\])?$")
_MONTH_DAY = re.compile(r"^\d{2}-\d{2}$")

# step kind -> (allowed keys, required keys)
STEP_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "seed": ((), ()),
    "record": (("as", "count", "utility", "year", "ends", "kwh"), ("as",)),
    "audit": (
        ("request", "records", "issuee", "expect", "reason"),
        ("request", "records"),
    ),
    "concurrent-audits": (("audits", "expect"), ("audits",)),
    "crash": (("request", "records", "at"), ("request", "records", "at")),
    "resume": (("request", "expect"), ("request",)),
    "crash-sweep": (("records_per_request", "boundaries", "random", "seed"), ()),
    "fail-ethereum": ((), ()),
    "restore-ethereum": ((), ()),
    "set-policy": (("emissions-date",), ("emissions-date",)),
    "clear-policy": ((), ()),
}
CHECK_KINDS = (
    "tokens-minted",
    "one-token-per-request",
    "records-stamped",
    "quantity-matches",
    "no-locks",
    "no-double-issuance",
    "tx-codes",
    "hsm-identities",
)


@dataclass(frozen=True)
class Step:
    kind: str
    args: dict[str, Any]
    where: str  # key path, for reports

    @property
    def label(self) -> str:
        target = self.args.get("request") or self.args.get("as") or ""
        return f"{self.kind} {target}".strip()


@dataclass(frozen=True)
class Check:
    kind: str
    value: Any


@dataclass(frozen=True)
class Scenario:
    name: str
    source: str
    description: str
    network: str
    orchestrator: Orchestrator
    steps: tuple[Step, ...]
    checks: tuple[Check, ...] = field(default=())


def load_scenario(name_or_path: str | Path) -> Scenario:
    """``scenarios/<name>.yaml`` by name, or any scenario file by path."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = SCENARIOS_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            known = list_scenarios()
            raise SpecError(
                str(name_or_path),
                "",
                "no such scenario",
                allowed=known,
                suggestion=_closest(str(name_or_path), known),
            )
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SpecError(str(path), "", f"cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SpecError(str(path), "", f"is not valid YAML: {exc}") from None
    return parse_scenario(data, str(path))


def list_scenarios() -> list[str]:
    return sorted(
        p.stem for p in SCENARIOS_DIR.glob("*.yaml") if not p.stem.startswith("bench")
    )


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    root = YamlNode(source, "", data).mapping(
        ("name", "description", "network", "orchestrator", "steps", "checks"),
        required=("name", "steps"),
    )
    steps = tuple(_step(node) for node in root.child("steps").items())
    if not steps:
        raise root.child("steps").error("a scenario needs at least one step")
    checks: tuple[Check, ...] = ()
    if root.has("checks"):
        checks = tuple(_check(node) for node in root.child("checks").items())
    orchestrator: Orchestrator = "request-manager"
    if root.has("orchestrator"):
        orchestrator = (
            "naive"
            if root.child("orchestrator").choice(ORCHESTRATORS) == "naive"
            else "request-manager"
        )
    return Scenario(
        name=root.child("name").string(_ID, "scenario name"),
        source=source,
        description=str(root.value.get("description") or ""),
        network=root.child("network").string() if root.has("network") else "default",
        orchestrator=orchestrator,
        steps=steps,
        checks=checks,
    )


def _single_key(
    node: YamlNode, allowed: tuple[str, ...], what: str
) -> tuple[str, YamlNode]:
    if isinstance(node.value, str):
        node = YamlNode(node.source, node.path, {node.value: {}})
    if not isinstance(node.value, dict) or len(node.value) != 1:
        raise node.error(
            f"each {what} is a mapping with one key, its kind", allowed=allowed
        )
    (kind,) = node.value
    YamlNode(node.source, node.path, {kind: None}).mapping(allowed)
    return kind, node.child(kind)


def _step(node: YamlNode) -> Step:
    kind, body = _single_key(node, tuple(STEP_KEYS), "step")
    allowed, required = STEP_KEYS[kind]
    value = body.value if body.value is not None else {}
    body = YamlNode(body.source, body.path, value).mapping(allowed, required)
    args = dict(value)
    if "count" in args:
        body.child("count").integer(1, 100)
    if "records_per_request" in args:
        body.child("records_per_request").integer(1, 10)
    if "random" in args:
        body.child("random").integer(0, 500)
    if "request" in args:
        body.child("request").string(_ID, "request id")
    if "records" in args:
        _records_ref(body.child("records"))
    if "at" in args:
        body.child("at").choice(CRASH_POINTS)
    if "expect" in args and kind in ("audit", "resume"):
        body.child("expect").choice(AUDIT_OUTCOMES)
    if "ends" in args:
        body.child("ends").string(_MONTH_DAY, "MM-DD date")
    if "emissions-date" in args:
        body.child("emissions-date").string(_MONTH_DAY, "MM-DD date")
    if kind == "concurrent-audits":
        for audit in body.child("audits").items():
            audit.mapping(("request", "records", "issuee"), ("request", "records"))
            audit.child("request").string(_ID, "request id")
            _records_ref(audit.child("records"))
    return Step(kind, args, node.path)


def _records_ref(node: YamlNode) -> None:
    node.string(_SLICE, "record reference like 'bills' or 'bills[0:2]'")


def _check(node: YamlNode) -> Check:
    kind, body = _single_key(node, CHECK_KINDS, "check")
    if kind == "tokens-minted":
        return Check(kind, body.integer(0))
    if kind == "tx-codes":
        body.mapping(tuple(body.value or ()))
        return Check(kind, {str(k): int(v) for k, v in (body.value or {}).items()})
    return Check(kind, True if body.value in (None, {}) else body.value)


def split_records_ref(ref: str) -> tuple[str, slice]:
    match = _SLICE.match(ref)
    assert match is not None  # validated when the scenario was parsed
    name, start, stop = match.groups()
    first = int(start) if start else None
    last = int(stop) if stop else None
    return name, slice(first, last)


def _closest(word: str, options: list[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, options, n=1)
    return found[0] if found else None
