"""Signing throughput through the harness's HSM signer beside the raw token rate.

Run with ``make bench`` or ``tox -e bench``; the numbers go to stdout and to
``.harness/runs/<id>/report.json``. Nothing here asserts a speed: the machine is
noisy and the measurement is for people to read.
"""

from __future__ import annotations

import json

import pytest

from harness.bench import measure_signing
from harness.runs import RunDir

pytestmark = [pytest.mark.benchmark, pytest.mark.hsm]


def test_signer_rate_beside_the_raw_token_rate() -> None:
    run = RunDir.create("hsm-bench")
    result = measure_signing(
        run.path / "softhsm", thread_counts=(1, 4), seconds=2, rounds=5
    )
    report = result.to_json(threads=4) | {"samples": result.samples}
    run.write_json("report.json", report)
    run.set_status("done")

    print("\nHSM signing benchmark:", json.dumps(report, indent=2))
    assert result.raw_ops_per_s > 0
    assert all(entry.ops_per_s > 0 for entry in result.runs)
