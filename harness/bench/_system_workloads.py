"""Workloads on the whole system: plain Fabric record transactions, and audit
requests through the Request Manager (lock, mint, record, unlock).

Both run on a simulated network started in setup (``network`` option, default the
embedded default network) with the fixture data seeded. Audit requests take their
records from a pool recorded in setup: operation ``i`` audits chunk ``i`` of the
pool, wrapping around, so a pool (``key_space``) smaller than the run makes
requests overlap and collide on locks, as contending auditors do.

Several auditor accounts (``auditors``) mint in parallel: each account's
transactions go out in nonce order, one at a time.

Component limits are given per audit, so that the report's ``ratio_to_limit``
compares like with like: an audit is one Ethereum issue, five Fabric transactions
and some twenty signatures.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness.bench._workload import (
    BaseWorkload,
    FailureClass,
    LimitProbe,
    OperationFailed,
    StageTimes,
)
from harness.errors import ConfigError

log = logging.getLogger(__name__)

CHANNEL = "utilityemissionchannel"
FABRIC_TX_PER_AUDIT = 5  # start, lock, intent, store, update
# client + two endorsers + the orderer's block signature, per Fabric transaction
SIGNATURES_PER_FABRIC_TX = 4
_SEED_THREADS = 16


def _positive_int(options: Mapping[str, Any], key: str, default: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"workload option {key} must be an integer >= 1, got {value!r}"
        )
    return value


def _flag(options: Mapping[str, Any], key: str) -> bool:
    value = options.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"workload option {key} must be true or false, got {value!r}")
    return value


class _SystemWorkload(BaseWorkload):
    """Starts the network, eth-tester and the token contract; seeds fixtures."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.network_spec = str(options.get("network", "default"))
        self.per_request = _positive_int(options, "records_per_request", 1)
        self.auditors = _positive_int(options, "auditors", 1)
        self.served = _flag(options, "served")
        self.served_chain = _flag(options, "served_chain")
        self.system: Any = None
        self._home: tempfile.TemporaryDirectory[str] | None = None
        self._network_run: Any = None  # a served network's run folder, to shut down
        self._network_pid = 0
        self._tag = uuid.uuid4().hex[:6]

    def setup(self) -> None:
        from harness.chaincode.seed import load_fixtures
        from harness.runs import RunDir
        from harness.scenario._system import System

        self._home = tempfile.TemporaryDirectory(prefix="harness-bench-system-")
        run = RunDir.create("bench-system", Path(self._home.name))
        if self.served:
            self.system, self._network_pid = _served_system(
                self.network_spec, run, self.auditors, self.served_chain
            )
            self._network_run = run
        else:
            self.system = System.start(
                self.network_spec,
                run,
                auditors=self.auditors,
                served_chain=self.served_chain,
            )
        load_fixtures(self.system.fabric, CHANNEL)

    def teardown(self) -> None:
        from harness.fabric._daemon import shutdown

        if self.system is not None:
            self.system.stop()
            self.system = None
        if self._network_run is not None:
            shutdown(self._network_run)
            self._network_run = None
        if self._home is not None:
            self._home.cleanup()
            self._home = None

    def record(self, label: str, count: int) -> list[str]:
        """``count`` fresh emissions records of one new party; their uuids."""
        party = f"{label}-{self._tag}"
        uuids = []
        for month in range(count):
            start = f"2019-{month % 12 + 1:02d}-01T00:00:00Z"
            end = f"2019-{month % 12 + 1:02d}-28T23:59:59Z"
            done = self.system.fabric.submit(
                CHANNEL,
                "utilityemissions",
                "recordEmissions",
                ["USA_EIA_11208", party, start, end, "100", "kWh", "u", "m"],
            )
            done.raise_for_code()
            uuids.append(json.loads(done.payload)["uuid"])
        return uuids

    def nodes(self) -> dict[str, int]:
        """The processes whose CPU and memory the report shows, by what they run."""
        here = ["harness"]
        nodes: dict[str, int] = {}
        if self.served and self.system is not None:
            nodes["simulator"] = self._network_pid
        else:
            here.append("simulator")
        chain_pid = self.system.chain.served_by if self.system is not None else None
        if chain_pid is not None:
            nodes["eth-tester"] = chain_pid
        else:
            here.append("eth-tester")
        return {"+".join(here): os.getpid(), **nodes}


def _served_system(
    network: str, run: Any, auditors: int, served_chain: bool
) -> tuple[Any, int]:
    """The network in a process of its own (reached over gRPC on loopback), the
    chain and the orchestrator here: on a machine with two cores each gets one.
    The system and the network process's pid; stopping the system's network run is
    the caller's (``shutdown(run)``)."""
    from harness.fabric._daemon import launch, shutdown
    from harness.scenario._system import AttachedSystem
    from harness.spec import load_spec

    pid = launch(run, load_spec(network).source)
    try:
        system = AttachedSystem.attach(
            run, auditors=auditors, served_chain=served_chain
        )
        return system, pid
    except BaseException:
        shutdown(run)
        raise


