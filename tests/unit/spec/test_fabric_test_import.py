"""fabric-test HSM regression configs imported as network specs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.spec import load_spec, spec_to_dict
from harness.spec.fabric_test import FabricTestImportError, import_fabric_test

SAMPLE = Path(__file__).resolve().parents[3] / "fixtures" / "fabric-test-hsm"
MB = 1024 * 1024


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A copy of the sample folder this test may change."""
    return Path(shutil.copytree(SAMPLE, tmp_path / "hsm"))


def _edit(folder: Path, file: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / file
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def test_sample_imports_to_the_regression_network() -> None:
    spec = import_fabric_test(SAMPLE).spec

    assert [(o.name, o.msp_id, o.peers) for o in spec.orgs] == [
        ("ordererorg1", "OrdererOrgExampleCom", ()),
        ("org1", "Org1ExampleCom", ("peer0.org1",)),
        ("org2", "Org2ExampleCom", ("peer0.org2",)),
    ]
    assert {org.identities for org in spec.orgs} == {"hsm"}
    assert spec.orderer.nodes == ("orderer0.ordererorg1",)
    assert spec.orderer.org == "ordererorg1"
    (channel,) = spec.channels
    assert channel.name == "mychannel"
    assert channel.orgs == ("org1", "org2")
    assert channel.batch.timeout_s == 2.0
    assert channel.batch.max_message_count == 10
    assert channel.batch.absolute_max_bytes == 99 * MB
    assert channel.batch.preferred_max_bytes == 512 * 1024
    assert spec.hsm.label == "ForFabric"
    assert spec.hsm.pin is None  # the SIG's default PIN is not written out
    assert (spec.hsm.hash, spec.hsm.security, spec.hsm.immutable) == (
        "SHA2",
        256,
        False,
    )
    assert spec.timing.name == "realistic"
    assert spec.chaincodes[0].endorsement_policy == "MAJORITY Endorsement"


def test_sample_is_the_shipped_network_but_for_the_chaincode_policy() -> None:
    imported = spec_to_dict(import_fabric_test(SAMPLE).spec)
    shipped = spec_to_dict(load_spec("fabric-test-hsm"))
    for key in ("timing", "hsm", "orgs", "orderer", "channels", "users", "ports"):
        assert imported[key] == shipped[key], key
    assert imported["name"] == shipped["name"] == "fabric-test-hsm"
    # fabric-test deploys without a signature policy: the channel default applies.
    assert imported["chaincodes"][0]["endorsement_policy"] == "MAJORITY Endorsement"


def test_regression_layout_with_a_config_subfolder(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "hsm" / "config")
    result = import_fabric_test(tmp_path / "hsm")
    assert result.folder == tmp_path / "hsm" / "config"
    assert result.spec.name == "hsm"


def _set_peer_default(data: dict[str, Any]) -> None:
    data["peer"]["BCCSP"]["Default"] = "IDEMIX"


def _solo(data: dict[str, Any]) -> None:
    data["Profiles"]["HsmRegressionChannel"]["Orderer"]["OrdererType"] = "solo"


def _no_label(data: dict[str, Any]) -> None:
    del data["General"]["BCCSP"]["PKCS11"]["Label"]


def _other_label(data: dict[str, Any]) -> None:
    data["bccsp"]["pkcs11"]["label"] = "OtherToken"


def _no_pkcs11(data: dict[str, Any]) -> None:
    del data["peer"]["BCCSP"]["PKCS11"]


def _two_profiles(data: dict[str, Any]) -> None:
    profiles = data["Profiles"]
    profiles["Second"] = profiles["HsmRegressionChannel"]


@pytest.mark.parametrize(
    ("file", "change", "where", "problem"),
    [
        ("core.yaml", _set_peer_default, "peer.BCCSP.Default", "'IDEMIX' cannot be"),
        (
            "configtx.yaml",
            _solo,
            "Profiles.HsmRegressionChannel.Orderer.OrdererType",
            "'solo' cannot be mapped",
        ),
        ("orderer.yaml", _no_label, "General.BCCSP.PKCS11.Label", "is missing"),
        (
            "fabric-ca-client-config.yaml",
            _other_label,
            "bccsp.PKCS11",
            "label differs",
        ),
        ("core.yaml", _no_pkcs11, "peer.BCCSP.PKCS11", "is missing while Default"),
        ("configtx.yaml", _two_profiles, "Profiles", "2 profiles have"),
    ],
    ids=["bccsp-default", "solo", "no-label", "two-labels", "no-pkcs11", "profiles"],
)
def test_what_cannot_be_mapped_names_file_key_and_fix(
    sample: Path,
    file: str,
    change: Callable[[dict[str, Any]], None],
    where: str,
    problem: str,
) -> None:
    _edit(sample, file, change)
    with pytest.raises(FabricTestImportError) as raised:
        import_fabric_test(sample)
    message = str(raised.value)
    assert message.startswith(f"{sample / file}: {where}: "), message
    assert problem in message
    assert raised.value.hint
    assert "\n" not in message


def test_a_missing_file_is_named(sample: Path) -> None:
    (sample / "orderer.yaml").unlink()
    with pytest.raises(FabricTestImportError, match=r"orderer\.yaml: is missing"):
        import_fabric_test(sample)


def _harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_writes_a_loadable_spec(tmp_path: Path) -> None:
    out = tmp_path / "imported.yaml"
    done = _harness("import", "fabric-test", str(SAMPLE), "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    payload = yaml.safe_load(done.stdout)
    assert payload["out"] == str(out)
    assert payload["profile"] == "HsmRegressionChannel"
    assert load_spec(out).channel("mychannel").batch.max_message_count == 10


def test_cli_user_mistake_is_one_line_and_exit_2(sample: Path) -> None:
    _edit(sample, "configtx.yaml", _solo)
    done = _harness("import", "fabric-test", str(sample))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("harness: error: ")
    assert "OrdererType" in lines[0]
    assert done.stdout == ""
