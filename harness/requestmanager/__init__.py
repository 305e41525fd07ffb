"""The Request Manager: lock emissions records on Fabric, mint the audited-emissions
token on Ethereum, record the token id and unlock, exactly once, resumable.

>>> manager = RequestManager(fabric_client, token_client, journal=run.path / "journal")
>>> result = manager.audit(AuditRequest("audit-1", (uuid_a, uuid_b), party_id="p1"))
>>> result.status, result.token_ref
('minted', '0x...:1')
"""

from harness.requestmanager._mint import DESCRIPTION, MintPlan, plan_mint, unix_seconds
from harness.requestmanager._naive import NaiveRequestManager
from harness.requestmanager._orchestrator import (
    CRASH_POINTS,
    INTENT_STAGE,
    LOCK_STAGE,
    ROLLBACK_STAGE,
    STAGES,
    STORE_STAGE,
    UPDATE_STAGE,
    AuditRequest,
    AuditResult,
    CrashPoint,
    OrchestratorCrash,
    RequestManager,
    RequestManagerError,
)
from harness.requestmanager._policy import AuditPolicy, EmissionsDatePolicy

__all__ = [
    "CRASH_POINTS",
    "DESCRIPTION",
    "INTENT_STAGE",
    "LOCK_STAGE",
    "ROLLBACK_STAGE",
    "STAGES",
    "STORE_STAGE",
    "UPDATE_STAGE",
    "AuditPolicy",
    "AuditRequest",
    "AuditResult",
    "CrashPoint",
    "EmissionsDatePolicy",
    "MintPlan",
    "NaiveRequestManager",
    "OrchestratorCrash",
    "RequestManager",
    "RequestManagerError",
    "plan_mint",
    "unix_seconds",
]
