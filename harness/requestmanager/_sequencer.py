"""Per-account nonce order for transactions that are signed long before they are sent.

An account's transactions must reach the chain in nonce order (eth-tester rejects a
higher nonce first; a node parks it until the gap closes). The Request Manager signs
a mint, stores it on Fabric (a whole Fabric transaction), then sends it; holding one
lock per account across all three steps serialised the Fabric writes. Here a lock is
held only to reserve a nonce: the holder gets a :class:`Ticket`, stores what it likes
in parallel with other holders, and :meth:`Ticket.send` waits until every lower
ticket of the account has been sent or filled.

A ticket that is never sent (the intent could not be stored, a simulated crash, any
exception) is filled: a zero-value transfer to itself takes its nonce, so later
tickets are not stuck behind a gap. Its holder does not wait: the filler goes out
at once when it is the turn, else from whoever settles the nonce below. A stored
transaction whose nonce went to a filler can never be mined, which the Request
Manager's resume already treats as void.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.ethereum import Account, Chain

log = logging.getLogger(__name__)

FILLER_GAS = 21_000
DEFAULT_TURN_TIMEOUT_S = 60.0
T = TypeVar("T")


class NonceTurnTimeout(HarnessError):
    """A ticket waited too long for the lower nonces of its account to go out."""

    exit_code = 1


class NonceSequencer:
    """The nonce order of one account on one chain, shared by every thread.

    Nonces below ``_next`` are settled (sent or filled); those from ``_next`` up to
    ``_issued`` are held by tickets. Settling happens only in nonce order, so no set
    of outstanding tickets is needed, only the abandoned ones (released unsent, or
    never held here): whoever settles the nonce below, or waits for a higher turn,
    fills them.
    """

    def __init__(self, chain: Chain, account: Account) -> None:
        self.chain = chain
        self.account = account
        self._cond = threading.Condition()
        self._next = 0
        self._issued = 0
        self._abandoned: set[int] = set()

    @property
    def outstanding(self) -> int:
        """Tickets taken and not yet settled."""
        with self._cond:
            return self._issued - self._next

    def take(self, timeout: float = DEFAULT_TURN_TIMEOUT_S) -> Ticket:
        """Reserve the account's next nonce."""
        with self._cond:
            self._sync_if_idle()
            nonce = self._issued
            self._issued += 1
        return Ticket(self, nonce, timeout)

    def adopt(
        self, nonce: int, timeout: float = DEFAULT_TURN_TIMEOUT_S
    ) -> Ticket | None:
        """A ticket for a transaction signed earlier (by a dead orchestrator, say).

        None when this process already handed ``nonce`` out: then it is settled on
        return, and the earlier transaction was sent or can never be. Nonces between
        the last one handed out and ``nonce`` nobody here holds: they are filled.
        """
        with self._cond:
            self._sync_if_idle()
            if nonce >= self._issued:
                self._abandoned.update(range(self._issued, nonce))
                self._issued = nonce + 1
                return Ticket(self, nonce, timeout)
        self._await_settled(nonce, time.monotonic() + timeout)
        return None

    # --- turns --------------------------------------------------------------------

    def _sync_if_idle(self) -> None:
        # With no ticket out, the chain is the authority: transactions sent by
        # others (or by a chain revert) move it, and nothing here would know.
        if self._issued == self._next and not self._abandoned:
            nonce = self.chain.backend.nonce(self.account.raw_address)
            self._next = self._issued = nonce

    def await_turn(self, nonce: int, deadline: float) -> None:
        """Return once every lower nonce is settled, filling abandoned ones on the way."""
        while True:
            with self._cond:
                gap = self._claim_gap_or_wait(nonce, deadline)
            if gap is None:
                return
            self.fill(gap)
            self.settle(gap)

    def _claim_gap_or_wait(self, nonce: int, deadline: float) -> int | None:
        while self._next != nonce:
            if self._next in self._abandoned:
                self._abandoned.discard(self._next)
                return self._next
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NonceTurnTimeout(
                    f"nonce {nonce} of {self.account.address} waited for nonce "
                    f"{self._next}, which was not sent",
                    hint="a ticket holder is stuck (Fabric or the node not answering)",
                )
            self._cond.wait(remaining)
        return None

    def _await_settled(self, nonce: int, deadline: float) -> None:
        with self._cond:
            while self._next <= nonce:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise NonceTurnTimeout(
                        f"nonce {nonce} of {self.account.address} was not settled"
                    )
                self._cond.wait(remaining)

    def settle(self, nonce: int) -> None:
        """Mark ``nonce`` sent or filled, then fill the abandoned ones right above it
        (their holders did not wait for their turn)."""
        while True:
            with self._cond:
                if self._next == nonce:
                    self._next = nonce + 1
                self._cond.notify_all()
                if self._next not in self._abandoned:
                    return
                self._abandoned.discard(self._next)
                nonce = self._next
            self.fill(nonce)

    def release(self, nonce: int) -> None:
        """Give up an unsent ``nonce``: filled now if it is its turn, else by whoever
        settles the nonce below it (so the holder never waits to give up)."""
        with self._cond:
            if self._next != nonce:
                if nonce > self._next:
                    self._abandoned.add(nonce)
                self._cond.notify_all()
                return
        self.fill(nonce)
        self.settle(nonce)

    def spent(self, nonce: int) -> bool:
        """The chain (with its pool, for a node) has a transaction with ``nonce``."""
        return self.chain.backend.nonce(self.account.raw_address) > nonce

    def fill(self, nonce: int) -> None:
        """Take ``nonce`` with a zero-value transfer to the account itself (its turn
        held). A failure is logged: the nonce is then taken by something else."""
        filler = self.chain.sign(
            self.account,
            to=self.account.address,
            data=b"",
            gas=FILLER_GAS,
            nonce=nonce,
        )
        try:
            self.chain.send(filler)
        except HarnessError as exc:
            log.warning("filler for nonce %s of %s: %s", nonce, self.account.name, exc)
            return
        log.info("nonce %s of %s filled (%s)", nonce, self.account.name, filler.tx_hash)


