"""The ``harness hsm`` commands as a user runs them: a subprocess, real SoftHSM2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.hsm

SECRET_PIN = "24681357"


def harness(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def env(runs_root: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_HSM_")}
    return clean | {"HARNESS_RUNS": str(runs_root)}


@pytest.fixture
def hsm_run(env: dict[str, str]) -> Path:
    done = harness("hsm", "init", "--pin", SECRET_PIN, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return Path(json.loads(done.stdout)["run_dir"])


def assert_one_clear_line(
    done: subprocess.CompletedProcess[str], *fragments: str
) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("harness: error: ")
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_init_enroll_inspect_round_trip(env: dict[str, str], hsm_run: Path) -> None:
    enrolled = harness(
        "hsm",
        "enroll",
        "--org",
        "Org1",
        "--name",
        "peer0",
        "--role",
        "peer",
        "--pin",
        SECRET_PIN,
        "--json",
        env=env,
    )
    assert enrolled.returncode == 0, enrolled.stderr
    peer = json.loads(enrolled.stdout)
    assert peer["msp_id"] == "Org1MSP"
    assert list(Path(peer["msp_dir"], "keystore").iterdir()) == []

    inspected = harness("hsm", "inspect", "--pin", SECRET_PIN, "--json", env=env)
    assert inspected.returncode == 0, inspected.stderr
    report = json.loads(inspected.stdout)
    assert report["passed"] is True
    assert [key["ski"] for key in report["keys"]] == [peer["ski"]]
    assert report["keys"][0]["extractable"] is False
    assert report["certificates"][0]["ski"] == peer["ski"]


def test_human_output_goes_to_stdout_without_json(
    env: dict[str, str], hsm_run: Path
) -> None:
    done = harness("hsm", "inspect", "--pin", SECRET_PIN, env=env)

    assert done.returncode == 0
    assert "token 'ForFabric': 0 objects" in done.stdout
    assert "all checks passed" in done.stdout


def test_wrong_pin_is_one_line_and_leaves_the_token_usable(
    env: dict[str, str], hsm_run: Path
) -> None:
    done = harness("hsm", "inspect", "--pin", "13572468", env=env)

    assert_one_clear_line(done, "rejected the user PIN", "HARNESS_HSM_PIN")
    assert "13572468" not in done.stderr + done.stdout
    assert harness("hsm", "inspect", "--pin", SECRET_PIN, env=env).returncode == 0


def test_pin_from_the_environment(env: dict[str, str], hsm_run: Path) -> None:
    done = harness("hsm", "inspect", env=env | {"HARNESS_HSM_PIN": SECRET_PIN})

    assert done.returncode == 0, done.stderr


def test_unknown_label_lists_the_labels(env: dict[str, str], hsm_run: Path) -> None:
    done = harness(
        "hsm", "inspect", "--label", "ForFabrc", "--pin", SECRET_PIN, env=env
    )

    assert_one_clear_line(
        done, "no token labelled 'ForFabrc'", "tokens here: ForFabric"
    )


def test_missing_library_says_how_to_install(
    env: dict[str, str], runs_root: Path
) -> None:
    done = harness(
        "hsm", "init", env=env | {"PKCS11_LIB": "/nonexistent/libsofthsm2.so"}
    )

    assert_one_clear_line(
        done, "/nonexistent/libsofthsm2.so", "apt-get install softhsm2"
    )
    assert not runs_root.exists() or not any(runs_root.iterdir())


def test_uninitialised_token_says_to_run_init(
    env: dict[str, str], hsm_run: Path
) -> None:
    shutil.rmtree(hsm_run / "softhsm" / "tokens")
    (hsm_run / "softhsm" / "tokens").mkdir()

    done = harness("hsm", "inspect", "--pin", SECRET_PIN, env=env)

    assert_one_clear_line(done, "no initialised token", "harness hsm init")


def test_certificate_whose_key_is_not_on_the_token(
    env: dict[str, str], hsm_run: Path, tmp_path: Path
) -> None:
    from harness.identity import Organization

    outsider = Organization.create(tmp_path / "elsewhere", "Org9").enroll(
        "User1", "client"
    )
    cert = next((outsider.msp_dir / "signcerts").iterdir())

    done = harness("hsm", "inspect", "--cert", str(cert), "--pin", SECRET_PIN, env=env)

    assert_one_clear_line(done, "is not on token 'ForFabric'")
    assert harness("hsm", "inspect", "--pin", SECRET_PIN, env=env).returncode == 0


def test_no_run_yet_names_the_command(env: dict[str, str]) -> None:
    done = harness("hsm", "inspect", env=env)

    assert_one_clear_line(done, "harness hsm init")


def test_pins_never_reach_output_or_run_folder(
    env: dict[str, str], hsm_run: Path
) -> None:
    outputs = []
    for args in (
        ("-vv", "hsm", "enroll", "--org", "Org1", "--name", "Admin", "--role", "admin"),
        ("-vv", "hsm", "inspect", "--json"),
    ):
        done = harness(*args, "--pin", SECRET_PIN, env=env)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout + done.stderr)

    assert "INFO" in outputs[0]  # the verbose log really was written
    assert all(SECRET_PIN not in text for text in outputs)
    for path in hsm_run.rglob("*"):
        if path.is_file() and "tokens" not in path.parts:
            assert SECRET_PIN.encode() not in path.read_bytes(), path


def test_bench_json_contract(env: dict[str, str]) -> None:
    done = harness(
        "hsm",
        "bench",
        "--seconds",
        "0.2",
        "--rounds",
        "1",
        "--threads",
        "2",
        "--json",
        env=env,
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["threads"] == 2
    assert result["raw_ops_per_s"] > 0
    assert result["signer_ops_per_s"] > 0
    assert result["ratio"] == pytest.approx(
        result["signer_ops_per_s"] / result["raw_ops_per_s"], rel=0.01
    )
    assert [run["threads"] for run in result["runs"]] == [1, 2]
    assert Path(result["run_dir"], "report.json").is_file()


def test_bench_refuses_zero_threads(env: dict[str, str]) -> None:
    assert_one_clear_line(
        harness("hsm", "bench", "--threads", "0", env=env), "--threads"
    )


def test_workflow_runs_the_whole_hsm_workflow(env: dict[str, str]) -> None:
    done = harness("hsm", "workflow", "--json", env=env)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["passed"] is True
    assert len(report["identities"]) == 8
    assert all(identity["in_hsm"] for identity in report["identities"])
    assert any("low-S" in check["name"] for check in report["checks"])
    assert "PASSED" in done.stderr
    assert json.loads(Path(report["run_dir"], "report.json").read_text())["passed"]
