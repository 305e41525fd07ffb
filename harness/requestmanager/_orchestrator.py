"""The Request Manager: lock emissions records on Fabric, mint the audited-emissions
token on Ethereum, write the token id back and unlock, exactly once.

The flow runs as datalock stages of one transition, keyed by the caller's request
id::

    startTransitionProcess
    GetValidEmissions   lock the records (getValidEmissions inside the same tx)
    PrepareMint         store the signed issue() transaction, BEFORE sending it
    (send it)           Ethereum
    StoreMintedToken    store "<contract>:<tokenId>"
    MintedTokenUpdate   stamp every record with the token id and free it (last)

Exactly-once: the mint is a locally signed transaction with a fixed nonce, stored on
Fabric before it is sent. A resume after a crash at any point either finds that
transaction's receipt or sends the very same bytes again; only when its nonce was
spent by another transaction (so it can never be mined) is a new one signed and
stored in its place. The 2021 flow signed and sent in one step and could mint twice.

A mint that reverts rolls back: the records are freed untouched and the transition
returns to NOT-PROCESSING, so the same request id can be retried.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.errors import HarnessError, TransactionRevertedError
from harness.requestmanager._journal import Journal
from harness.requestmanager._mint import MintPlan, plan_mint
from harness.requestmanager._policy import AuditPolicy
from harness.requestmanager._sequencer import NonceSequencer, Ticket, sequencer

log = logging.getLogger(__name__)

LOCK_STAGE = "GetValidEmissions"
INTENT_STAGE = "PrepareMint"
STORE_STAGE = "StoreMintedToken"
UPDATE_STAGE = "MintedTokenUpdate"
ROLLBACK_STAGE = "RollbackMint"
STAGES = (LOCK_STAGE, INTENT_STAGE, STORE_STAGE, UPDATE_STAGE)

CrashPoint = Literal[
    "after-start",
    "after-lock",
    "after-intent",
    "after-mint",
    "after-store",
    "after-update",
]
CRASH_POINTS: tuple[CrashPoint, ...] = (
    "after-start",
    "after-lock",
    "after-intent",
    "after-mint",
    "after-store",
    "after-update",
)
Status = Literal["minted", "refused", "rolled-back"]
AUDITED_EMISSIONS = 3
_MISMATCH_RETRIES = 3
_MISMATCH_BACKOFF_S = 0.05


class OrchestratorCrash(HarnessError):
    """A simulated crash: the orchestrator stops dead, leaving what it left."""

    exit_code = 1


class RequestManagerError(HarnessError):
    """Fabric or Ethereum answered something the flow cannot go on from."""

    exit_code = 1


@dataclass(frozen=True)
class AuditRequest:
    """Audit ``uuids`` for ``issuee``; ``party_id`` is the raw id the records were
    filed under (the chaincode stores its hash)."""

    request_id: str
    uuids: tuple[str, ...]
    issuee: str = "consumer_1"
    party_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "uuids": list(self.uuids),
            "issuee": self.issuee,
            "party_id": self.party_id,
        }

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> AuditRequest:
        return cls(
            request_id=str(entry["request_id"]),
            uuids=tuple(str(u) for u in entry["uuids"]),
            issuee=str(entry.get("issuee") or "consumer_1"),
            party_id=str(entry.get("party_id") or ""),
        )


@dataclass
class AuditResult:
    request_id: str
    status: Status
    uuids: list[str] = field(default_factory=list)
    token_id: int | None = None
    token_ref: str | None = None
    quantity: int | None = None
    tx_hash: str | None = None
    reason: str = ""
    resumed: bool = False
    stages_ms: dict[str, float] = field(default_factory=dict)

    @property
    def minted(self) -> bool:
        return self.status == "minted"

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "status": self.status,
            "uuids": self.uuids,
            "token_id": self.token_id,
            "token_ref": self.token_ref,
            "quantity": self.quantity,
            "tx_hash": self.tx_hash,
            "reason": self.reason,
            "resumed": self.resumed,
            "stages_ms": {k: round(v, 3) for k, v in self.stages_ms.items()},
        }


class RequestManager:
    """The orchestrator. One instance may serve many requests, from many threads.

    ``crash_at`` names a stage boundary where it stops dead (for crash tests); a
    replacement instance finishes the work with :meth:`resume` or :meth:`recover`.
    """

    def __init__(
        self,
        fabric: Any,
        token: Any,
        *,
        channel: str = "utilityemissionchannel",
        auditor: str | Sequence[str] = "emissions_auditor",
        policy: AuditPolicy | None = None,
        journal: Path | None = None,
        crash_at: CrashPoint | None = None,
        lock_chaincode: str = "datalock",
        data_chaincode: str = "utilityemissions",
    ) -> None:
        self.fabric = fabric
        self.token = token
        self.channel = channel
        # several auditor accounts mint in parallel: each has its own nonce order
        self.auditors = (auditor,) if isinstance(auditor, str) else tuple(auditor)
        if not self.auditors:
            raise RequestManagerError("a Request Manager needs at least one auditor")
        self._rotation = itertools.count()
        self.policy = policy
        self.journal = Journal(journal) if journal is not None else None
        self.crash_at = crash_at
        self.lock_chaincode = lock_chaincode
        self.data_chaincode = data_chaincode
        # a new orchestrator trusts the chain's nonces, not a dead one's memory
        token.chain.forget_nonces()

    # --- the public flow ------------------------------------------------------------

    def audit(self, request: AuditRequest) -> AuditResult:
        """Run an audit from the start. Refusals are results, not exceptions."""
        timer = _Timer()
        with timer.stage("check"):
            records = self._records(request.uuids)
            if isinstance(records, str):
                return AuditResult(request.request_id, "refused", reason=records)
            if self.policy is not None:
                reason = self.policy.refusal(records)
                if reason is not None:
                    log.info("request %s refused by policy", request.request_id)
                    return AuditResult(request.request_id, "refused", reason=reason)
        if self.journal is not None:
            self.journal.append(request.to_json())
        refusal = self._start(request.request_id)
        if refusal is not None:
            return AuditResult(request.request_id, "refused", reason=refusal)
        self._crash("after-start")
        return self._proceed(request, {}, timer)

    def resume(self, request: AuditRequest | str) -> AuditResult:
        """Finish (or roll back) what an earlier orchestrator left of a request."""
        if isinstance(request, str):
            request = self._journaled(request)
        details = self._details(request.request_id)
        if details is None:
            return self.audit(request)
        if details["state"] == "FINISHED":
            return self._finished_result(request, details)
        if details["state"] == "PROCESSING":
            # the orchestrator that owned it is gone: hand the transition over
            self._datalock("endTransitionProcess", request.request_id)
        refusal = self._start(request.request_id)
        if refusal is not None:
            return AuditResult(request.request_id, "refused", reason=refusal)
        result = self._proceed(request, _completed_stages(details), _Timer())
        result.resumed = True
        return result

    def recover(self) -> list[AuditResult]:
        """Resume every journaled request that has not finished."""
        if self.journal is None:
            raise RequestManagerError("recover() needs a journal; pass journal=PATH")
        results = []
        for entry in self.journal.entries().values():
            request = AuditRequest.from_json(entry)
            details = self._details(request.request_id)
            if details is not None and details["state"] == "FINISHED":
                continue
            results.append(self.resume(request))
        return results

    def rehearse_on_fabric(
        self, request: AuditRequest, *, intent: str, token_ref: str
    ) -> None:
        """Every Fabric transaction of an audit, in order and with the same
        arguments, the mint left out: ``intent`` stands for the stored transaction
        and ``token_ref`` for the minted token. What Fabric alone gives an audit is
        what a benchmark measures this with; the records end up stamped."""
        rid = request.request_id
        records = self._records(request.uuids)
        if isinstance(records, str):
            raise RequestManagerError(f"rehearsal {rid}: {records}")
        refusal = self._start(rid)
        if refusal is not None:
            raise RequestManagerError(f"rehearsal {rid}: {refusal}")
        try:
            locked = self._lock(request)
            if isinstance(locked, str):
                raise RequestManagerError(f"rehearsal {rid}: {locked}")
            uuids = [str(r["uuid"]) for r in locked]
            if not uuids:
                self._datalock("endTransitionProcess", rid)
                raise RequestManagerError(
                    f"rehearsal {rid}: no record of the request is still unminted"
                )
            self._stage(INTENT_STAGE, rid, storage={"mintTx": intent})
            self._stage(STORE_STAGE, rid, storage={"tokenId": token_ref})
            self._stage(
                UPDATE_STAGE,
                rid,
                free=(
                    uuids,
                    ["updateEmissionsMintedToken", token_ref, request.party_id],
                ),
                is_last=True,
            )
        except _Refused as refused:
            # hand the transition back (its locks stay, as after a crash)
            self._datalock("endTransitionProcess", rid)
            raise RequestManagerError(f"rehearsal {rid}: {refused.reason}") from None

    # --- stages ---------------------------------------------------------------------

    def _proceed(
        self, request: AuditRequest, done: Mapping[str, Any], timer: _Timer
    ) -> AuditResult:
        rid = request.request_id
        if LOCK_STAGE in done:
            uuids = _locked_uuids(done[LOCK_STAGE], self.data_chaincode)
            fetched = self._records(tuple(uuids))
            if isinstance(fetched, str):
                raise RequestManagerError(
                    f"request {rid}: locked records vanished: {fetched}"
                )
            records: list[dict[str, Any]] = fetched
        else:
            with timer.stage("lock"):
                locked = self._lock(request)
            if isinstance(locked, str):
                return AuditResult(rid, "refused", reason=locked, stages_ms=timer.ms)
            records = locked
            self._crash("after-lock")
        uuids = [str(r["uuid"]) for r in records]
        if not records:
            self._datalock("endTransitionProcess", rid)
            reason = "no record of the request is still unminted"
            return AuditResult(rid, "refused", uuids=uuids, reason=reason)

        plan = plan_mint(records, self.fabric.identity.msp_id)
        signed = None
        if INTENT_STAGE in done:
            signed = _stored_transaction(done[INTENT_STAGE])
        with timer.stage("mint"):
            outcome = self._mint(rid, request, plan, signed)
        if isinstance(outcome, str):
            self._rollback(rid, uuids, outcome)
            return AuditResult(
                rid, "rolled-back", uuids=uuids, reason=outcome, stages_ms=timer.ms
            )
        created = outcome
        self._crash("after-mint")
        token_ref = f"{self.token.address}:{created.token_id}"

        if STORE_STAGE not in done:
            with timer.stage("record"):
                self._stage(STORE_STAGE, rid, storage={"tokenId": token_ref})
            self._crash("after-store")
        with timer.stage("unlock"):
            self._stage(
                UPDATE_STAGE,
                rid,
                free=(
                    uuids,
                    ["updateEmissionsMintedToken", token_ref, request.party_id],
                ),
                is_last=True,
            )
        self._crash("after-update")
        log.info(
            "request %s minted token %s for %d records", rid, token_ref, len(uuids)
        )
        return AuditResult(
            rid,
            "minted",
            uuids=uuids,
            token_id=created.token_id,
            token_ref=token_ref,
            quantity=created.available_balance + created.retired_balance,
            tx_hash=created.tx_hash,
            stages_ms=timer.ms,
        )

    def _lock(self, request: AuditRequest) -> list[dict[str, Any]] | str:
        """Lock the unminted records; a refusal reason when another request holds one."""
        uuids = list(request.uuids)
        try:
            reply = self._stage(
                LOCK_STAGE, request.request_id, lock=(uuids, ["getValidEmissions"])
            )
        except _Refused as refused:
            self._datalock("endTransitionProcess", request.request_id)
            return refused.reason
        encoded = json.loads(reply)["data_locks"][self.data_chaincode]
        records: list[dict[str, Any]] = json.loads(base64.b64decode(encoded) or b"[]")
        return records

    def _mint(
        self, rid: str, request: AuditRequest, plan: MintPlan, signed: Any | None
    ) -> Any:
        """The TokenCreated of this request's mint, or a revert reason.

        Only reserving a nonce is serialised per auditor account: the intent is
        stored on Fabric in parallel with other audits, and the account's sequencer
        sends in nonce order (eth-tester, like a node without a queue for future
        nonces, takes an account's transactions only in that order).
        """
        if signed is not None:
            outcome = self._stored_outcome(rid, signed)
            if outcome is not _VOID:
                return outcome
        with self._ticket() as ticket:
            return self._mint_in_order(rid, request, plan, ticket)

    def _mint_in_order(
        self, rid: str, request: AuditRequest, plan: MintPlan, ticket: Ticket
    ) -> Any:
        """Sign with the ticket's nonce, store the intent, send it at its turn. Any
        exception before the send leaves the ticket to be filled on the way out."""
        signed = self.token.build_issue(
            ticket.account, request.issuee, nonce=ticket.nonce, **issue_arguments(plan)
        )
        self._stage(INTENT_STAGE, rid, storage={"mintTx": json.dumps(signed.to_json())})
        self._crash("after-intent")
        return self._send(ticket, signed)

    def _stored_outcome(self, rid: str, signed: Any) -> Any:
        """What a transaction stored by an earlier attempt gave, sending it (again)
        while it can still be mined; _VOID once its nonce went to another one."""
        chain = self.token.chain
        receipt = chain.backend.receipt(signed.tx_hash)
        if receipt is not None:
            return self._created_or_reason(signed, receipt)
        if chain.backend.nonce(_raw(signed.sender)) <= signed.nonce:
            ticket = self._sequencer(signed.sender).adopt(signed.nonce)
            if ticket is not None:
                with ticket:
                    return self._send(ticket, signed)
            # this process had handed that nonce out and has settled it since
            receipt = chain.backend.receipt(signed.tx_hash)
            if receipt is not None:
                return self._created_or_reason(signed, receipt)
        log.warning(
            "request %s: stored mint %s can never be mined", rid, signed.tx_hash
        )
        return _VOID

    def _send(self, ticket: Ticket, signed: Any) -> Any:
        try:
            return ticket.send(lambda: self.token.send_issue(signed))
        except TransactionRevertedError as exc:
            return f"mint reverted: {exc.reason}"

    def _ticket(self) -> Ticket:
        """A nonce of the auditor with the fewest tickets out (rotation breaks ties)."""
        start = next(self._rotation)
        count = len(self.auditors)
        order = [self.auditors[(start + i) % count] for i in range(count)]
        quietest = min((self._sequencer(who) for who in order), key=_outstanding)
        return quietest.take()

    def _sequencer(self, who: str) -> NonceSequencer:
        chain = self.token.chain
        if not who.startswith("0x"):
            return sequencer(chain, chain.account(who))  # unknown: ConfigError
        account = chain.accounts.by_address(who)
        if account is None:
            raise RequestManagerError(
                f"{who} is not an account of this chain: no key to send or fill with",
                hint="resume with the chain accounts the mint was signed with",
            )
        return sequencer(chain, account)

    def _created_or_reason(self, signed: Any, receipt: Any) -> Any:
        try:
            self.token.chain.check(receipt, signed)
        except TransactionRevertedError as exc:
            return f"mint reverted: {exc.reason}"
        return self.token.token_created(receipt)

    def _rollback(self, rid: str, uuids: list[str], reason: str) -> None:
        self._stage(
            ROLLBACK_STAGE,
            rid,
            free=(uuids, ["getValidEmissions"]),
            storage={"reason": reason},
        )
        self._datalock("endTransitionProcess", rid)
        log.warning("request %s rolled back: %s", rid, reason)

    # --- Fabric -------------------------------------------------------------------------

    def _stage(
        self,
        name: str,
        rid: str,
        *,
        lock: tuple[list[str], list[str]] | None = None,
        free: tuple[list[str], list[str]] | None = None,
        storage: Mapping[str, str] | None = None,
        is_last: bool = False,
    ) -> bytes:
        update: dict[str, Any] = {"tx_id": rid, "name": name, "is_last": is_last}
        if lock is not None:
            keys, params = lock
            update["data_locks"] = {
                self.data_chaincode: {"keys": keys, "params": [*params, *keys]}
            }
        if free is not None:
            keys, params = free
            update["data_free"] = {
                self.data_chaincode: {"keys": keys, "params": [*params, *keys]}
            }
        update["storage"] = dict(storage or {})
        return self._datalock("stageUpdate", json.dumps(update, separators=(",", ":")))

    def _start(self, rid: str) -> str | None:
        try:
            self._datalock("startTransitionProcess", rid)
        except _Refused as refused:
            return refused.reason
        return None

    def _datalock(self, function: str, argument: str) -> bytes:
        from harness.fabric._messages import EndorsementMismatchError
        from harness.fabric.client import EndorsementError

        for attempt in range(1, _MISMATCH_RETRIES + 1):
            try:
                result = self.fabric.submit(
                    self.channel, self.lock_chaincode, function, [argument]
                )
                break
            except EndorsementError as exc:  # the chaincode refused (409 locked...)
                if exc.status in (404, 409):
                    raise _Refused(str(exc)) from None
                raise
            except EndorsementMismatchError as exc:
                # Endorsers a block apart answer differently while another client's
                # transaction commits; they agree again once both have it.
                if attempt == _MISMATCH_RETRIES:
                    raise _Refused(f"{function}: {exc}") from None
                log.info(
                    "%s: endorsers disagreed (attempt %d), retrying", function, attempt
                )
                time.sleep(_MISMATCH_BACKOFF_S * attempt)
        if not result.valid:
            raise _Refused(f"{function} was not committed: {result.code_name}")
        payload: bytes = result.payload
        return payload

    def _details(self, rid: str) -> dict[str, Any] | None:
        from harness.fabric.client import ChaincodeError

        try:
            raw = self.fabric.evaluate(
                self.channel, self.lock_chaincode, "getTxDetails", [rid]
            )
        except ChaincodeError as exc:
            if getattr(exc, "status", 500) == 404:
                return None
            raise
        details: dict[str, Any] = json.loads(raw)
        return details

    def _records(self, uuids: Sequence[str]) -> list[dict[str, Any]] | str:
        from harness.fabric.client import ChaincodeError

        records = []
        for uuid in uuids:
            try:
                raw = self.fabric.evaluate(
                    self.channel, self.data_chaincode, "getEmissionsData", [uuid]
                )
            except ChaincodeError as exc:
                return f"record {uuid}: {exc}"
            records.append(json.loads(raw))
        return records

    # --- helpers ------------------------------------------------------------------------

    def _crash(self, point: CrashPoint) -> None:
        if self.crash_at == point:
            log.warning("simulated crash %s", point)
            raise OrchestratorCrash(f"simulated orchestrator crash {point}")

    def _journaled(self, rid: str) -> AuditRequest:
        entries = self.journal.entries() if self.journal is not None else {}
        if rid not in entries:
            raise RequestManagerError(
                f"request {rid} is not in the journal",
                hint="pass the AuditRequest itself to resume()",
            )
        return AuditRequest.from_json(entries[rid])

    def _finished_result(
        self, request: AuditRequest, details: Mapping[str, Any]
    ) -> AuditResult:
        stages = details.get("stage_data", {})
        token_ref = stages.get(STORE_STAGE, {}).get("storage", {}).get("tokenId")
        token_id = int(token_ref.rsplit(":", 1)[1]) if token_ref else None
        uuids = (
            _locked_uuids(stages[LOCK_STAGE], self.data_chaincode)
            if LOCK_STAGE in stages
            else []
        )
        return AuditResult(
            request.request_id,
            "minted",
            uuids=uuids,
            token_id=token_id,
            token_ref=token_ref,
            resumed=True,
        )


class _Refused(HarnessError):
    """datalock turned a call away (conflict or not found)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Timer:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    def stage(self, name: str) -> _Stage:
        return _Stage(self, name)


class _Stage:
    def __init__(self, timer: _Timer, name: str) -> None:
        self._timer = timer
        self._name = name
        self._start = 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        elapsed = (time.perf_counter() - self._start) * 1000
        self._timer.ms[self._name] = self._timer.ms.get(self._name, 0.0) + elapsed


def issue_arguments(plan: MintPlan) -> dict[str, Any]:
    """The keyword arguments of the token client's issue() for ``plan``."""
    return {
        "token_type": AUDITED_EMISSIONS,
        "quantity": plan.quantity,
        "from_date": plan.from_date,
        "thru_date": plan.thru_date,
        "metadata": plan.metadata,
        "manifest": plan.manifest,
        "description": plan.description,
    }


_VOID = object()  # a stored mint that can never be mined


def _outstanding(nonces: NonceSequencer) -> int:
    return nonces.outstanding


def _completed_stages(details: Mapping[str, Any]) -> dict[str, Any]:
    """The stages of the current attempt: those up to ``current_stage`` in flow order
    (a rollback starts the attempt over)."""
    current = details.get("current_stage") or ""
    if current not in STAGES:
        return {}
    stage_data = details.get("stage_data", {})
    upto = STAGES[: STAGES.index(current) + 1]
    return {name: stage_data[name] for name in upto if name in stage_data}


def _locked_uuids(stage: Mapping[str, Any], data_chaincode: str) -> list[str]:
    encoded = stage.get("output", {}).get(data_chaincode, {}).get("validUUIDs", "")
    uuids: list[str] = json.loads(base64.b64decode(encoded) or b"[]") if encoded else []
    return uuids


def _stored_transaction(stage: Mapping[str, Any]) -> Any:
    from harness.ethereum import SignedTransaction

    return SignedTransaction.from_json(json.loads(stage["storage"]["mintTx"]))


def _raw(address: str) -> bytes:
    from harness.ethereum._accounts import to_raw_address

    return to_raw_address(address)
