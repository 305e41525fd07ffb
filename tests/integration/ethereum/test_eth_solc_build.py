"""The committed artifact is what the npm solc build makes from the source."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.ethereum._artifacts import CONTRACTS_DIR, FIXTURES_DIR


def _build_skip_reason() -> str | None:
    if shutil.which("node") is None:
        return "Node.js is not installed (needed to run the npm solc compiler)"
    if not (CONTRACTS_DIR / "node_modules" / "solc").is_dir():
        return "npm package solc is missing: run 'npm ci --prefix contracts'"
    return None


@pytest.mark.skipif(_build_skip_reason() is not None, reason=str(_build_skip_reason()))
def test_rebuilt_artifacts_match_the_committed_ones(tmp_path: Path) -> None:
    result = subprocess.run(
        ["node", str(CONTRACTS_DIR / "build.mjs"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    built = sorted(p.name for p in tmp_path.glob("*.json"))
    committed = sorted(p.name for p in FIXTURES_DIR.glob("*.json"))
    assert built == committed == ["EmissionsTokenNetwork.json"]
    for name in built:
        rebuilt = (tmp_path / name).read_bytes()
        assert rebuilt == (FIXTURES_DIR / name).read_bytes(), (
            f"{name} differs from the committed artifact: "
            "run 'npm run build --prefix contracts' and commit fixtures/contracts/"
        )
