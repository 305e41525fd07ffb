"""Signature policies: the policy language of Fabric, its evaluation and its proto form.

The text form is Fabric's: ``AND('Org1MSP.peer', 'Org2MSP.peer')``, ``OR(...)``,
``OutOf(2, ...)`` and the channel's implicit meta policies such as
``MAJORITY Endorsement``. Evaluation follows Fabric's ``cauthdsl``: identities are
deduplicated first, each identity satisfies at most one principal, and an ``OutOf``
keeps what a sub-policy used only when that sub-policy was satisfied (greedy, in
rule order, like Fabric, so the same signatures give the same answer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias, cast, get_args

from harness.errors import ConfigError

Role = Literal["member", "admin", "client", "peer", "orderer"]
MetaRule = Literal["ANY", "ALL", "MAJORITY"]

ROLES: tuple[str, ...] = get_args(Role)
META_RULES: tuple[str, ...] = get_args(MetaRule)
DEFAULT_SUB_POLICY = "Endorsement"

# MSPRole.MSPRoleType numbers of Fabric's msp_principal.proto.
_ROLE_NUMBERS: dict[str, int] = {
    "member": 0,
    "admin": 1,
    "client": 2,
    "peer": 3,
    "orderer": 4,
}


class PolicyError(ConfigError):
    """A policy string or envelope is malformed."""

    def __init__(self, message: str, *, text: str = "", position: int = -1) -> None:
        self.text = text
        self.position = position
        if position >= 0:
            message = f"{message} at position {position} of {text!r}"
        super().__init__(
            message,
            hint="write e.g. AND('Org1MSP.peer', 'Org2MSP.peer'), "
            "OutOf(2, 'A.member', 'B.member', 'C.member') or MAJORITY Endorsement",
        )


@dataclass(frozen=True)
class Principal:
    """A role in one MSP: ``Org1MSP.peer``."""

    msp_id: str
    role: Role

    def __str__(self) -> str:
        return f"'{self.msp_id}.{self.role}'"


@dataclass(frozen=True)
class SignedBy:
    principal: Principal

    def __str__(self) -> str:
        return str(self.principal)


@dataclass(frozen=True)
class NOutOf:
    n: int
    rules: tuple[Policy, ...]

    def __str__(self) -> str:
        inner = ", ".join(str(rule) for rule in self.rules)
        if self.n == len(self.rules) and self.n > 0:
            return f"AND({inner})"
        if self.n == 1:
            return f"OR({inner})"
        return f"OutOf({self.n}, {inner})"


@dataclass(frozen=True)
class ImplicitMeta:
    """A channel policy over the same-named sub-policy of every org on the channel."""

    rule: MetaRule
    sub_policy: str = DEFAULT_SUB_POLICY

    def __str__(self) -> str:
        return f"{self.rule} {self.sub_policy}"


Policy: TypeAlias = SignedBy | NOutOf | ImplicitMeta


class PolicyIdentity(Protocol):
    """What evaluation needs of a validated signer."""

    @property
    def msp_id(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def id_bytes(self) -> bytes: ...


# --- parsing ---------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'[^']*'|"[^"]*")
      | (?P<number>\d+)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
_IMPLICIT = re.compile(r"^\s*(ANY|ALL|MAJORITY)\s+([A-Za-z][A-Za-z0-9_]*)\s*$")
_PRINCIPAL = re.compile(r"^([A-Za-z0-9.\-_]+)\.([a-z]+)$")


@dataclass(frozen=True)
class _Token:
    kind: str
    value: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            start = len(text) - len(text[position:].lstrip())
            raise PolicyError(
                f"unexpected character {text[start]!r}", text=text, position=start
            )
        kind = match.lastgroup
        tokens.append(_Token(kind, match.group(kind), match.start(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def error(self, message: str, token: _Token | None = None) -> PolicyError:
        position = token.position if token is not None else len(self.text)
        return PolicyError(message, text=self.text, position=position)

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, kind: str, value: str | None = None) -> _Token:
        token = self.peek()
        wanted = repr(value) if value else kind
        if token is None:
            raise self.error(f"expected {wanted}, found the end")
        if token.kind != kind or (value is not None and token.value != value):
            raise self.error(f"expected {wanted}, found {token.value!r}", token)
        self.index += 1
        return token

    def parse(self) -> Policy:
        policy = self.policy()
        token = self.peek()
        if token is not None:
            raise self.error(f"unexpected {token.value!r} after the policy", token)
        return policy

    def policy(self) -> Policy:
        token = self.peek()
        if token is None:
            raise self.error("expected a policy, found the end")
        if token.kind == "string":
            self.index += 1
            return SignedBy(self.principal(token))
        if token.kind != "name":
            raise self.error(
                f"expected AND, OR, OutOf or a principal, found {token.value!r}", token
            )
        function = token.value.lower()
        if function not in ("and", "or", "outof"):
            raise self.error(
                f"unknown function {token.value!r} (use AND, OR, OutOf)", token
            )
        self.index += 1
        self.take("punct", "(")
        n: int | None = None
        n_token: _Token | None = None
        if function == "outof":
            n_token = self.take("number")
            n = int(n_token.value)
            self.take("punct", ",")
        rules = [self.policy()]
        while (nxt := self.peek()) is not None and nxt.value == ",":
            self.index += 1
            rules.append(self.policy())
        close = self.take("punct", ")")
        if function == "and":
            n = len(rules)
        elif function == "or":
            n = 1
        assert n is not None
        if n < 1 or n > len(rules):
            raise self.error(
                f"OutOf needs 1 <= n <= {len(rules)}, got {n}", n_token or close
            )
        return NOutOf(n, tuple(rules))

    def principal(self, token: _Token) -> Principal:
        body = token.value[1:-1]
        match = _PRINCIPAL.match(body)
        if match is None:
            raise self.error(f"principal {token.value} is not 'MSPID.role'", token)
        msp_id, role = match.groups()
        if role not in ROLES:
            raise self.error(
                f"unknown role {role!r} in {token.value} (one of {', '.join(ROLES)})",
                token,
            )
        return Principal(msp_id, cast(Role, role))


def parse_policy(text: str) -> Policy:
    """Parse a signature policy or an implicit meta policy; errors name the position."""
    if not text.strip():
        raise PolicyError("the policy is empty", text=text, position=0)
    meta = _IMPLICIT.match(text)
    if meta is not None:
        return ImplicitMeta(cast(MetaRule, meta.group(1)), meta.group(2))
    return _Parser(text).parse()


def principals_of(policy: Policy) -> list[Principal]:
    """Every principal a policy names, in order (none for an implicit meta policy)."""
    if isinstance(policy, SignedBy):
        return [policy.principal]
    if isinstance(policy, NOutOf):
        return [p for rule in policy.rules for p in principals_of(rule)]
    return []


# --- implicit meta policies ------------------------------------------------------


def meta_threshold(rule: MetaRule, orgs: int) -> int:
    """How many org sub-policies an implicit meta rule needs among ``orgs``."""
    if rule == "ANY":
        return 1
    if rule == "ALL":
        return orgs
    return orgs // 2 + 1


def default_org_policies(msp_id: str) -> dict[str, Policy]:
    """The org policies of Fabric's sample configtx: Endorsement is any peer."""
    return {
        "Endorsement": SignedBy(Principal(msp_id, "peer")),
        "Readers": SignedBy(Principal(msp_id, "member")),
        "Writers": SignedBy(Principal(msp_id, "member")),
        "Admins": SignedBy(Principal(msp_id, "admin")),
    }


