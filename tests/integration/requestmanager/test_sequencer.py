"""The per-account nonce sequencer: alone on eth-tester, then under the Request
Manager with many audits on one auditor account."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.ethereum import Chain
from harness.requestmanager import (
    AuditRequest,
    AuditResult,
    OrchestratorCrash,
    RequestManager,
)
from harness.requestmanager._orchestrator import INTENT_STAGE
from harness.requestmanager._sequencer import Ticket, sequencer

from .conftest import System

AUDITOR = "emissions_auditor"


@pytest.fixture
def chain() -> Iterator[Chain]:
    with Chain.eth_tester() as fresh:
        yield fresh


def _nonce(chain: Chain, name: str = AUDITOR) -> int:
    return chain.backend.nonce(chain.account(name).raw_address)


# --- the sequencer alone ------------------------------------------------------------


def test_tickets_sent_in_reverse_order_all_go_out_in_nonce_order(chain: Chain) -> None:
    nonces = sequencer(chain, chain.account(AUDITOR))
    tickets = [nonces.take() for _ in range(5)]

    def send(ticket: Ticket) -> None:
        with ticket:
            ticket.send(_send_with_nonce(chain, ticket))

    threads = [threading.Thread(target=send, args=(t,)) for t in reversed(tickets)]
    for thread in threads:
        thread.start()
        time.sleep(0.02)  # the highest nonces are waiting before the lowest comes
    for thread in threads:
        thread.join(10)

    assert [t.nonce for t in tickets] == [0, 1, 2, 3, 4]
    assert _nonce(chain) == 5
    assert nonces.outstanding == 0


def test_an_unused_ticket_is_filled_and_later_ones_go_out(chain: Chain) -> None:
    nonces = sequencer(chain, chain.account(AUDITOR))
    first, unused, last = nonces.take(), nonces.take(), nonces.take()

    with pytest.raises(HarnessError, match="storing failed"), unused:
        raise HarnessError("storing failed")  # before its turn: fills at its turn
    with first:
        first.send(_send_with_nonce(chain, first))
    with last:
        last.send(_send_with_nonce(chain, last))

    assert _nonce(chain) == 3
    assert nonces.outstanding == 0


def test_adopting_a_nonce_ahead_fills_the_gap_below_it(chain: Chain) -> None:
    nonces = sequencer(chain, chain.account(AUDITOR))

    adopted = nonces.adopt(2)  # a dead orchestrator reserved 0 and 1, sent neither
    assert adopted is not None
    with adopted:
        adopted.send(_send_with_nonce(chain, adopted))

    assert _nonce(chain) == 3
    assert nonces.take().nonce == 3


def _send_with_nonce(chain: Chain, ticket: Ticket) -> Callable[[], Any]:
    signed = chain.sign(
        ticket.account,
        to=ticket.account.address,
        data=b"",
        gas=21_000,
        nonce=ticket.nonce,
    )
    return lambda: chain.send(signed)


# --- under the Request Manager, one auditor account ---------------------------------


class _IntentFails(RequestManager):
    """Storing the intent of ``failing`` fails after a while (others queue up)."""

    failing = ""

    def _stage(self, name: str, rid: str, **options: Any) -> bytes:
        if name == INTENT_STAGE and rid == self.failing:
            time.sleep(0.3)
            raise HarnessError(f"intent of {rid} not stored")
        return super()._stage(name, rid, **options)


def _requests(system: System, request_id: Callable, count: int) -> list[AuditRequest]:
    requests = []
    for _ in range(count):
        party, uuids = system.record(1)
        requests.append(AuditRequest(request_id("seq"), tuple(uuids), party_id=party))
    return requests


def _audit_all(
    manager: RequestManager, requests: list[AuditRequest]
) -> dict[str, AuditResult | BaseException]:
    def run(request: AuditRequest) -> AuditResult | BaseException:
        try:
            return manager.audit(request)
        except HarnessError as exc:
            return exc

    with ThreadPoolExecutor(len(requests)) as pool:
        outcomes = list(pool.map(run, requests))
    return {r.request_id: o for r, o in zip(requests, outcomes, strict=True)}


def test_many_concurrent_audits_on_one_auditor_all_mint(
    system: System, request_id: Callable
) -> None:
    requests = _requests(system, request_id, 12)
    nonce_before = _nonce(system.chain)
    tokens_before = system.token.token_count()

    outcomes = _audit_all(RequestManager(system.fabric, system.token), requests)

    assert all(isinstance(o, AuditResult) and o.minted for o in outcomes.values()), (
        outcomes
    )
    assert system.token.token_count() == tokens_before + 12
    assert _nonce(system.chain) == nonce_before + 12


def test_an_intent_that_cannot_be_stored_leaves_no_nonce_gap(
    system: System, request_id: Callable
) -> None:
    requests = _requests(system, request_id, 6)
    manager = _IntentFails(system.fabric, system.token)
    manager.failing = requests[0].request_id
    nonce_before = _nonce(system.chain)
    tokens_before = system.token.token_count()

    outcomes = _audit_all(manager, requests)
    later = _audit_all(manager, _requests(system, request_id, 2))

    failed = outcomes.pop(manager.failing)
    assert isinstance(failed, HarnessError)
    assert "not stored" in str(failed)
    assert all(isinstance(o, AuditResult) and o.minted for o in outcomes.values())
    assert all(isinstance(o, AuditResult) and o.minted for o in later.values())
    assert system.token.token_count() == tokens_before + 5 + 2
    assert _nonce(system.chain) == nonce_before + 5 + 1 + 2  # mints, filler, mints

    manager.failing = ""
    resumed = manager.resume(requests[0])  # its records stayed locked: finish it
    assert resumed.minted
    assert system.token.token_count() == tokens_before + 5 + 2 + 1


def test_a_crash_after_the_intent_among_other_audits_resumes_to_one_token(
    system: System, request_id: Callable
) -> None:
    crashed, *others = _requests(system, request_id, 5)
    crashing = RequestManager(system.fabric, system.token, crash_at="after-intent")
    manager = RequestManager(system.fabric, system.token)
    tokens_before = system.token.token_count()

    with ThreadPoolExecutor(2) as pool:
        crash = pool.submit(crashing.audit, crashed)
        rest = pool.submit(_audit_all, manager, others)
        with pytest.raises(OrchestratorCrash):
            crash.result()
        outcomes = rest.result()
    more = _audit_all(manager, _requests(system, request_id, 2))
    resumed = RequestManager(system.fabric, system.token).resume(crashed)

    assert all(isinstance(o, AuditResult) and o.minted for o in outcomes.values())
    assert all(isinstance(o, AuditResult) and o.minted for o in more.values())
    assert resumed.minted
    assert resumed.resumed
    assert system.token.token_count() == tokens_before + 4 + 2 + 1
    again = RequestManager(system.fabric, system.token).resume(crashed)
    assert again.token_id == resumed.token_id
    assert system.token.token_count() == tokens_before + 4 + 2 + 1
