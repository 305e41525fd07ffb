"""A PIN that an imported fabric-test config names is the token's PIN on the
simulator (not only through $HARNESS_HSM_PIN), and it is never logged.

Its own module: a process uses one SoftHSM2 config at a time, and the sample
network of the neighbouring module holds its own while that module runs.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.fabric.sim import SimNetwork
from harness.hsm import DEFAULT_PIN
from harness.runs import RunDir
from harness.spec import TEST
from harness.spec.fabric_test import import_fabric_test

pytestmark = pytest.mark.hsm

SAMPLE = Path(__file__).resolve().parents[3] / "fixtures" / "fabric-test-hsm"
OTHER_PIN = "11223344"


def _login(
    softhsm_home: Path, label: str, pin: str
) -> subprocess.CompletedProcess[str]:
    """Open the run's token in another process, as a Fabric node would."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from harness.hsm import SoftHsm, Token\n"
        "Token(SoftHsm.open(Path(sys.argv[1])), sys.argv[2], pin=sys.argv[3]).close()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script, str(softhsm_home), label, pin],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_pin_named_by_the_spec_is_the_token_pin(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sample = Path(shutil.copytree(SAMPLE, tmp_path / "hsm"))
    for name, path in (
        ("core.yaml", "peer.BCCSP.PKCS11"),
        ("orderer.yaml", "General.BCCSP.PKCS11"),
        ("fabric-ca-server-config.yaml", "bccsp.pkcs11"),
        ("fabric-ca-client-config.yaml", "bccsp.pkcs11"),
    ):
        data = yaml.safe_load((sample / name).read_text())
        section = data
        for key in path.split("."):
            section = section[key]
        section["Pin" if "Pin" in section else "pin"] = OTHER_PIN
        (sample / name).write_text(yaml.safe_dump(data))
    spec = dataclasses.replace(import_fabric_test(sample).spec, timing=TEST)
    assert spec.hsm.pin == OTHER_PIN
    run = RunDir.create("fabric-test", tmp_path / "runs")

    with caplog.at_level(logging.DEBUG), SimNetwork.start(spec, run):
        home = run.path / "softhsm"
        assert _login(home, spec.hsm.label, OTHER_PIN).returncode == 0
        refused = _login(home, spec.hsm.label, DEFAULT_PIN)
        assert refused.returncode != 0
        assert "PIN" in refused.stderr.upper()
    assert not [r for r in caplog.records if OTHER_PIN in r.getMessage()]
