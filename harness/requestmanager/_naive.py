"""A deliberately naive orchestrator, as the 2021 flow was: it signs and sends the
mint in one step and stores nothing before sending. After a crash between the mint
and StoreMintedToken, a resume mints again.

It exists so that scenarios can show their checks catch double issuance: run them
against this class and they must fail. Never use it for anything else.
"""

from __future__ import annotations

from typing import Any

from harness.requestmanager._mint import MintPlan
from harness.requestmanager._orchestrator import (
    AuditRequest,
    RequestManager,
    issue_arguments,
)
from harness.requestmanager._sequencer import Ticket


class NaiveRequestManager(RequestManager):
    def _mint_in_order(
        self, rid: str, request: AuditRequest, plan: MintPlan, ticket: Ticket
    ) -> Any:
        # Nothing is stored before the send: that is the flaw on show. The ticket
        # only keeps concurrent mints in nonce order, so the naive flow fails the
        # way the 2021 one did (twice minted), not on a rejected nonce.
        signed = self.token.build_issue(
            ticket.account, request.issuee, nonce=ticket.nonce, **issue_arguments(plan)
        )
        return self._send(ticket, signed)
