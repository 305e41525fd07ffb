"""Endorsement checks: chaincode policy, and key-level policies that override it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness.fabric.sim._ledger import (
    VALID,
    VALIDATION_PARAMETER,
    TxSimulator,
    WorldState,
    commit_block,
)
from harness.fabric.sim._policy import (
    default_org_policies,
    parse_policy,
    resolve,
    to_envelope_bytes,
)
from harness.fabric.sim._rwset import TxRwSet
from harness.fabric.sim._validation import TxValidationCode, endorsement_satisfied


@dataclass(frozen=True)
class Peer:
    msp_id: str
    role: str = "peer"

    @property
    def id_bytes(self) -> bytes:
        return self.msp_id.encode()


ORG1, ORG2 = Peer("Org1MSP"), Peer("Org2MSP")
ORGS = {msp: default_org_policies(msp) for msp in ("Org1MSP", "Org2MSP")}
CC_POLICIES = {"cc": resolve(parse_policy("ANY Endorsement"), ORGS)}
ONLY_ORG2 = to_envelope_bytes(parse_policy("OR('Org2MSP.peer')"))


def state_with_key_policy() -> WorldState:
    state = WorldState()
    sim = TxSimulator(state)
    sim.put_state("cc", "guarded", b"v")
    sim.put_state("cc", "open", b"v")
    commit_block(state, 0, [sim.finish()], [VALID])
    sim = TxSimulator(state)
    sim.set_metadata("cc", "guarded", VALIDATION_PARAMETER, ONLY_ORG2)
    commit_block(state, 1, [sim.finish()], [VALID])
    return state


def writes(*keys: str) -> TxRwSet:
    sim = TxSimulator(WorldState())
    for key in keys:
        sim.put_state("cc", key, b"new")
    return sim.finish()


@pytest.mark.parametrize(
    ("keys", "endorsers", "expected"),
    [
        (("open",), [ORG1], True),
        (("guarded",), [ORG1], False),
        (("guarded",), [ORG2], True),
        (("guarded", "open"), [ORG2], True),
        ((), [ORG1], True),
        ((), [], False),
    ],
    ids=[
        "chaincode-policy",
        "key-policy-overrides",
        "key-policy-met",
        "both-met-by-org2",
        "read-only-needs-chaincode-policy",
        "no-endorsers",
    ],
)
def test_key_level_policies(
    keys: tuple[str, ...], endorsers: list[Peer], expected: bool
) -> None:
    state = state_with_key_policy()

    satisfied = endorsement_satisfied(
        state,
        None,
        writes(*keys),
        chaincode_policies=CC_POLICIES,
        endorsers=endorsers,
        invoked="cc",
    )

    assert satisfied is expected


def test_namespace_without_a_policy_fails() -> None:
    sim = TxSimulator(WorldState())
    sim.put_state("unknown", "k", b"v")

    assert not endorsement_satisfied(
        WorldState(),
        None,
        sim.finish(),
        chaincode_policies=CC_POLICIES,
        endorsers=[ORG1],
        invoked="unknown",
    )


def test_codes_are_fabrics() -> None:
    assert TxValidationCode.ENDORSEMENT_POLICY_FAILURE == 10
    assert TxValidationCode.TARGET_CHAIN_NOT_FOUND == 14
    assert TxValidationCode.INVALID_OTHER_REASON == 255
