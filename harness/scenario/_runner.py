"""Run a scenario: bring the system up, run its steps, check both ledgers, report."""

from __future__ import annotations

import functools
import json
import logging
import random
import threading
import time
import uuid as uuid_lib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigError, HarnessError
from harness.requestmanager import (
    CRASH_POINTS,
    AuditRequest,
    AuditResult,
    EmissionsDatePolicy,
    NaiveRequestManager,
    OrchestratorCrash,
    RequestManager,
)
from harness.runs import RunDir
from harness.scenario._model import Check, Scenario, Step, split_records_ref
from harness.scenario._system import CHANNEL, DATA_CC, AttachedSystem, System

log = logging.getLogger(__name__)

AUDITED_TYPE = 3
Progress = Callable[[str], None]


@dataclass
class Outcome:
    name: str
    passed: bool
    seconds: float = 0.0
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
        }


@dataclass
class ScenarioReport:
    scenario: str
    network: str
    backend: str
    orchestrator: str
    run_dir: str
    steps: list[Outcome] = field(default_factory=list)
    checks: list[Outcome] = field(default_factory=list)
    fabric: dict[str, Any] = field(default_factory=dict)
    ethereum: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""

    @property
    def passed(self) -> bool:
        outcomes = self.steps + self.checks
        return not self.error and bool(outcomes) and all(o.passed for o in outcomes)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "network": self.network,
            "backend": self.backend,
            "orchestrator": self.orchestrator,
            "run_dir": self.run_dir,
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "steps": [s.to_json() for s in self.steps],
            "checks": [c.to_json() for c in self.checks],
            "fabric": self.fabric,
            "ethereum": self.ethereum,
        }


