"""The HSM workflow SIG members reproduce, with the assertions fabric-test skips.

Token by label -> organisations with CAs -> identities whose keys are generated on
the token -> inspection (keystore empty, CKA_ID == certificate SKI, not extractable)
-> signatures that verify with the certificates and are low-S -> signing rate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from harness.hsm import SoftHsm, Token
from harness.identity._inspect import Check, inspect_token
from harness.identity._org import Identity, Organization
from harness.identity._signer import curve_order, digest, hash_for, is_low_s
from harness.runs import RunDir

log = logging.getLogger(__name__)

# (org, kind, intermediate CA, identities as (name, role))
_ORGS: tuple[tuple[str, str, bool, tuple[tuple[str, str], ...]], ...] = (
    (
        "Org1",
        "peer",
        False,
        (("peer0", "peer"), ("Admin", "admin"), ("User1", "client")),
    ),
    (
        "Org2",
        "peer",
        True,
        (("peer0", "peer"), ("Admin", "admin"), ("User1", "client")),
    ),
    ("Orderer", "orderer", False, (("orderer0", "orderer"), ("Admin", "admin"))),
)
_SIGNATURES_PER_IDENTITY = 100


@dataclass
class Step:
    name: str
    passed: bool
    seconds: float
    detail: str


@dataclass
class WorkflowReport:
    run_dir: str
    label: str
    library: str
    steps: list[Step] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)
    signing: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.steps) and all(c.passed for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": "hsm-workflow",
            "network": None,
            "backend": "softhsm2",
            "run_dir": self.run_dir,
            "label": self.label,
            "library": self.library,
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "steps": [asdict(step) for step in self.steps],
            "checks": [asdict(check) for check in self.checks],
            "identities": self.identities,
            "signing": self.signing,
        }


def run_hsm_workflow(
    run: RunDir,
    *,
    label: str | None = None,
    pin: str | None = None,
    so_pin: str | None = None,
    bench_seconds: float = 0.5,
    progress: Callable[[str], None] | None = None,
) -> WorkflowReport:
    """Run every step in ``run``'s folder; write ``report.json``; return the report."""
    began = time.perf_counter()
    softhsm = SoftHsm.create(run.path / "softhsm")
    report = WorkflowReport(
        run_dir=str(run.path), label="", library=str(softhsm.library)
    )
    say = progress or (lambda message: None)

    @contextmanager
    def step(name: str) -> Iterator[list[str]]:
        say(f"  {name} ...")
        started = time.perf_counter()
        detail: list[str] = []
        yield detail
        report.steps.append(
            Step(name, True, time.perf_counter() - started, "; ".join(detail))
        )

    run.set_status("running")
    with step("initialise token") as detail:
        report.label = softhsm.init_token(label, pin=pin, so_pin=so_pin)
        detail.append(f"token '{report.label}' in {softhsm.token_dir}")

    with Token(softhsm, report.label, pin) as token:
        with step("create organisations and CAs") as detail:
            orgs = [
                Organization.create(
                    run.path / "crypto",
                    name,
                    kind="orderer" if kind == "orderer" else "peer",
                    intermediate=intermediate,
                )
                for name, kind, intermediate, _ in _ORGS
            ]
            detail.append(
                ", ".join(
                    f"{o.msp_id}{' (intermediate CA)' if o.ca is not o.root_ca else ''}"
                    for o in orgs
                )
            )

        with step("enroll identities with keys on the token") as detail:
            identities = [
                org.enroll(name, role, token=token)
                for org, (_, _, _, members) in zip(orgs, _ORGS, strict=True)
                for name, role in members
            ]
            detail.append(f"{len(identities)} identities")
        report.identities = [_describe(identity) for identity in identities]

        with step("inspect token and MSP folders") as detail:
            inspection = inspect_token(token, crypto_root=run.path / "crypto")
            report.checks += inspection.key_checks
            for cert in inspection.certificates:
                name = cert.path.rsplit("/", 1)[-1].removesuffix("-cert.pem")
                report.checks += [
                    Check(f"{name}: {c.name}", c.passed, c.detail) for c in cert.checks
                ]
            detail.append(
                f"{inspection.objects} objects, {len(inspection.keys)} private keys"
            )

        with step("sign and verify") as detail:
            checks, high_s = _sign_and_verify(token, identities)
            report.checks += checks
            total = len(identities) * _SIGNATURES_PER_IDENTITY
            detail.append(
                f"{total} signatures; {high_s} raw token signatures were high-S "
                f"({100 * high_s / total:.0f}%) and were normalised"
            )

    with step("measure signing rate") as detail:
        from harness.bench import measure_signing

        bench = measure_signing(
            run.path / "bench-softhsm", seconds=bench_seconds, rounds=1
        )
        report.signing = bench.to_json(threads=max(r.threads for r in bench.runs))
        detail.append(
            f"raw {bench.raw_ops_per_s:,.0f} ops/s; "
            + ", ".join(
                f"{r.threads} thr {r.ops_per_s:,.0f} ({r.ratio:.2f})"
                for r in bench.runs
            )
        )

    report.seconds = time.perf_counter() - began
    run.write_json("report.json", report.to_json())
    run.set_status("passed" if report.passed else "failed")
    log.info(
        "HSM workflow %s in %.1f s",
        "passed" if report.passed else "failed",
        report.seconds,
    )
    return report


def _describe(identity: Identity) -> dict[str, Any]:
    return {
        "name": identity.name,
        "msp_id": identity.msp_id,
        "role": identity.role,
        "ski": identity.ski.hex(),
        "in_hsm": identity.in_hsm,
        "msp_dir": str(identity.msp_dir),
    }


def _sign_and_verify(
    token: Token, identities: list[Identity]
) -> tuple[list[Check], int]:
    """Each identity signs; every signature must verify and be low-S. Also counts how
    many raw token signatures were high-S, which shows why normalisation matters."""
    checks = []
    high_s = 0
    for identity in identities:
        public = identity.certificate.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        half = curve_order(public.curve) // 2
        verified = low = 0
        for index in range(_SIGNATURES_PER_IDENTITY):
            message = f"{identity.name} message {index}".encode()
            raw = token.sign_digest(identity.ski, digest(message, public.curve))
            high_s += int.from_bytes(raw[len(raw) // 2 :], "big") > half
            signature = identity.signer.sign(message)
            low += is_low_s(signature, public.curve)
            try:
                public.verify(signature, message, ec.ECDSA(hash_for(public.curve)))
                verified += 1
            except InvalidSignature:
                pass
        count = _SIGNATURES_PER_IDENTITY
        checks.append(
            Check(
                f"{identity.name}: signatures verify",
                verified == count,
                f"{verified}/{count}",
            )
        )
        checks.append(
            Check(f"{identity.name}: signatures low-S", low == count, f"{low}/{count}")
        )
    return checks, high_s
