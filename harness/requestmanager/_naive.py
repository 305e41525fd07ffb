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
    AuditRequest,
    RequestManager,
    issue_arguments,
)


class NaiveRequestManager(RequestManager):
    def _mint_in_order(
        self,
        rid: str,
        request: AuditRequest,
        plan: MintPlan,
        signed: Any | None,
        auditor: Any,
    ) -> Any:
        try:
            return self.token.issue(auditor, request.issuee, **issue_arguments(plan))
        except TransactionRevertedError as exc:
            return f"mint reverted: {exc.reason}"
