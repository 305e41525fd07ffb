"""A deliberately naive orchestrator, as the 2021 flow was: it signs and sends the
mint in one step and stores nothing before sending. After a crash between the mint
and StoreMintedToken, a resume mints again.

It exists so that scenarios can show their checks catch double issuance: run them
against this class and they must fail. Never use it for anything else.
"""

from __future__ import annotations

from typing import Any

from harness.errors import TransactionRevertedError
from harness.requestmanager._mint import MintPlan
from harness.requestmanager._orchestrator import (
    AUDITED_EMISSIONS,
    AuditRequest,
    RequestManager,
)


class NaiveRequestManager(RequestManager):
    def _mint_in_order(
        self, rid: str, request: AuditRequest, plan: MintPlan, signed: Any | None
    ) -> Any:
        try:
            return self.token.issue(
                self.auditor,
                request.issuee,
                token_type=AUDITED_EMISSIONS,
                quantity=plan.quantity,
                from_date=plan.from_date,
                thru_date=plan.thru_date,
                metadata=plan.metadata,
                manifest=plan.manifest,
                description=plan.description,
            )
        except TransactionRevertedError as exc:
            return f"mint reverted: {exc.reason}"
