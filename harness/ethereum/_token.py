"""The token client: deploy the emissions token network, register roles, issue, read.

Transactions are built and signed here (known nonce, fixed gas limit) and sent
through the chain; :meth:`TokenClient.build_issue` hands the signed transaction to
the caller first, so it can be recorded before it is sent and resent after a crash
without ever minting twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from harness.errors import EthereumError, TransactionRevertedError
from harness.ethereum._abi import DecodedEvent
from harness.ethereum._accounts import Account, to_checksum, to_raw_address
from harness.ethereum._artifacts import ContractArtifact, default_token_artifact
from harness.ethereum._chain import Chain
from harness.ethereum._tx import Receipt, SignedTransaction

log = logging.getLogger(__name__)

DEPLOY_GAS = 6_000_000
ROLE_GAS = 150_000
TRANSFER_GAS = 200_000
AUDITED_EMISSIONS_DESCRIPTION = "Audited Utility Emissions"


class TokenType(IntEnum):
    RENEWABLE_ENERGY_CERTIFICATE = 1
    CARBON_EMISSIONS_OFFSET = 2
    AUDITED_EMISSIONS = 3


# Which named account deals which token type when roles are registered by default.
DEFAULT_DEALERS = {
    "rec_dealer": TokenType.RENEWABLE_ENERGY_CERTIFICATE,
    "offset_dealer": TokenType.CARBON_EMISSIONS_OFFSET,
    "emissions_auditor": TokenType.AUDITED_EMISSIONS,
}


@dataclass(frozen=True)
class TokenCreated:
    """The TokenCreated event, fields in the contract's order, and where it came from."""

    available_balance: int
    retired_balance: int
    token_id: int
    token_type_id: int
    issuer: str
    issuee: str
    from_date: int
    thru_date: int
    date_created: int
    automatic_retire_date: int
    metadata: str
    manifest: str
    description: str
    tx_hash: str
    block_number: int


@dataclass(frozen=True)
class Balances:
    available: int
    retired: int


@dataclass(frozen=True)
class Roles:
    admin: bool
    rec_dealer: bool
    offset_dealer: bool
    emissions_auditor: bool
    consumer: bool
    dealer: bool


Who = Account | str


