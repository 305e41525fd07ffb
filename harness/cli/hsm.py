"""``harness hsm``: SoftHSM2 tokens and HSM-held Fabric identities.

    harness hsm init      a run folder with its own SoftHSM2 config and a token
    harness hsm enroll    an identity whose key is generated on the token
    harness hsm inspect   every key and HSM identity checked the way Fabric needs
    harness hsm bench     signatures per second: raw token vs the harness signer
    harness hsm workflow  all of it in a new run folder, with a summary

PINs come from --pin / --so-pin, else HARNESS_HSM_PIN / HARNESS_HSM_SO_PIN, else the
SIG's defaults; they are never printed or logged.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.cli._output import add_report_options, emit, progress
from harness.runs import RunDir

if TYPE_CHECKING:
    from harness.identity import Organization, OrgKind

_KIND = "hsm"


def register(subparsers: Any) -> None:
    hsm = subparsers.add_parser("hsm", help="SoftHSM2 tokens and HSM-held identities")
    commands = hsm.add_subparsers(dest="hsm_command", metavar="COMMAND", required=True)

    init = commands.add_parser("init", help="new run folder with a SoftHSM2 token")
    _token_options(init, so_pin=True)
    add_report_options(init)
    init.set_defaults(handler=_init)

    enroll = commands.add_parser(
        "enroll", help="enroll an identity with its key on the token"
    )
    enroll.add_argument("--org", required=True, help="organisation name, e.g. Org1")
    enroll.add_argument(
        "--name", required=True, help="identity name, e.g. peer0 or User1"
    )
    enroll.add_argument(
        "--role",
        default="client",
        choices=("client", "peer", "admin", "orderer"),
        help="NodeOU role (default: client)",
    )
    enroll.add_argument(
        "--msp-id", help="MSP id of a new organisation (default: <org>MSP)"
    )
    enroll.add_argument(
        "--intermediate",
        action="store_true",
        help="give a new organisation an intermediate CA",
    )
    enroll.add_argument(
        "--san",
        action="append",
        default=[],
        help="subject alternative name (repeatable)",
    )
    _token_options(enroll)
    _run_option(enroll)
    add_report_options(enroll)
    enroll.set_defaults(handler=_enroll)

    inspect = commands.add_parser(
        "inspect", help="check the token's keys and HSM identities"
    )
    inspect.add_argument(
        "--cert",
        action="append",
        default=[],
        type=Path,
        help="also check this certificate's key (repeatable)",
    )
    _token_options(inspect)
    _run_option(inspect)
    add_report_options(inspect)
    inspect.set_defaults(handler=_inspect)

    workflow = commands.add_parser(
        "workflow", help="the whole HSM workflow in a new run folder, with its checks"
    )
    add_report_options(workflow)
    workflow.set_defaults(handler=run_workflow)

    bench = commands.add_parser(
        "bench", help="signatures per second: raw token vs signer"
    )
    bench.add_argument(
        "--threads", type=int, default=4, help="signer threads (default 4)"
    )
    bench.add_argument(
        "--seconds",
        type=float,
        default=1.0,
        help="length of each measurement (default 1)",
    )
    bench.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds (default 3)"
    )
    add_report_options(bench)
    bench.set_defaults(handler=_bench)


def _token_options(parser: argparse.ArgumentParser, *, so_pin: bool = False) -> None:
    parser.add_argument(
        "--label", help="token label (default: $HARNESS_HSM_LABEL or ForFabric)"
    )
    parser.add_argument(
        "--pin", help="user PIN (default: $HARNESS_HSM_PIN or the SIG default)"
    )
    if so_pin:
        parser.add_argument(
            "--so-pin", help="SO PIN (default: $HARNESS_HSM_SO_PIN or 1234)"
        )


def _run_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run",
        type=Path,
        metavar="DIR",
        help="run folder made by 'harness hsm init' (default: the latest one)",
    )


def _open_run(args: argparse.Namespace) -> RunDir:
    if args.run is not None:
        return RunDir.open(args.run)
    return RunDir.latest(_KIND, args.run_dir)


def _softhsm(run: RunDir) -> Any:
    from harness.hsm import SoftHsm

    return SoftHsm.open(run.path / "softhsm")


def _init(args: argparse.Namespace) -> int:
    from harness.hsm import SoftHsm, find_library

    library = find_library()  # fail before making a run folder when it is missing
    run = RunDir.create(_KIND, args.run_dir)
    softhsm = SoftHsm.create(run.path / "softhsm", library)
    label = softhsm.init_token(args.label, pin=args.pin, so_pin=args.so_pin)
    run.set_status("ready")
    payload = {
        "run_dir": str(run.path),
        "label": label,
        "softhsm2_conf": str(softhsm.conf_path),
        "token_dir": str(softhsm.token_dir),
        "library": str(softhsm.library),
    }
    summary = (
        f"token '{label}' initialised\n"
        f"  run folder     {run.path}\n"
        f"  SOFTHSM2_CONF  {softhsm.conf_path}\n"
        f"  library        {softhsm.library}"
    )
    emit(args, payload, summary)
    return 0


def _enroll(args: argparse.Namespace) -> int:
    from harness.hsm import Token

    run = _open_run(args)
    softhsm = _softhsm(run)
    crypto = run.path / "crypto"
    with Token(softhsm, args.label, args.pin) as token:
        org = _organization(crypto, args)
        identity = org.enroll(args.name, args.role, token=token, sans=args.san)
    payload = {
        "run_dir": str(run.path),
        "name": identity.name,
        "msp_id": identity.msp_id,
        "role": identity.role,
        "ski": identity.ski.hex(),
        "msp_dir": str(identity.msp_dir),
        "tls_dir": str(identity.tls_dir),
        "label": token.label,
    }
    summary = (
        f"enrolled {identity.name} ({identity.msp_id}, {identity.role})\n"
        f"  key            on token '{token.label}', SKI {identity.ski.hex()}\n"
        f"  MSP            {identity.msp_dir} (keystore empty)\n"
        f"  TLS            {identity.tls_dir} (key in a file)"
    )
    emit(args, payload, summary)
    return 0


def _organization(crypto: Path, args: argparse.Namespace) -> Organization:
    from harness.identity import Organization

    kind: OrgKind = "orderer" if args.role == "orderer" else "peer"
    domain = f"{args.org.lower()}.example.com"
    for group in ("peerOrganizations", "ordererOrganizations"):
        folder = crypto / group / domain
        if (folder / "org.json").exists():
            return Organization.load(folder)
    return Organization.create(
        crypto, args.org, msp_id=args.msp_id, kind=kind, intermediate=args.intermediate
    )


def _inspect(args: argparse.Namespace) -> int:
    from harness.hsm import Token
    from harness.identity import inspect_token

    run = _open_run(args)
    softhsm = _softhsm(run)
    with Token(softhsm, args.label, args.pin) as token:
        report = inspect_token(
            token, crypto_root=run.path / "crypto", certificates=args.cert
        )
    payload = report.to_json() | {"run_dir": str(run.path)}
    lines = [
        f"token '{report.label}': {report.objects} objects, {len(report.keys)} private keys"
    ]
    for key in report.keys:
        lines.append(
            f"  key {key.label[:16] or key.cka_id.hex()[:16]}  CKA_ID=SKI {_yes(key.id_is_ski)}"
            f"  sensitive {_yes(key.sensitive)}  extractable {_yes(key.extractable)}"
        )
    for cert in report.certificates:
        failed = [check.name for check in cert.checks if not check.passed]
        verdict = "ok" if not failed else "FAILED: " + ", ".join(failed)
        lines.append(f"  cert {Path(cert.path).name}: {verdict}")
    lines.append("all checks passed" if report.passed else "some checks FAILED")
    emit(args, payload, "\n".join(lines))
    return 0 if report.passed else 1


def _bench(args: argparse.Namespace) -> int:
    from harness.bench import measure_signing
    from harness.errors import ConfigError

    if args.threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {args.threads}")
    run = RunDir.create("hsm-bench", args.run_dir)
    counts = sorted({1, args.threads})
    result = measure_signing(
        run.path / "softhsm",
        thread_counts=counts,
        seconds=args.seconds,
        rounds=args.rounds,
        progress=progress,
    )
    payload = result.to_json(args.threads) | {"run_dir": str(run.path)}
    run.write_json("report.json", payload)
    run.set_status("done")
    lines = [f"raw token        {result.raw_ops_per_s:>10,.0f} signatures/s"]
    for entry in result.runs:
        lines.append(
            f"signer {entry.threads} thread{'s' if entry.threads > 1 else ' '} "
            f"{entry.ops_per_s:>10,.0f} signatures/s  ratio {entry.ratio:.2f}"
        )
    lines.append(
        f"(medians of {result.rounds} rounds of {result.seconds_per_measure:g} s)"
    )
    emit(args, payload, "\n".join(lines))
    return 0


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def run_workflow(args: argparse.Namespace) -> int:
    """The HSM workflow with a readable summary (``harness hsm workflow``)."""
    from harness.identity import run_hsm_workflow

    run = RunDir.create("demo", args.run_dir)
    progress(f"HSM workflow in {run.path}")
    report = run_hsm_workflow(run, progress=progress)
    emit(args, report.to_json(), _workflow_summary(report))
    return 0 if report.passed else 1


def _workflow_summary(report: Any) -> str:
    lines = [
        "HSM workflow: SoftHSM2 token, HSM-held Fabric identities, Fabric's key rules",
        f"  run folder {report.run_dir}",
        f"  library    {report.library}",
        "",
        f"  {'step':<44}{'result':<8}{'time':>8}",
    ]
    for step in report.steps:
        lines.append(
            f"  {step.name:<44}{'ok' if step.passed else 'FAILED':<8}{step.seconds:>7.2f}s"
        )
        if step.detail:
            lines.append(f"      {step.detail}")
    lines += ["", f"  {'identity':<32}{'MSP':<12}{'role':<9}SKI (CKA_ID on the token)"]
    for identity in report.identities:
        lines.append(
            f"  {identity['name']:<32}{identity['msp_id']:<12}{identity['role']:<9}"
            f"{identity['ski'][:24]}..."
        )
    failed = [check for check in report.checks if not check.passed]
    lines.append("")
    lines.append(
        f"  checks: {len(report.checks) - len(failed)} passed, {len(failed)} failed"
    )
    for check in failed:
        lines.append(f"    FAILED {check.name} {check.detail}")
    verdict = "PASSED" if report.passed else "FAILED"
    lines.append(f"{verdict} in {report.seconds:.1f} s (report.json in the run folder)")
    return "\n".join(lines)
