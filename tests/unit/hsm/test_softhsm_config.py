from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.hsm import SoftHsm, resolve_pin, resolve_so_pin
from harness.hsm._softhsm import check_label, check_pin


def test_config_points_at_the_runs_own_token_dir(tmp_path: Path) -> None:
    home = SoftHsm.create(tmp_path / "softhsm", library=Path("/usr/lib/x.so"))

    conf = home.conf_path.read_text()
    assert f"directories.tokendir = {tmp_path.resolve() / 'softhsm' / 'tokens'}" in conf
    assert "/var/lib/softhsm" not in conf
    assert home.token_dir.is_dir()
    assert home.env()["SOFTHSM2_CONF"] == str(home.conf_path)


def test_open_of_a_folder_without_config_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="harness hsm init"):
        SoftHsm.open(tmp_path, library=Path("/usr/lib/x.so"))


def test_pins_come_from_argument_then_environment_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HARNESS_HSM_PIN", raising=False)
    monkeypatch.delenv("HARNESS_HSM_SO_PIN", raising=False)
    assert (resolve_pin(None), resolve_so_pin(None)) == ("98765432", "1234")

    monkeypatch.setenv("HARNESS_HSM_PIN", "11112222")
    monkeypatch.setenv("HARNESS_HSM_SO_PIN", "3333")
    assert (resolve_pin(None), resolve_so_pin(None)) == ("11112222", "3333")
    assert resolve_pin("55556666") == "55556666"


@pytest.mark.parametrize("label", ["", "x" * 33], ids=["empty", "33-bytes"])
def test_labels_must_fit_the_token_field(label: str) -> None:
    with pytest.raises(ConfigError, match="1 to 32 bytes"):
        check_label(label)


def test_short_pin_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        check_pin("987", "user PIN")

    assert "987" not in str(caught.value)
