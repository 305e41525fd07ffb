"""Validation codes (Fabric's own enum as an IntEnum) and the endorsement check."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

from fabric_protos.peer import transaction_pb2

from harness.fabric.sim._ledger import UpdateBatch, WorldState, key_policy
from harness.fabric.sim._policy import (
    Policy,
    PolicyIdentity,
    evaluate,
    from_envelope_bytes,
)
from harness.fabric.sim._rwset import TxRwSet

TxValidationCode = enum.IntEnum(  # type: ignore[misc]
    "TxValidationCode", dict(transaction_pb2.TxValidationCode.items())
)


def endorsement_satisfied(
    state: WorldState,
    updates: UpdateBatch | None,
    rwset: TxRwSet,
    *,
    chaincode_policies: Mapping[str, Policy],
    endorsers: Sequence[PolicyIdentity],
    invoked: str,
) -> bool:
    """Whether the endorsers satisfy the policies a transaction's writes need.

    Each namespace's written keys (values or metadata) that carry a key-level policy
    need that policy; the chaincode policy (already resolved) is needed when a
    namespace writes a key without one, or writes nothing at all. The ``invoked``
    chaincode's policy always applies to a transaction that touched nothing.
    """
    if invoked not in rwset.namespaces:
        policy = chaincode_policies.get(invoked)
        if policy is None or not evaluate(policy, endorsers):
            return False
    for ns in rwset.namespaces.values():
        written = set(ns.writes) | set(ns.metadata_writes)
        needs_chaincode_policy = not written
        for key in sorted(written):
            policy_bytes = key_policy(state, updates, ns.namespace, key)
            if policy_bytes is None:
                needs_chaincode_policy = True
            elif not evaluate(from_envelope_bytes(policy_bytes), endorsers):
                return False
        if needs_chaincode_policy:
            policy = chaincode_policies.get(ns.namespace)
            if policy is None or not evaluate(policy, endorsers):
                return False
    return True
