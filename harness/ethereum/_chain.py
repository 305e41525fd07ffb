"""The chain: a backend, named funded accounts, local signing and nonce tracking."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from harness.errors import (
    EthereumError,
    ReadinessTimeoutError,
    TransactionRevertedError,
)
from harness.ethereum._accounts import (
    DEFAULT_ACCOUNT_NAMES,
    DEFAULT_BALANCE_WEI,
    Account,
    Accounts,
    to_raw_address,
)
from harness.ethereum._backends import (
    ChainBackend,
    EthTesterBackend,
    NonceAlreadyUsed,
    RpcBackend,
    wait_for_receipt,
)
from harness.ethereum._tx import Receipt, SignedTransaction, sign_transaction

log = logging.getLogger(__name__)

DEFAULT_RECEIPT_TIMEOUT_S = 30.0
# Anvil 1.7 mining per transaction stalls for seconds with 32 or more unconfirmed
# transactions; 16 keeps it going (measured on a 2-core machine).
DEFAULT_WINDOW = 16
RESEND_AFTER_S = 0.5


@dataclass(frozen=True)
class Snapshot:
    """A point to revert the chain to."""

    raw_id: Any
    block_number: int


class Chain:
    """An Ethereum chain with named, funded accounts.

    Build one with :meth:`eth_tester` (in process), :meth:`connect` (any JSON-RPC
    node) or :func:`harness.ethereum.start_anvil`. Transactions are signed here with
    nonces tracked here, so a signed transaction can be recorded, sent, and resent.
    """

    def __init__(
        self,
        backend: ChainBackend,
        accounts: Accounts,
        *,
        url: str | None = None,
        owner: Any = None,
    ) -> None:
        self.backend = backend
        self.accounts = accounts
        self.url = url
        self._owner = owner  # a process to stop on close (Anvil)
        self.send_window = DEFAULT_WINDOW  # unconfirmed transactions at once
        self._nonces: dict[str, int] = {}
        self._nonce_lock = threading.Lock()

    # -- construction

    @classmethod
    def eth_tester(
        cls,
        account_names: Iterable[str] = DEFAULT_ACCOUNT_NAMES,
        *,
        balance_wei: int = DEFAULT_BALANCE_WEI,
    ) -> Chain:
        """A fresh in-process py-evm chain with the named accounts funded at genesis."""
        accounts = Accounts.named(account_names)
        started = time.perf_counter()
        backend = EthTesterBackend(
            {a.raw_address: balance_wei for a in accounts.values()}
        )
        log.info(
            "eth-tester chain up: %s accounts, chain id %s in %.2f s",
            len(accounts),
            backend.chain_id,
            time.perf_counter() - started,
        )
        return cls(backend, accounts)

    @classmethod
    def connect(
        cls,
        url: str,
        account_names: Iterable[str] = DEFAULT_ACCOUNT_NAMES,
        *,
        balance_wei: int = DEFAULT_BALANCE_WEI,
        fund: bool = True,
        owner: Any = None,
    ) -> Chain:
        """A JSON-RPC node (Hardhat, Anvil, Besu, ``harness chain serve``).

        With ``fund``, accounts below ``balance_wei`` are topped up through the
        node's ``anvil_setBalance`` / ``hardhat_setBalance``, else by a transfer
        from the node's first unlocked account.
        """
        backend = RpcBackend(url)
        chain = cls(backend, Accounts.named(account_names), url=url, owner=owner)
        if fund:
            chain._fund(balance_wei)
        log.info("connected to %s: chain id %s", url, backend.chain_id)
        return chain

    def _fund(self, balance_wei: int) -> None:
        needy = [
            a for a in self.accounts.values() if self.balance(a) < balance_wei // 2
        ]
        for account in needy:
            if self.backend.set_balance(account.raw_address, balance_wei):
                continue
            self._fund_by_transfer(account, balance_wei)

    def _fund_by_transfer(self, account: Account, wei: int) -> None:
        assert isinstance(self.backend, RpcBackend)
        unlocked = self.backend.request("eth_accounts", [])
        if not unlocked:
            raise EthereumError(
                f"cannot fund {account.name} ({account.address}) on {self.url}",
                hint="the node has no unlocked account and no setBalance method; "
                "fund the harness accounts yourself or pass fund=False",
            )
        tx_hash = self.backend.request(
            "eth_sendTransaction",
            [{"from": unlocked[0], "to": account.address, "value": hex(wei)}],
        )
        if (
            wait_for_receipt(self.backend, tx_hash, timeout=DEFAULT_RECEIPT_TIMEOUT_S)
            is None
        ):
            raise ReadinessTimeoutError(f"funding transfer {tx_hash} was not mined")

    # -- accounts and reads

    @property
    def chain_id(self) -> int:
        return self.backend.chain_id

    @property
    def kind(self) -> str:
        return self.backend.kind

    @property
    def served_by(self) -> int | None:
        """The pid of the process this Chain started to serve it (Anvil, a served
        eth-tester), while it runs; None for an in-process chain or a node it
        only connected to."""
        pid = getattr(self._owner, "pid", None)
        return pid if isinstance(pid, int) and pid > 0 else None

    def account(self, name: str) -> Account:
        return self.accounts[name]

    def balance(self, account: Account | str) -> int:
        return self.backend.balance(_raw(account))

    def block_number(self) -> int:
        return self.backend.block_number()

    def block_timestamp(self) -> int:
        return self.backend.block_timestamp()

    def call(
        self, to: str | bytes, data: bytes, *, sender: Account | None = None
    ) -> bytes:
        """A read-only call; a revert raises TransactionRevertedError with its reason."""
        if sender is None and self.accounts:
            sender = next(iter(self.accounts.values()))  # funded: gas is paid
        raw_sender = sender.raw_address if sender else None
        return self.backend.call(raw_sender, to_raw_address(to), data)

    # -- signing and sending

    def next_nonce(self, account: Account) -> int:
        """Reserve the account's next nonce (read from the chain the first time)."""
        with self._nonce_lock:
            nonce = self._nonces.get(account.address)
            if nonce is None:
                nonce = self.backend.nonce(account.raw_address)
            self._nonces[account.address] = nonce + 1
            return nonce

    def forget_nonces(self) -> None:
        """Re-read every nonce from the chain next time (after a revert or a crash)."""
        with self._nonce_lock:
            self._nonces.clear()

    def sign(
        self,
        sender: Account,
        *,
        to: str | bytes | None,
        data: bytes,
        gas: int,
        value: int = 0,
        nonce: int | None = None,
    ) -> SignedTransaction:
        """Sign locally. Without ``nonce`` the next one is reserved: send what you sign."""
        return sign_transaction(
            sender,
            chain_id=self.chain_id,
            nonce=self.next_nonce(sender) if nonce is None else nonce,
            to=to_raw_address(to) if to is not None else None,
            data=data,
            gas=gas,
            value=value,
        )

    def send(
        self, signed: SignedTransaction, *, timeout: float = DEFAULT_RECEIPT_TIMEOUT_S
    ) -> Receipt:
        """Send and wait for the receipt. Safe to repeat with the same transaction:

        one already mined returns its receipt and is not executed again.
        """
        log.debug(
            "send %s (nonce %s of %s)", signed.tx_hash, signed.nonce, signed.sender
        )
        try:
            receipt = self.backend.send_raw(signed.raw)
        except NonceAlreadyUsed:
            # Perhaps spent by this very transaction: its receipt tells. eth-tester
            # has no pool, so a missing receipt there is final at once.
            receipt = self.backend.receipt(signed.tx_hash)
            if receipt is None and self.backend.kind == "eth-tester":
                raise self._lost(signed, 0) from None
        except TransactionRevertedError as exc:
            # Hardhat answers a send that reverted with an error, yet mines it.
            receipt = wait_for_receipt(self.backend, signed.tx_hash, timeout=2.0)
            if receipt is None:
                raise TransactionRevertedError(
                    exc.reason, tx_hash=signed.tx_hash
                ) from None
        if receipt is None:
            receipt = wait_for_receipt(self.backend, signed.tx_hash, timeout=timeout)
        if receipt is None:
            raise self._lost(signed, timeout)
        return receipt

    def send_many(
        self,
        signed: Sequence[SignedTransaction],
        *,
        window: int | None = None,
        timeout: float = DEFAULT_RECEIPT_TIMEOUT_S,
    ) -> list[Receipt]:
        """Send in order with at most ``window`` unconfirmed at once; all receipts.

        Every transaction is waited for: one without a receipt after a while is sent
        again (the same bytes), so a node that drops part of a flood loses nothing.
        """
        if self.backend.kind == "eth-tester":
            return [self.send(s, timeout=timeout) for s in signed]
        window = window or self.send_window
        receipts: list[Receipt] = []
        for start in range(0, len(signed), window):
            chunk = signed[start : start + window]
            receipts.extend(self._send_window(chunk, timeout))
        return receipts

    def _send_window(
        self, chunk: Sequence[SignedTransaction], timeout: float
    ) -> list[Receipt]:
        outcomes = self.backend.send_raw_batch([s.raw for s in chunk])
        for tx, outcome in zip(chunk, outcomes, strict=True):
            accepted = (NonceAlreadyUsed, TransactionRevertedError)  # see send()
            if outcome is not None and not isinstance(outcome, accepted):
                raise EthereumError(f"{tx.tx_hash} was rejected: {outcome}")
        found: dict[str, Receipt] = {}
        deadline = time.monotonic() + timeout
        resend_at = time.monotonic() + RESEND_AFTER_S
        delay = 0.002
        while True:
            missing = [s for s in chunk if s.tx_hash not in found]
            if not missing:
                return [found[s.tx_hash] for s in chunk]
            for tx, receipt in zip(
                missing,
                self.backend.receipts([s.tx_hash for s in missing]),
                strict=True,
            ):
                if receipt is not None:
                    found[tx.tx_hash] = receipt
            if len(found) == len(chunk):
                continue
            now = time.monotonic()
            if now >= deadline:
                raise self._lost(
                    next(s for s in chunk if s.tx_hash not in found), timeout
                )
            if now >= resend_at:
                log.warning(
                    "%s transactions unconfirmed after %.1f s: sending them again",
                    len(chunk) - len(found),
                    now - (deadline - timeout),
                )
                self.backend.send_raw_batch(
                    [s.raw for s in chunk if s.tx_hash not in found]
                )
                resend_at = now + RESEND_AFTER_S * 2
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _lost(
        self, signed: SignedTransaction, timeout: float
    ) -> EthereumError | ReadinessTimeoutError:
        on_chain = self.backend.nonce(to_raw_address(signed.sender))
        if on_chain > signed.nonce:
            return EthereumError(
                f"{signed.tx_hash} has no receipt but nonce {signed.nonce} of "
                f"{signed.sender} is spent: another transaction took it",
                hint="forget_nonces() and sign again",
            )
        return ReadinessTimeoutError(
            f"no receipt for {signed.tx_hash} (nonce {signed.nonce}) after {timeout:.0f} s",
            hint=f"the {self.kind} node holds it unconfirmed; send it again later",
        )

    def transact(
        self, sender: Account, *, to: str | bytes | None, data: bytes, gas: int
    ) -> Receipt:
        """Sign, send, and raise TransactionRevertedError when the receipt failed."""
        signed = self.sign(sender, to=to, data=data, gas=gas)
        return self.check(self.send(signed), signed)

    def check(self, receipt: Receipt, signed: SignedTransaction) -> Receipt:
        if receipt.succeeded:
            return receipt
        reason = receipt.revert_reason or self._replay_reason(signed, receipt)
        raise TransactionRevertedError(reason, tx_hash=receipt.tx_hash)

    def _replay_reason(self, signed: SignedTransaction, receipt: Receipt) -> str:
        if receipt.gas_used >= signed.gas:
            return f"out of gas (gas limit {signed.gas})"
        if signed.to is None:
            return "contract creation failed"
        data = _tx_data(signed)
        try:
            self.backend.call(
                to_raw_address(signed.sender),
                to_raw_address(signed.to),
                data,
                max(receipt.block_number - 1, 0),
            )
        except TransactionRevertedError as exc:
            return exc.reason
        except EthereumError as exc:
            return f"reverted (replay failed: {exc})"
        return "reverted (the replay did not revert)"

    # -- state control

    def snapshot(self) -> Snapshot:
        return Snapshot(self.backend.snapshot(), self.block_number())

    def revert(self, snapshot: Snapshot) -> None:
        """Go back to ``snapshot``; local nonces are re-read afterwards."""
        self.backend.revert(snapshot.raw_id)
        self.forget_nonces()
        log.info("chain reverted to block %s", snapshot.block_number)

    def time_travel(self, timestamp: int) -> None:
        """Mine a block stamped ``timestamp`` (unix seconds, forward only)."""
        self.backend.time_travel(timestamp)

    def mine(self, blocks: int = 1) -> None:
        self.backend.mine(blocks)

    def close(self) -> None:
        self.backend.close()
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.stop()

    def __enter__(self) -> Chain:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "chain_id": self.chain_id,
            "url": self.url,
            "accounts": {name: a.address for name, a in self.accounts.items()},
        }


def _raw(account: Account | str) -> bytes:
    return (
        account.raw_address if isinstance(account, Account) else to_raw_address(account)
    )


def _tx_data(signed: SignedTransaction) -> bytes:
    import rlp

    fields = rlp.decode(signed.raw[1:])
    return bytes(fields[7])
