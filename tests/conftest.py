"""Fixtures shared by the whole suite: per-test SoftHSM2 homes and tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.hsm import SoftHsm, Token

# the plugin is tested black-box with pytester (tests/integration/plugin)
pytest_plugins = ["pytester"]


def _softhsm_missing() -> str | None:
    from harness.errors import MissingDependencyError
    from harness.hsm import find_library

    try:
        find_library()
    except MissingDependencyError as exc:
        return str(exc)
    return None


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    reason = _softhsm_missing()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"SoftHSM2 is not available: {reason}")
    for item in items:
        if "hsm" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def runs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run folders of this test go under its own temporary directory."""
    root = tmp_path / "runs"
    monkeypatch.setenv("HARNESS_RUNS", str(root))
    return root


@pytest.fixture
def softhsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SoftHsm:
    """A SoftHSM2 home of this test's own, with the default token initialised."""
    for name in ("HARNESS_HSM_PIN", "HARNESS_HSM_SO_PIN", "HARNESS_HSM_LABEL"):
        monkeypatch.delenv(name, raising=False)
    home = SoftHsm.create(tmp_path / "softhsm")
    home.init_token()
    return home


@pytest.fixture
def token(softhsm: SoftHsm) -> Iterator[Token]:
    """The default token, logged in; closed after the test."""
    with Token(softhsm) as opened:
        yield opened