def resolve(policy: Policy, org_policies: Mapping[str, Mapping[str, Policy]]) -> Policy:
    """Expand an implicit meta policy over the channel orgs' sub-policies.

    ``org_policies`` maps each channel org's MSP id to its named policies.
    """
    if not isinstance(policy, ImplicitMeta):
        return policy
    subs: list[Policy] = []
    for msp_id in sorted(org_policies):
        sub = org_policies[msp_id].get(policy.sub_policy)
        if sub is None:
            raise PolicyError(f"org {msp_id} has no {policy.sub_policy!r} policy")
        subs.append(resolve(sub, org_policies))
    threshold = meta_threshold(policy.rule, len(subs))
    return NOutOf(threshold, tuple(subs))


# --- evaluation ------------------------------------------------------------------


def satisfies(identity: PolicyIdentity, principal: Principal) -> bool:
    """Whether a validated identity has the principal's MSP and role."""
    if identity.msp_id != principal.msp_id:
        return False
    return principal.role in ("member", identity.role)


def evaluate(policy: Policy, identities: Sequence[PolicyIdentity]) -> bool:
    """Whether the (already verified) signers satisfy ``policy``.

    Implicit meta policies must be :func:`resolve`-d first.
    """
    unique: list[PolicyIdentity] = []
    seen: set[bytes] = set()
    for identity in identities:
        if identity.id_bytes not in seen:
            seen.add(identity.id_bytes)
            unique.append(identity)
    used = [False] * len(unique)
    return _evaluate(policy, unique, used)


