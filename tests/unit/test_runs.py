from pathlib import Path

import pytest

from harness.errors import ConfigError, HarnessError
from harness.runs import RunDir, write_atomic


def test_create_makes_a_folder_with_status_and_latest_link(tmp_path: Path) -> None:
    run = RunDir.create("demo", tmp_path)

    assert run.path.parent == tmp_path.resolve()
    assert run.status() == "created"
    assert RunDir.latest("demo", tmp_path).path == run.path


def test_latest_follows_the_newest_run(tmp_path: Path) -> None:
    RunDir.create("hsm", tmp_path)
    newest = RunDir.create("hsm", tmp_path)

    assert RunDir.latest("hsm", tmp_path).path == newest.path


def test_latest_without_runs_names_the_command_to_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="harness hsm init"):
        RunDir.latest("hsm", tmp_path)


def test_open_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a harness run folder"):
        RunDir.open(tmp_path)


def test_write_atomic_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "report.json"
    write_atomic(target, "{}\n")
    write_atomic(target, b'{"a": 1}\n')

    assert target.read_text() == '{"a": 1}\n'
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]


def test_error_text_carries_the_hint_and_exit_codes_differ() -> None:
    from harness.errors import CheckFailedError

    error = ConfigError("bad key 'x'", hint="did you mean 'y'?")

    assert str(error) == "bad key 'x'; did you mean 'y'?"
    assert isinstance(error, HarnessError)
    assert error.exit_code == 2
    assert CheckFailedError("no").exit_code == 1
