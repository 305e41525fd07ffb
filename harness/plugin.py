"""The harness's pytest plugin (entry point ``pytest11``).

Registers the markers that tests of the carbon accounting system use. The system
fixtures (``fabric_network``, ``eth_chain``, ``carbon_system``...) arrive with the
plugin issue; heavy imports stay inside fixtures so ``pytest --help`` stays fast.
"""

from __future__ import annotations

import pytest

MARKERS = (
    "hsm: needs a SoftHSM2 library (skipped with a reason when it is missing)",
    "slow: long-running; run with `tox -e slow`",
    "benchmark: measures speed; run with `tox -e bench`",
    "docker: needs a Docker engine (skipped with a reason when none answers)",
)


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