class FabricRecordsWorkload(_SystemWorkload):
    """``records_per_request`` recordEmissions transactions per operation."""

    name = "fabric-records"
    stages: tuple[str, ...] = ("record",)

    def operation(self, index: int) -> StageTimes:
        started = time.perf_counter()
        self.record(f"bench-records-{index}", self.per_request)
        return {"record": time.perf_counter() - started}

    def limits(self) -> dict[str, LimitProbe]:
        spec, served = self.network_spec, self.served
        return {"fabric_commit": lambda: fabric_commit_rate(spec, served=served)}


class AuditRequestsWorkload(_SystemWorkload):
    """Audit requests through the Request Manager; stages lock, mint, record, unlock."""

    name = "audit-requests"
    stages: tuple[str, ...] = ("lock", "mint", "record", "unlock")

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options)
        self.key_space = _positive_int(options, "key_space", 1000)
        if self.key_space < self.per_request:
            raise ConfigError(
                "workload option key_space must be >= records_per_request"
            )
        self.pool: list[str] = []
        self.manager: Any = None

    def setup(self) -> None:
        from harness.requestmanager import RequestManager

        super().setup()
        started = time.perf_counter()
        chunks = self.key_space // self.per_request
        with ThreadPoolExecutor(_SEED_THREADS) as pool:
            batches = pool.map(
                lambda i: self.record(f"pool-{i}", self.per_request), range(chunks)
            )
            self.pool = [uuid_ for batch in batches for uuid_ in batch]
        log.info(
            "recorded a pool of %d records in %.1f s",
            len(self.pool),
            time.perf_counter() - started,
        )
        from harness.scenario._system import auditor_names

        self.manager = RequestManager(
            self.system.fabric, self.system.token, auditor=auditor_names(self.auditors)
        )

    def operation(self, index: int) -> StageTimes:
        from harness.requestmanager import AuditRequest

        chunks = len(self.pool) // self.per_request
        first = (index % chunks) * self.per_request
        uuids = tuple(self.pool[first : first + self.per_request])
        request = AuditRequest(f"bench-{self._tag}-{index}", uuids)
        result = self.manager.audit(request)
        if result.status != "minted":
            raise OperationFailed(self._classify_reason(result.reason), result.reason)
        return {
            stage: ms / 1000
            for stage, ms in result.stages_ms.items()
            if stage in self.stages
        }

    @staticmethod
    def _classify_reason(reason: str) -> FailureClass:
        if "already locked" in reason or "not at non-processing" in reason:
            return "lock_conflict"
        if "MVCC_READ_CONFLICT" in reason:
            return "mvcc_read_conflict"
        if "mint reverted" in reason:
            return "eth_revert"
        return "other"

    def limits(self) -> dict[str, LimitProbe]:
        """Each component alone, in audits per second, doing what an audit asks
        of it: ``eth_tester_issue`` (issues shaped like an audit's, sent by the
        same auditor accounts over the same transport), ``fabric_audit_transactions``
        (an audit's six Fabric calls, the mint left out),
        ``fabric_commit_per_audit`` (the lightest datalock write, a fifth of it: an
        upper bound, kept for comparison with earlier runs) and
        ``hsm_signing_per_audit``."""
        from harness.bench._workloads import hsm_signing_rate

        spec, served, per_request = self.network_spec, self.served, self.per_request
        auditors, served_chain = self.auditors, self.served_chain
        per_audit_signatures = FABRIC_TX_PER_AUDIT * SIGNATURES_PER_FABRIC_TX
        return {
            "eth_tester_issue": lambda: audit_issue_rate(
                per_request, auditors=auditors, served_chain=served_chain
            ),
            "fabric_audit_transactions": lambda: fabric_audit_rate(
                spec, per_request, served=served
            ),
            "fabric_commit_per_audit": lambda: (
                fabric_commit_rate(
                    spec,
                    count=600,
                    threads=32,
                    served=served,
                    transaction="startTransitionProcess",
                )
                / FABRIC_TX_PER_AUDIT
            ),
            "hsm_signing_per_audit": lambda: hsm_signing_rate() / per_audit_signatures,
        }