def _evaluate(
    policy: Policy, identities: Sequence[PolicyIdentity], used: list[bool]
) -> bool:
    if isinstance(policy, SignedBy):
        for index, identity in enumerate(identities):
            if not used[index] and satisfies(identity, policy.principal):
                used[index] = True
                return True
        return False
    if isinstance(policy, ImplicitMeta):
        raise PolicyError(
            f"resolve the implicit meta policy {policy} before evaluating"
        )
    satisfied = 0
    for rule in policy.rules:
        trial = list(used)
        if _evaluate(rule, identities, trial):
            satisfied += 1
            used[:] = trial
    return satisfied >= policy.n


# --- proto form (SignaturePolicyEnvelope) ------------------------------------------


def to_envelope_bytes(policy: Policy) -> bytes:
    """Marshal a signature policy as Fabric's ``common.SignaturePolicyEnvelope``."""
    from fabric_protos.common import policies_pb2
    from fabric_protos.msp import msp_principal_pb2

    if isinstance(policy, ImplicitMeta):
        raise PolicyError(f"{policy} is not a signature policy")
    principals: list[Principal] = []
    for principal in principals_of(policy):
        if principal not in principals:
            principals.append(principal)
    envelope = policies_pb2.SignaturePolicyEnvelope(version=0)
    for principal in principals:
        role = msp_principal_pb2.MSPRole(
            msp_identifier=principal.msp_id, role=_ROLE_NUMBERS[principal.role]
        )
        envelope.identities.add(
            principal_classification=msp_principal_pb2.MSPPrincipal.ROLE,
            principal=role.SerializeToString(),
        )
    envelope.rule.CopyFrom(_rule_to_proto(policy, principals))
    return bytes(envelope.SerializeToString())


def _rule_to_proto(policy: Policy, principals: list[Principal]) -> Any:
    from fabric_protos.common import policies_pb2

    if isinstance(policy, SignedBy):
        return policies_pb2.SignaturePolicy(
            signed_by=principals.index(policy.principal)
        )
    assert isinstance(policy, NOutOf)
    rule = policies_pb2.SignaturePolicy()
    rule.n_out_of.n = policy.n
    for sub in policy.rules:
        rule.n_out_of.rules.append(_rule_to_proto(sub, principals))
    return rule


def from_envelope_bytes(data: bytes) -> Policy:
    """Parse a marshalled ``SignaturePolicyEnvelope`` (only ROLE principals)."""
    from fabric_protos.common import policies_pb2
    from fabric_protos.msp import msp_principal_pb2
    from google.protobuf.message import DecodeError

    roles_by_number = {number: name for name, number in _ROLE_NUMBERS.items()}
    try:
        envelope = policies_pb2.SignaturePolicyEnvelope.FromString(data)
        principals: list[Principal] = []
        for item in envelope.identities:
            if item.principal_classification != msp_principal_pb2.MSPPrincipal.ROLE:
                raise PolicyError("only ROLE principals are supported")
            role = msp_principal_pb2.MSPRole.FromString(item.principal)
            role_name = cast(Role, roles_by_number[role.role])
            principals.append(Principal(role.msp_identifier, role_name))
    except (DecodeError, KeyError) as error:
        raise PolicyError(f"not a signature policy envelope: {error}") from error
    return _rule_from_proto(envelope.rule, principals)


def _rule_from_proto(rule: Any, principals: list[Principal]) -> Policy:
    kind = rule.WhichOneof("Type")
    if kind == "signed_by":
        index = rule.signed_by
        if not 0 <= index < len(principals):
            raise PolicyError(f"signed_by index {index} has no identity")
        return SignedBy(principals[index])
    if kind == "n_out_of":
        n_out_of = rule.n_out_of
        rules = tuple(_rule_from_proto(sub, principals) for sub in n_out_of.rules)
        return NOutOf(int(n_out_of.n), rules)
    raise PolicyError("a signature policy rule is empty")
