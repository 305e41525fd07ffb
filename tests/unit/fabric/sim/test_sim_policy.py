"""Signature policies: Fabric's language, its evaluation rules and its proto form."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness.fabric.sim._policy import (
    ImplicitMeta,
    NOutOf,
    PolicyError,
    Principal,
    SignedBy,
    default_org_policies,
    evaluate,
    from_envelope_bytes,
    parse_policy,
    resolve,
    to_envelope_bytes,
)


@dataclass(frozen=True)
class Signer:
    msp_id: str
    role: str
    name: str = ""

    @property
    def id_bytes(self) -> bytes:
        return f"{self.msp_id}/{self.role}/{self.name}".encode()


PEER1 = Signer("Org1MSP", "peer")
PEER2 = Signer("Org2MSP", "peer")
PEER3 = Signer("Org3MSP", "peer")
CLIENT1 = Signer("Org1MSP", "client")
ADMIN1 = Signer("Org1MSP", "admin")
ORGS3 = {msp: default_org_policies(msp) for msp in ("Org1MSP", "Org2MSP", "Org3MSP")}


def test_parse_and_or_outof() -> None:
    policy = parse_policy(
        "OutOf(2, 'A.peer', AND('B.member', \"C.admin\"), or('D.client'))"
    )

    assert policy == NOutOf(
        2,
        (
            SignedBy(Principal("A", "peer")),
            NOutOf(
                2,
                (SignedBy(Principal("B", "member")), SignedBy(Principal("C", "admin"))),
            ),
            NOutOf(1, (SignedBy(Principal("D", "client")),)),
        ),
    )


def test_msp_ids_may_contain_dots() -> None:
    assert parse_policy("'org1.example.com.peer'") == SignedBy(
        Principal("org1.example.com", "peer")
    )


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("MAJORITY Endorsement", "MAJORITY"),
        ("ANY Endorsement", "ANY"),
        ("ALL Admins", "ALL"),
    ],
    ids=["majority", "any", "all"],
)
def test_parse_implicit_meta(text: str, rule: str) -> None:
    policy = parse_policy(text)

    assert isinstance(policy, ImplicitMeta)
    assert policy.rule == rule


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("AND('A.peer'", 12, "expected ')'"),
        ("AND('A.peer',)", 13, "expected AND, OR, OutOf or a principal"),
        ("XOR('A.peer')", 0, "unknown function"),
        ("OR('A.king')", 3, "unknown role"),
        ("OR('nodot')", 3, "not 'MSPID.role'"),
        ("OutOf(3, 'A.peer', 'B.peer')", 6, "1 <= n <= 2"),
        ("OutOf(x, 'A.peer')", 6, "expected number"),
        ("OR('A.peer') 'B.peer'", 13, "after the policy"),
        ("OR('A.peer' ; )", 12, "unexpected character"),
        ("", 0, "empty"),
    ],
    ids=[
        "unclosed",
        "trailing-comma",
        "unknown-function",
        "unknown-role",
        "no-role",
        "outof-too-many",
        "outof-not-number",
        "trailing-policy",
        "bad-character",
        "empty",
    ],
)
def test_parse_errors_name_the_position(text: str, position: int, words: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)

    assert caught.value.position == position
    assert words in str(caught.value)
    assert f"at position {position}" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "signers", "expected"),
    [
        ("AND('Org1MSP.peer', 'Org2MSP.peer')", [PEER1, PEER2], True),
        ("AND('Org1MSP.peer', 'Org2MSP.peer')", [PEER1], False),
        ("AND('Org1MSP.peer', 'Org2MSP.peer')", [PEER1, PEER1], False),
        ("OR('Org1MSP.peer', 'Org2MSP.peer')", [PEER2], True),
        ("OR('Org1MSP.peer')", [CLIENT1], False),
        ("OR('Org1MSP.member')", [CLIENT1], True),
        ("OR('Org1MSP.admin')", [ADMIN1], True),
        ("OR('Org1MSP.admin')", [PEER1], False),
        ("AND('Org1MSP.member', 'Org1MSP.member')", [PEER1], False),
        ("AND('Org1MSP.member', 'Org1MSP.member')", [PEER1, CLIENT1], True),
        (
            "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')",
            [PEER1, PEER3],
            True,
        ),
        ("OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')", [PEER3], False),
    ],
    ids=[
        "and-both",
        "and-one",
        "and-duplicate-signer",
        "or-second",
        "role-mismatch",
        "member-matches-client",
        "admin",
        "peer-is-not-admin",
        "one-identity-one-principal",
        "two-identities-two-principals",
        "outof-two-of-three",
        "outof-one-of-three",
    ],
)
def test_evaluate(text: str, signers: list[Signer], expected: bool) -> None:
    assert evaluate(parse_policy(text), signers) is expected


@pytest.mark.parametrize(
    ("rule", "signers", "expected"),
    [
        ("MAJORITY", [PEER1, PEER2], True),
        ("MAJORITY", [PEER1], False),
        ("ANY", [PEER3], True),
        ("ALL", [PEER1, PEER2], False),
        ("ALL", [PEER1, PEER2, PEER3], True),
    ],
    ids=["majority-2-of-3", "majority-1-of-3", "any", "all-missing-one", "all"],
)
def test_implicit_meta_over_org_endorsement_policies(
    rule: str, signers: list[Signer], expected: bool
) -> None:
    policy = resolve(parse_policy(f"{rule} Endorsement"), ORGS3)

    assert evaluate(policy, signers) is expected


def test_majority_of_two_orgs_needs_both() -> None:
    two = {msp: default_org_policies(msp) for msp in ("Org1MSP", "Org2MSP")}
    policy = resolve(parse_policy("MAJORITY Endorsement"), two)

    assert not evaluate(policy, [PEER1])
    assert evaluate(policy, [PEER1, PEER2])


def test_unresolved_meta_policy_cannot_be_evaluated() -> None:
    with pytest.raises(PolicyError, match="resolve"):
        evaluate(parse_policy("ANY Endorsement"), [PEER1])


def test_resolve_needs_the_sub_policy() -> None:
    with pytest.raises(PolicyError, match="no 'Readerz' policy"):
        resolve(parse_policy("ANY Readerz"), ORGS3)


@pytest.mark.parametrize(
    "text",
    [
        "AND('Org1MSP.peer', 'Org2MSP.peer')",
        "OutOf(2, 'A.peer', OR('B.member', 'C.admin'), 'A.peer')",
        "'X.orderer'",
        "OR('Y.client')",
    ],
    ids=["and", "nested-outof", "signed-by", "or-client"],
)
def test_envelope_round_trip(text: str) -> None:
    policy = parse_policy(text)

    assert from_envelope_bytes(to_envelope_bytes(policy)) == policy


def test_envelope_has_fabric_wire_form() -> None:
    from fabric_protos.common import policies_pb2
    from fabric_protos.msp import msp_principal_pb2

    data = to_envelope_bytes(parse_policy("AND('Org1MSP.peer', 'Org2MSP.peer')"))
    envelope = policies_pb2.SignaturePolicyEnvelope.FromString(data)

    assert envelope.rule.n_out_of.n == 2
    assert [rule.signed_by for rule in envelope.rule.n_out_of.rules] == [0, 1]
    role = msp_principal_pb2.MSPRole.FromString(envelope.identities[1].principal)
    assert (role.msp_identifier, role.role) == (
        "Org2MSP",
        msp_principal_pb2.MSPRole.PEER,
    )


def test_garbage_envelope_is_an_error() -> None:
    with pytest.raises(PolicyError):
        from_envelope_bytes(b"\xff\xff\xff")


def test_str_round_trips_through_parse() -> None:
    text = "OutOf(2, 'A.peer', AND('B.member', 'C.admin'), OR('D.client'))"

    assert parse_policy(str(parse_policy(text))) == parse_policy(text)