class TokenClient:
    """Drive one deployed emissions token network contract."""

    def __init__(
        self,
        chain: Chain,
        address: str,
        artifact: ContractArtifact | None = None,
        *,
        issue_gas: int | None = None,
    ) -> None:
        self.chain = chain
        self.artifact = artifact if artifact is not None else default_token_artifact()
        self.abi = self.artifact.abi
        self.address = to_checksum(to_raw_address(address))
        self._raw_address = to_raw_address(address)
        self._issue_gas = issue_gas

    # -- deployment and roles

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        *,
        admin: Who = "admin",
        artifact: ContractArtifact | None = None,
        constructor_args: tuple[Any, ...] = (),
        gas: int = DEPLOY_GAS,
        issue_gas: int | None = None,
    ) -> TokenClient:
        """Deploy the contract (the harness's own unless ``artifact`` is given)."""
        artifact = artifact if artifact is not None else default_token_artifact()
        artifact.require_token_interface()
        deployer = _account(chain, admin)
        data = artifact.bytecode + artifact.abi.encode_constructor(constructor_args)
        receipt = chain.transact(deployer, to=None, data=data, gas=gas)
        if not receipt.contract_address:
            raise EthereumError(f"deploying {artifact.name} created no contract")
        log.info(
            "deployed %s at %s (gas %s)",
            artifact.name,
            receipt.contract_address,
            receipt.gas_used,
        )
        return cls(chain, receipt.contract_address, artifact, issue_gas=issue_gas)

    def register_dealer(
        self, account: Who, token_type: int, *, by: Who = "admin"
    ) -> Receipt:
        who = self._address(account)
        return self._transact(by, "registerDealer", [who, int(token_type)], ROLE_GAS)

    def unregister_dealer(
        self, account: Who, token_type: int, *, by: Who = "admin"
    ) -> Receipt:
        who = self._address(account)
        return self._transact(by, "unregisterDealer", [who, int(token_type)], ROLE_GAS)

    def register_consumer(self, account: Who, *, by: Who = "admin") -> Receipt:
        return self._transact(
            by, "registerConsumer", [self._address(account)], ROLE_GAS
        )

    def unregister_consumer(self, account: Who, *, by: Who = "admin") -> Receipt:
        who = self._address(account)
        return self._transact(by, "unregisterConsumer", [who], ROLE_GAS)

    def register_default_roles(self, *, by: Who = "admin") -> None:
        """Dealers for the three token types, and every ``consumer*`` account."""
        for name, token_type in DEFAULT_DEALERS.items():
            if name in self.chain.accounts:
                self.register_dealer(name, token_type, by=by)
        for name in self.chain.accounts:
            if name.startswith("consumer"):
                self.register_consumer(name, by=by)

    # -- issue

    def build_issue(
        self,
        issuer: Who,
        issuee: Who,
        *,
        token_type: int,
        quantity: int,
        from_date: int,
        thru_date: int,
        automatic_retire_date: int = 0,
        metadata: str = "",
        manifest: str = "",
        description: str = "",
        nonce: int | None = None,
    ) -> SignedTransaction:
        """Sign an issue() transaction without sending it (record it, then send)."""
        args = [
            self._address(issuee),
            int(token_type),
            int(quantity),
            int(from_date),
            int(thru_date),
            int(automatic_retire_date),
            metadata,
            manifest,
            description,
        ]
        data = self.abi.encode_call("issue", args)
        gas = self._issue_gas or issue_gas_limit(metadata, manifest, description)
        return self.chain.sign(
            _account(self.chain, issuer),
            to=self._raw_address,
            data=data,
            gas=gas,
            nonce=nonce,
        )

    def send_issue(self, signed: SignedTransaction) -> TokenCreated:
        """Send (or resend) a signed issue(); the TokenCreated it produced, once."""
        try:
            receipt = self.chain.check(self.chain.send(signed), signed)
        except TransactionRevertedError as exc:
            raise TransactionRevertedError(
                exc.reason, tx_hash=exc.tx_hash, function="issue"
            ) from None
        return self.token_created(receipt)

    def issue(
        self,
        issuer: Who,
        issuee: Who,
        *,
        token_type: int,
        quantity: int,
        from_date: int,
        thru_date: int,
        automatic_retire_date: int = 0,
        metadata: str = "",
        manifest: str = "",
        description: str = "",
    ) -> TokenCreated:
        signed = self.build_issue(
            issuer,
            issuee,
            token_type=token_type,
            quantity=quantity,
            from_date=from_date,
            thru_date=thru_date,
            automatic_retire_date=automatic_retire_date,
            metadata=metadata,
            manifest=manifest,
            description=description,
        )
        return self.send_issue(signed)

    def issue_many(
        self, issues: list[dict[str, Any]], *, window: int | None = None
    ) -> list[TokenCreated]:
        """Issue many (each a dict of :meth:`build_issue`'s arguments), pipelined.

        On a JSON-RPC node at most ``window`` are unconfirmed at once and every
        receipt is awaited (see :meth:`Chain.send_many`).
        """
        signed = [self.build_issue(**spec) for spec in issues]
        kwargs = {} if window is None else {"window": window}
        receipts = self.chain.send_many(signed, **kwargs)
        return [
            self.token_created(self.chain.check(r, s))
            for r, s in zip(receipts, signed, strict=True)
        ]

    def find_issue(self, tx_hash: str) -> TokenCreated | None:
        """The token a recorded issue() transaction created, or None if not mined."""
        receipt = self.chain.backend.receipt(tx_hash)
        if receipt is None or not receipt.succeeded:
            return None
        return self.token_created(receipt)

    # -- retire and transfer

    def retire(self, account: Who, token_id: int, amount: int) -> Receipt:
        return self._transact(account, "retire", [token_id, amount], TRANSFER_GAS)

    def transfer(self, sender: Who, to: Who, token_id: int, amount: int) -> Receipt:
        args = [self._address(to), token_id, amount]
        return self._transact(sender, "transfer", args, TRANSFER_GAS)

    # -- reads

    def token_created(self, receipt: Receipt) -> TokenCreated:
        """The TokenCreated event in a receipt."""
        for event in self.events(receipt):
            if event.name == "TokenCreated":
                return _token_created(event.args, receipt)
        raise EthereumError(f"{receipt.tx_hash} emitted no TokenCreated event")

    def events(self, receipt: Receipt) -> list[DecodedEvent]:
        """This contract's events in a receipt, in log order."""
        decoded = []
        for entry in receipt.logs:
            if entry.address.lower() != self.address.lower():
                continue
            event = self.abi.decode_log(
                entry.address, entry.topics, entry.data, entry.log_index
            )
            if event is not None:
                decoded.append(event)
        return decoded

    def balances(self, account: Who, token_id: int) -> Balances:
        available, retired = self._read(
            "getAvailableAndRetired", [self._address(account), token_id]
        )
        return Balances(int(available), int(retired))

    def token_count(self) -> int:
        return int(self._read("getNumOfUniqueTokens", [])[0])

    def token_details(self, token_id: int) -> dict[str, Any]:
        (raw,) = self._read("getTokenDetails", [token_id])
        names = [
            "token_id",
            "token_type_id",
            "issuer",
            "issuee",
            "from_date",
            "thru_date",
            "date_created",
            "automatic_retire_date",
            "metadata",
            "manifest",
            "description",
        ]
        details = dict(zip(names, raw, strict=True))
        for key in ("issuer", "issuee"):
            details[key] = to_checksum(to_raw_address(details[key]))
        return details

    def roles(self, account: Who) -> Roles:
        (flags,) = self._read("getRoles", [self._address(account)])
        return Roles(*(bool(f) for f in flags))

    # -- plumbing

    def _transact(
        self, sender: Who, function: str, args: list[Any], gas: int
    ) -> Receipt:
        data = self.abi.encode_call(function, args)
        signed = self.chain.sign(
            _account(self.chain, sender), to=self._raw_address, data=data, gas=gas
        )
        receipt = self.chain.send(signed)
        try:
            return self.chain.check(receipt, signed)
        except TransactionRevertedError as exc:
            raise TransactionRevertedError(
                exc.reason, tx_hash=exc.tx_hash, function=function
            ) from None

    def _read(self, function: str, args: list[Any]) -> tuple[Any, ...]:
        data = self.abi.encode_call(function, args)
        try:
            output = self.chain.call(self._raw_address, data)
        except TransactionRevertedError as exc:
            raise TransactionRevertedError(exc.reason, function=function) from None
        return self.abi.decode_output(function, output)

    def _address(self, who: Who) -> str:
        if isinstance(who, Account):
            return who.address
        if who in self.chain.accounts:
            return self.chain.accounts[who].address
        return to_checksum(to_raw_address(who))