class Ticket:
    """One reserved nonce. Use it as a context manager: leaving it unsent (by an
    exception or otherwise) fills the nonce at its turn."""

    def __init__(self, sequencer: NonceSequencer, nonce: int, timeout: float) -> None:
        self.sequencer = sequencer
        self.nonce = nonce
        self.account = sequencer.account
        self._deadline = time.monotonic() + timeout
        self._settled = False

    def send(self, send: Callable[[], T]) -> T:
        """Run ``send`` (which sends this nonce's transaction) at the ticket's turn."""
        if self._settled:
            raise HarnessError(f"ticket for nonce {self.nonce} was already used")
        self._await_turn()
        self._settled = True
        try:
            return send()
        except BaseException:
            # Rejected before it reached the chain (or its pool): the nonce is free.
            if not self.sequencer.spent(self.nonce):
                self.sequencer.fill(self.nonce)
            raise
        finally:
            self.sequencer.settle(self.nonce)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._settled:
            return
        self._settled = True
        log.info(
            "nonce %s of %s unused (%s): filling it",
            self.nonce,
            self.account.name,
            exc_type.__name__ if exc_type else "not sent",
        )
        self.sequencer.release(self.nonce)

    def _await_turn(self) -> None:
        try:
            self.sequencer.await_turn(self.nonce, self._deadline)
        except NonceTurnTimeout:
            self._settled = True
            self.sequencer.release(self.nonce)
            raise


_SEQUENCERS: weakref.WeakKeyDictionary[Chain, dict[str, NonceSequencer]] = (
    weakref.WeakKeyDictionary()
)
_SEQUENCERS_GUARD = threading.Lock()


def sequencer(chain: Chain, account: Account) -> NonceSequencer:
    """The one sequencer of ``account`` on ``chain`` in this process."""
    with _SEQUENCERS_GUARD:
        per_chain = _SEQUENCERS.setdefault(chain, {})
        key = account.address.lower()
        if key not in per_chain:
            per_chain[key] = NonceSequencer(chain, account)
        return per_chain[key]