def audit_issue_rate(
    per_request: int,
    *,
    auditors: int = 1,
    served_chain: bool = False,
    count: int = 240,
) -> float:
    """issue() per second of a fresh eth-tester chain alone (in its own process
    with ``served_chain``), each transaction shaped like an audit's mint of
    ``per_request`` records and pre-signed; ``auditors`` accounts send at once,
    each in nonce order, as the Request Manager's do."""
    from harness.requestmanager import plan_mint
    from harness.requestmanager._orchestrator import issue_arguments
    from harness.scenario._system import _ethereum, auditor_names

    with tempfile.TemporaryDirectory(prefix="harness-bench-chain-") as home:
        log_path = Path(home) / "eth-tester.log" if served_chain else None
        chain, token = _ethereum(auditors, log_path)
        try:
            names = auditor_names(auditors)
            per_account = max(1, count // len(names))
            signed = {
                name: [
                    token.build_issue(
                        name,
                        "consumer_1",
                        **issue_arguments(plan_mint(_sample_records(per_request), "")),
                    )
                    for _ in range(per_account)
                ]
                for name in names
            }

            def send_all(name: str) -> None:
                for transaction in signed[name]:
                    token.send_issue(transaction)

            started = time.perf_counter()
            with ThreadPoolExecutor(len(names)) as pool:
                list(pool.map(send_all, names))
            return per_account * len(names) / (time.perf_counter() - started)
        finally:
            chain.close()


def _sample_records(count: int) -> list[dict[str, Any]]:
    """Records as recordEmissions stores them for this workload (what plan_mint
    reads), with fresh uuids."""
    import hashlib

    party = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    return [
        {
            "uuid": str(uuid.uuid4()),
            "partyId": party,
            "utilityId": "USA_EIA_11208",
            "factorSource": "eGrid 2019 NERC_REGION MRO",
            "emissionsAmount": 0.0412,
            "renewableEnergyUseAmount": 10.916,
            "nonrenewableEnergyUseAmount": 89.084,
            "fromDate": f"2019-{month % 12 + 1:02d}-01T00:00:00Z",
            "thruDate": f"2019-{month % 12 + 1:02d}-28T23:59:59Z",
            "url": "u",
            "md5": "m",
        }
        for month in range(count)
    ]


def fabric_audit_rate(
    network: str = "default",
    per_request: int = 1,
    count: int = 300,
    threads: int = 32,
    *,
    served: bool = False,
) -> float:
    """Audits per second that Fabric alone carries: ``threads`` clients each run
    an audit's Fabric calls (check, start, lock, intent, store, unlock) through
    the Request Manager with the mint left out, on a fresh network."""
    workload = AuditRequestsWorkload(
        {
            "network": network,
            "served": served,
            "records_per_request": per_request,
            "key_space": count * per_request,
        }
    )
    workload.setup()
    try:
        from harness.requestmanager import AuditRequest, plan_mint
        from harness.requestmanager._orchestrator import issue_arguments

        token = workload.system.token
        plan = plan_mint(_sample_records(per_request), "")
        intent = json.dumps(
            token.build_issue(
                "emissions_auditor",
                "consumer_1",
                nonce=0,
                **issue_arguments(plan),
            ).to_json()
        )

        def one(index: int) -> None:
            first = index * per_request
            request = AuditRequest(
                f"limit-{workload._tag}-{index}",
                tuple(workload.pool[first : first + per_request]),
            )
            workload.manager.rehearse_on_fabric(
                request, intent=intent, token_ref=f"{token.address}:{index + 1}"
            )

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(count)))
        return count / (time.perf_counter() - started)
    finally:
        workload.teardown()


def fabric_commit_rate(
    network: str = "default",
    count: int = 300,
    threads: int = 16,
    *,
    served: bool = False,
    transaction: str = "recordEmissions",
) -> float:
    """Committed transactions per second of a fresh simulated network alone,
    ``threads`` clients submitting at once (``served``: over gRPC, the network in
    its own process). ``transaction`` is ``recordEmissions`` (a record, with its
    factor lookup) or ``startTransitionProcess`` (a datalock write, the weight of
    the Request Manager's own transactions)."""
    if transaction not in ("recordEmissions", "startTransitionProcess"):
        raise ConfigError(f"no commit-rate probe for {transaction!r}")
    workload = FabricRecordsWorkload({"network": network, "served": served})
    workload.setup()
    try:

        def one(index: int) -> None:
            if transaction == "recordEmissions":
                workload.record(f"limit-{index}", 1)
                return
            tx_id = f"limit-{workload._tag}-{index}"
            done = workload.system.fabric.submit(
                CHANNEL, "datalock", "startTransitionProcess", [tx_id]
            )
            done.raise_for_code()

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(count)))
        return count / (time.perf_counter() - started)
    finally:
        workload.teardown()


def _fabric_records(options: Mapping[str, Any]) -> FabricRecordsWorkload:
    return FabricRecordsWorkload(options)


def _audit_requests(options: Mapping[str, Any]) -> AuditRequestsWorkload:
    return AuditRequestsWorkload(options)
