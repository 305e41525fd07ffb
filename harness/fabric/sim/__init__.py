"""The Fabric network simulator: policies, ledger, ordering, blocks and MSPs."""

from harness.fabric.sim._policy import (
    ImplicitMeta,
    NOutOf,
    Policy,
    PolicyError,
    PolicyIdentity,
    Principal,
    SignedBy,
    default_org_policies,
    evaluate,
    from_envelope_bytes,
    parse_policy,
    resolve,
    to_envelope_bytes,
)

__all__ = [
    "ImplicitMeta",
    "NOutOf",
    "Policy",
    "PolicyError",
    "PolicyIdentity",
    "Principal",
    "SignedBy",
    "default_org_policies",
    "evaluate",
    "from_envelope_bytes",
    "parse_policy",
    "resolve",
    "to_envelope_bytes",
]