class ScenarioRunner:
    """One scenario in one run folder."""

    def __init__(
        self,
        scenario: Scenario,
        run: RunDir,
        *,
        network: str | None = None,
        orchestrator: str | None = None,
        progress: Progress | None = None,
        attach: RunDir | None = None,
    ) -> None:
        if attach is not None and network is not None:
            raise ConfigError(
                "a scenario runs on a network spec or on an attached network, not both",
                hint="drop --network when passing --run DIR",
            )
        self.scenario = scenario
        self.run_dir = run
        self.attach = attach
        self.network_spec = network or scenario.network
        self.orchestrator = orchestrator or scenario.orchestrator
        self.say = progress or (lambda message: None)
        self.system: System | None = None
        self.groups: dict[str, tuple[str, list[str]]] = {}
        self.requests: dict[str, AuditRequest] = {}
        self.results: dict[str, AuditResult] = {}
        self.policy: EmissionsDatePolicy | None = None
        self._tag = uuid_lib.uuid4().hex[:6]

    def run(self) -> ScenarioReport:
        """Every step, then every check; the report is written to the run folder."""
        report = ScenarioReport(
            scenario=self.scenario.name,
            network=self.network_spec,
            backend="sim",
            orchestrator=self.orchestrator,
            run_dir=str(self.run_dir.path),
        )
        began = time.perf_counter()
        self.run_dir.set_status("running")
        try:
            self.system = self._start()
            report.network, report.backend = self.system.spec_name, self.system.backend
            total = len(self.scenario.steps)
            for index, step in enumerate(self.scenario.steps, 1):
                outcome = self._timed(step.label, functools.partial(self._step, step))
                report.steps.append(outcome)
                mark = "ok" if outcome.passed else "FAILED"
                self.say(
                    f"  [{index}/{total}] {step.label:<32} {mark:<7}{outcome.seconds:6.2f}s"
                )
            for check in self.scenario.checks:
                action = functools.partial(self._check, check)
                report.checks.append(self._timed(check.kind, action))
            self._summarise(report)
        except HarnessError as exc:
            report.error = str(exc)
            log.error("scenario %s stopped: %s", self.scenario.name, exc)
        finally:
            if self.system is not None:
                self.system.stop()
        report.seconds = time.perf_counter() - began
        self.run_dir.set_status("passed" if report.passed else "failed")
        return report

    def _start(self) -> System:
        if self.attach is None:
            self.say(f"starting network '{self.network_spec}' and eth-tester ...")
            return System.start(self.network_spec, self.run_dir)
        self.say(f"attaching to the network in {self.attach.path}, eth-tester ...")
        system = AttachedSystem.attach(self.attach)
        if system.spec_name != self.scenario.network:
            log.warning(
                "scenario %s names network %s; running on attached %s",
                self.scenario.name,
                self.scenario.network,
                system.spec_name,
            )
        return system

    def _timed(self, name: str, action: Callable[[], tuple[bool, str]]) -> Outcome:
        started = time.perf_counter()
        try:
            passed, detail = action()
        except HarnessError as exc:
            passed, detail = False, f"error: {exc}"
        return Outcome(name, passed, time.perf_counter() - started, detail)

    # --- steps ----------------------------------------------------------------------

    def _step(self, step: Step) -> tuple[bool, str]:
        handler = getattr(self, "_do_" + step.kind.replace("-", "_"))
        result: tuple[bool, str] = handler(step.args)
        return result

    def _manager(self, **options: Any) -> RequestManager:
        system = self._system()
        kind = NaiveRequestManager if self.orchestrator == "naive" else RequestManager
        journal = self.run_dir.path / "requestmanager" / "journal.jsonl"
        return kind(
            system.fabric, system.token, policy=self.policy, journal=journal, **options
        )

    def _system(self) -> System:
        assert self.system is not None
        return self.system

    def _do_seed(self, args: dict[str, Any]) -> tuple[bool, str]:
        from harness.chaincode.seed import load_fixtures

        seeded = load_fixtures(self._system().fabric, CHANNEL).as_dict()
        return (
            True,
            f"{seeded['imported']} fixture rows imported, {seeded['skipped']} already there",
        )

    def _do_record(self, args: dict[str, Any]) -> tuple[bool, str]:
        name = str(args["as"])
        count = int(args.get("count", 1))
        utility = str(args.get("utility", "USA_EIA_11208"))
        year = int(args.get("year", 2019))
        party = f"{name}-{self._tag}"
        uuids = []
        for index in range(count):
            start, end = _period(year, index, args.get("ends"))
            kwh = str(args.get("kwh", 100 * (index + 1)))
            done = self._system().fabric.submit(
                CHANNEL,
                DATA_CC,
                "recordEmissions",
                [
                    utility,
                    party,
                    start,
                    end,
                    kwh,
                    "kWh",
                    f"https://bills/{party}/{index}",
                    "m",
                ],
            )
            done.raise_for_code()
            uuids.append(json.loads(done.payload)["uuid"])
        self.groups[name] = (party, uuids)
        return True, f"{count} record(s) of {utility} for party {party}"

    def _request(
        self, request_id: str, records: str, issuee: str = "consumer_1"
    ) -> AuditRequest:
        name, part = split_records_ref(records)
        if name not in self.groups:
            raise HarnessError(
                f"records {name!r} were never recorded",
                hint=f"recorded so far: {', '.join(self.groups) or 'none'}",
            )
        party, uuids = self.groups[name]
        request = AuditRequest(
            f"{request_id}-{self._tag}", tuple(uuids[part]), issuee, party
        )
        self.requests[request_id] = request
        return request

    def _do_audit(self, args: dict[str, Any]) -> tuple[bool, str]:
        request = self._request(
            args["request"], args["records"], args.get("issuee", "consumer_1")
        )
        result = self._manager().audit(request)
        self.results[args["request"]] = result
        return _expected(result, args.get("expect", "minted"), args.get("reason"))

    def _do_concurrent_audits(self, args: dict[str, Any]) -> tuple[bool, str]:
        audits = [
            (
                a["request"],
                self._request(
                    a["request"], a["records"], a.get("issuee", "consumer_1")
                ),
            )
            for a in args["audits"]
        ]
        barrier = threading.Barrier(len(audits))

        def run(name: str, request: AuditRequest) -> None:
            barrier.wait()
            self.results[name] = self._manager().audit(request)

        threads = [threading.Thread(target=run, args=pair) for pair in audits]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counts = Counter(self.results[name].status for name, _ in audits)
        wanted = args.get("expect") or {"minted": 1, "refused": len(audits) - 1}
        detail = ", ".join(
            f"{name}: {self.results[name].status} {self.results[name].reason}".strip()
            for name, _ in audits
        )
        return dict(counts) == {k: v for k, v in wanted.items() if v}, detail

    def _do_crash(self, args: dict[str, Any]) -> tuple[bool, str]:
        request = self._request(args["request"], args["records"])
        try:
            self._manager(crash_at=args["at"]).audit(request)
        except OrchestratorCrash:
            return True, f"crashed {args['at']}"
        return False, f"did not reach {args['at']}"

    def _do_resume(self, args: dict[str, Any]) -> tuple[bool, str]:
        name = args["request"]
        if name not in self.requests:
            raise HarnessError(f"request {name!r} was never started")
        result = self._manager().resume(self.requests[name])
        self.results[name] = result
        return _expected(result, args.get("expect", "minted"), None)

    def _do_crash_sweep(self, args: dict[str, Any]) -> tuple[bool, str]:
        rng = random.Random(args.get("seed", 7))
        points = list(CRASH_POINTS) if args.get("boundaries", True) else []
        points += [rng.choice(CRASH_POINTS) for _ in range(int(args.get("random", 0)))]
        per = int(args.get("records_per_request", 2))
        failures = []
        for index, point in enumerate(points):
            group = f"sweep{index}"
            self._do_record({"as": group, "count": per})
            name = f"sweep-{index}-{point}"
            crashed, _ = self._do_crash(
                {"request": name, "records": group, "at": point}
            )
            resumed, detail = self._do_resume({"request": name})
            if not (crashed and resumed):
                failures.append(f"{name}: {detail}")
        detail = (
            f"{len(points)} crashes, {len(points) - len(failures)} resumed and minted"
        )
        if failures:
            detail += "; " + "; ".join(failures[:3])
        return not failures, detail

    def _do_fail_ethereum(self, args: dict[str, Any]) -> tuple[bool, str]:
        self._system().token.unregister_dealer("emissions_auditor", AUDITED_TYPE)
        return True, "emissions auditor role revoked: mints revert"

    def _do_restore_ethereum(self, args: dict[str, Any]) -> tuple[bool, str]:
        self._system().token.register_dealer("emissions_auditor", AUDITED_TYPE)
        return True, "emissions auditor role restored"

    def _do_set_policy(self, args: dict[str, Any]) -> tuple[bool, str]:
        self.policy = EmissionsDatePolicy(str(args["emissions-date"]))
        return True, f"emissions-date policy, cutoff {self.policy.cutoff}"

    def _do_clear_policy(self, args: dict[str, Any]) -> tuple[bool, str]:
        self.policy = None
        return True, "no policy"

    # --- checks ---------------------------------------------------------------------

    def _check(self, check: Check) -> tuple[bool, str]:
        handler = getattr(self, "_check_" + check.kind.replace("-", "_"))
        result: tuple[bool, str] = handler(check.value)
        return result

    def _check_tokens_minted(self, expected: int) -> tuple[bool, str]:
        minted = len(self._system().tokens())
        return minted == expected, f"{minted} minted, {expected} expected"

    def _check_no_double_issuance(self, _: Any) -> tuple[bool, str]:
        seen = Counter(u for t in self._system().tokens() for u in t.uuids)
        twice = sorted(u for u, n in seen.items() if n > 1)
        if twice:
            return (
                False,
                f"{len(twice)} record(s) in more than one token: {', '.join(twice[:3])}",
            )
        return True, f"{len(seen)} records, each in one token at most"

    def _check_one_token_per_request(self, _: Any) -> tuple[bool, str]:
        tokens = self._system().tokens()
        bad = []
        minted = [(n, r) for n, r in self.results.items() if r.status == "minted"]
        for name, result in minted:
            covering = [t for t in tokens if set(t.uuids) & set(result.uuids)]
            if len(covering) != 1:
                bad.append(f"{name}: {len(covering)} tokens")
        if bad:
            return False, "; ".join(bad[:5])
        return True, f"{len(minted)} minted requests, one token each"

    def _check_records_stamped(self, _: Any) -> tuple[bool, str]:
        wrong = []
        tokens = self._system().tokens()
        for token in tokens:
            for uuid in token.uuids:
                record = self._system().record(uuid) or {}
                if record.get("tokenId") != token.ref:
                    wrong.append(
                        f"{uuid[:8]} has {record.get('tokenId')!r}, not {token.ref}"
                    )
        if wrong:
            return False, "; ".join(wrong[:3])
        return True, f"every record of {len(tokens)} token(s) carries its token id"

    def _check_quantity_matches(self, _: Any) -> tuple[bool, str]:
        wrong = []
        tokens = self._system().tokens()
        for token in tokens:
            records = [self._system().record(u) or {} for u in token.uuids]
            expected = round(
                sum(round(float(r.get("emissionsAmount", 0)), 3) for r in records)
                * 1000
            )
            if token.quantity != expected:
                wrong.append(f"token {token.token_id}: {token.quantity} != {expected}")
        return not wrong, "; ".join(
            wrong
        ) or f"{len(tokens)} token quantities match records"

    def _check_no_locks(self, _: Any) -> tuple[bool, str]:
        held = {peer: keys for peer, keys in self._system().locks().items() if keys}
        if held:
            peer, keys = next(iter(held.items()))
            return (
                False,
                f"{peer} still holds {len(keys)} lock(s): {', '.join(keys[:3])}",
            )
        return True, "no lock left on any peer"

    def _check_tx_codes(self, minimum: dict[str, int]) -> tuple[bool, str]:
        counts = self._system().tx_codes()
        short = {code: n for code, n in minimum.items() if counts.get(code, 0) < n}
        detail = ", ".join(f"{code} {n}" for code, n in sorted(counts.items()))
        return not short, detail

    def _check_hsm_identities(self, _: Any) -> tuple[bool, str]:
        from harness.identity import inspect_token

        tokens = self._system().hsm_tokens()
        if not tokens:
            return False, "no identity of this network keeps its key in an HSM"
        crypto = self._system().crypto_root()
        reports = [inspect_token(token, crypto_root=crypto) for token in tokens]
        failed = [
            f"{c.path.rsplit('/', 1)[-1]}: {check.name}"
            for report in reports
            for c in report.certificates
            for check in c.checks
            if not check.passed
        ]
        failed += [
            k.name for report in reports for k in report.key_checks if not k.passed
        ]
        certificates = sum(len(report.certificates) for report in reports)
        if failed:
            return False, "; ".join(failed[:3])
        return True, (
            f"{certificates} HSM identities: keystore empty, CKA_ID = certificate SKI, "
            "not extractable, signatures verify and are low-S"
        )

    def _summarise(self, report: ScenarioReport) -> None:
        system = self._system()
        codes = system.tx_codes()
        report.fabric = {"blocks": system.height(), "tx_by_code": dict(codes)}
        if self.attach is not None:
            report.fabric["network_run"] = str(self.attach.path)
        report.ethereum = {
            "blocks": system.chain.block_number(),
            "tokens_minted": len(system.tokens()),
        }


def _period(year: int, index: int, ends: str | None) -> tuple[str, str]:
    """A distinct billing period per record: month ``index + 1``, or ending ``ends``."""
    if ends:
        return f"{year}-01-{index + 1:02d}T00:00:00Z", f"{year}-{ends}T23:59:59Z"
    month = index % 12 + 1
    return f"{year}-{month:02d}-01T00:00:00Z", f"{year}-{month:02d}-28T23:59:59Z"


def _expected(result: AuditResult, expect: str, reason: str | None) -> tuple[bool, str]:
    detail: str = result.status
    if result.token_ref:
        detail += f" {result.token_ref} ({result.quantity})"
    if result.reason:
        detail += f": {result.reason}"
    passed = result.status == expect and (reason is None or reason in result.reason)
    return passed, detail
