"""Fabric identities: one signer protocol (file key or HSM key), per-org CAs,
enrollment through a CSR the signer signs, and MSP folders laid out as Fabric's.

>>> org = Organization.create(crypto, "Org1")
>>> peer = org.enroll("peer0", "peer", token=token)   # key generated on the token
>>> peer.signer.sign(b"proposal bytes")               # DER, low-S, SHA-256
"""

from harness.identity._ca import ROLES, CertificateAuthority, Role, make_csr, pem
from harness.identity._inspect import Check, InspectReport, inspect_token
from harness.identity._org import (
    Identity,
    Organization,
    OrgKind,
    find_signcerts,
    read_certificate,
    require_key_on_token,
)
from harness.identity._signer import (
    FileSigner,
    HsmSigner,
    Signer,
    SignerKey,
    der_from_raw,
    hash_for,
    is_low_s,
    low_s,
)
from harness.identity._workflow import WorkflowReport, run_hsm_workflow

__all__ = [
    "ROLES",
    "CertificateAuthority",
    "Check",
    "FileSigner",
    "HsmSigner",
    "Identity",
    "InspectReport",
    "OrgKind",
    "Organization",
    "Role",
    "Signer",
    "SignerKey",
    "WorkflowReport",
    "der_from_raw",
    "find_signcerts",
    "hash_for",
    "inspect_token",
    "is_low_s",
    "low_s",
    "make_csr",
    "pem",
    "read_certificate",
    "require_key_on_token",
    "run_hsm_workflow",
]
