from pathlib import Path

import pytest

from harness.errors import MissingDependencyError
from harness.hsm import _library
from harness.hsm._library import find_library


def test_explicit_path_that_does_not_exist_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(MissingDependencyError, match="apt-get install softhsm2"):
        find_library(tmp_path / "libnothing.so")


def test_pkcs11_lib_variable_wins_and_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "libsofthsm2.so"
    monkeypatch.setenv("PKCS11_LIB", str(fake))
    with pytest.raises(MissingDependencyError, match="from PKCS11_LIB"):
        find_library()

    fake.write_bytes(b"")
    assert find_library() == fake


def test_usual_paths_are_searched_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a.so", tmp_path / "b.so"
    second.write_bytes(b"")
    monkeypatch.delenv("PKCS11_LIB", raising=False)
    monkeypatch.setattr(_library, "USUAL_PATHS", (str(first), str(second)))

    assert find_library() == second


def test_nothing_found_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PKCS11_LIB", raising=False)
    monkeypatch.setattr(_library, "USUAL_PATHS", ("/nonexistent/libsofthsm2.so",))

    with pytest.raises(MissingDependencyError, match="softhsm2"):
        find_library()