def issue_gas_limit(*texts: str) -> int:
    """A fixed gas limit for issue() that covers storing ``texts``.

    Estimating costs a second EVM run per transaction; this bound is cheap and
    generous (about 22k gas per stored 32-byte word, calldata and log bytes).
    """
    words = sum(len(t.encode()) // 32 + 2 for t in texts)
    size = sum(len(t.encode()) for t in texts)
    return 300_000 + 23_000 * words + 40 * size


def _account(chain: Chain, who: Who) -> Account:
    if isinstance(who, Account):
        return who
    account = chain.accounts.by_address(who) if who.startswith("0x") else None
    return account if account is not None else chain.accounts[who]


def _token_created(args: dict[str, Any], receipt: Receipt) -> TokenCreated:
    return TokenCreated(
        available_balance=int(args["availableBalance"]),
        retired_balance=int(args["retiredBalance"]),
        token_id=int(args["tokenId"]),
        token_type_id=int(args["tokenTypeId"]),
        issuer=to_checksum(to_raw_address(args["issuer"])),
        issuee=to_checksum(to_raw_address(args["issuee"])),
        from_date=int(args["fromDate"]),
        thru_date=int(args["thruDate"]),
        date_created=int(args["dateCreated"]),
        automatic_retire_date=int(args["automaticRetireDate"]),
        metadata=str(args["metadata"]),
        manifest=str(args["manifest"]),
        description=str(args["description"]),
        tx_hash=receipt.tx_hash,
        block_number=receipt.block_number,
    )
