"""``harness chain``: serve the eth-tester chain over JSON-RPC, benchmark issue()."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from harness.cli._output import add_report_options, emit, progress


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "chain", help="the Ethereum test chain: serve it, benchmark it"
    )
    commands = parser.add_subparsers(dest="chain_command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run an eth-tester chain with a JSON-RPC endpoint on loopback",
        description="Run an in-process eth-tester chain with named, funded accounts "
        "(and the token contract deployed, roles registered) and serve it over "
        "JSON-RPC on loopback until interrupted.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="loopback address")
    serve.add_argument("--port", type=int, default=8545, help="0 picks a free port")
    serve.add_argument(
        "--no-deploy",
        action="store_true",
        help="do not deploy the token contract or register roles",
    )
    serve.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="NAME",
        help="one more named account, funded at genesis (repeatable)",
    )
    serve.add_argument(
        "--artifact",
        type=Path,
        default=None,
        metavar="JSON",
        help="deploy this Hardhat or Foundry artifact instead of the harness's contract",
    )
    add_report_options(serve)
    serve.set_defaults(handler=_serve)

    bench = commands.add_parser(
        "bench",
        help="issue() transactions per second: raw eth-tester, client, JSON-RPC, Anvil",
    )
    bench.add_argument("--count", type=int, default=200, help="issues per measurement")
    bench.add_argument("--rounds", type=int, default=2, help="raw/client rounds")
    bench.add_argument("--no-anvil", action="store_true", help="skip the Anvil rate")
    add_report_options(bench)
    bench.set_defaults(handler=_bench)

    parser.set_defaults(handler=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _serve(args: argparse.Namespace) -> int:
    from harness.ethereum import (
        DEFAULT_ACCOUNT_NAMES,
        Chain,
        TokenClient,
        load_artifact,
    )
    from harness.ethereum._rpc_server import RpcServer
    from harness.runs import RunDir

    artifact = load_artifact(args.artifact) if args.artifact else None
    names = dict.fromkeys([*DEFAULT_ACCOUNT_NAMES, *args.account])
    chain = Chain.eth_tester(names)
    token_address = None
    if not args.no_deploy:
        token = TokenClient.deploy(chain, artifact=artifact)
        token.register_default_roles()
        token_address = token.address
    server = RpcServer(chain, host=args.host, port=args.port)
    run = RunDir.create("chain", args.run_dir)
    payload = {
        "run_dir": str(run.path),
        "url": server.url,
        "chain_id": chain.chain_id,
        "token_address": token_address,
        "accounts": {name: a.address for name, a in chain.accounts.items()},
    }
    # The keys are public test keys derived from the account names; clients that
    # sign (ethers, web3.py) read them from the run folder, never from a log.
    keys = {name: "0x" + a.private_key.hex() for name, a in chain.accounts.items()}
    run.write_json("ethereum.json", {**payload, "test_private_keys": keys})
    run.set_status("running")
    emit(args, payload, f"JSON-RPC endpoint {server.url} (chain id {chain.chain_id})")
    sys.stdout.flush()

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    try:
        stop.wait()
    finally:
        server.stop()
        run.set_status("stopped")
    progress("JSON-RPC endpoint stopped")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from harness.ethereum._bench import run_issue_benchmark
    from harness.runs import RunDir

    run = RunDir.create("bench-eth", args.run_dir)
    run.set_status("running")
    report = run_issue_benchmark(
        args.count,
        rounds=args.rounds,
        anvil=not args.no_anvil,
        anvil_log=run.log_path("anvil"),
        progress=progress,
    )
    run.write_json("report.json", report)
    run.set_status("done")
    anvil = report["anvil_per_s"]
    summary = (
        f"issue() per second over {report['count']}: raw eth-tester "
        f"{report['raw_eth_tester_per_s']}, harness client "
        f"{report['harness_client_per_s']} (ratio {report['client_to_raw_ratio']}), "
        f"JSON-RPC {report['json_rpc_per_s']}, Anvil "
        f"{anvil if anvil is not None else 'skipped: ' + str(report['anvil_skipped'])}"
        f"; report {run.file('report.json')}"
    )
    emit(args, {"run_dir": str(run.path), **report}, summary)
    return 0
