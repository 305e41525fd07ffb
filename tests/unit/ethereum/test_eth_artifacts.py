"""Loading the harness's, Hardhat's and Foundry's artifact JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError
from harness.ethereum import default_token_artifact, load_artifact
from harness.ethereum._artifacts import FIXTURES_DIR


def _fixture() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (FIXTURES_DIR / "EmissionsTokenNetwork.json").read_text()
    )
    return document


def test_default_artifact_has_the_token_interface() -> None:
    artifact = default_token_artifact()
    artifact.require_token_interface()
    assert artifact.name == "EmissionsTokenNetwork"
    assert artifact.bytecode[:2] == b"\x60\x80"


def test_hardhat_layout(tmp_path: Path) -> None:
    source = _fixture()
    hardhat = {
        "_format": "hh-sol-artifact-1",
        "contractName": "NetEmissionsTokenNetwork",
        "sourceName": "contracts/NetEmissionsTokenNetwork.sol",
        "abi": source["abi"],
        "bytecode": source["bytecode"],
        "deployedBytecode": source["deployedBytecode"],
        "linkReferences": {},
    }
    path = tmp_path / "NetEmissionsTokenNetwork.json"
    path.write_text(json.dumps(hardhat))
    artifact = load_artifact(path)
    assert (artifact.name, artifact.layout) == ("NetEmissionsTokenNetwork", "hardhat")
    assert artifact.bytecode == bytes.fromhex(source["bytecode"][2:])


def test_foundry_layout(tmp_path: Path) -> None:
    source = _fixture()
    foundry = {
        "abi": source["abi"],
        "bytecode": {"object": source["bytecode"], "linkReferences": {}},
        "deployedBytecode": {"object": source["deployedBytecode"]},
        "metadata": {},
    }
    path = tmp_path / "Token.json"
    path.write_text(json.dumps(foundry))
    artifact = load_artifact(path)
    assert (artifact.name, artifact.layout) == ("Token", "foundry")
    artifact.require_token_interface()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("{", "cannot read contract artifact", id="not-json"),
        pytest.param("[]", "no 'abi' list", id="no-abi"),
        pytest.param('{"abi": []}', "no creation bytecode", id="no-bytecode"),
        pytest.param('{"abi": [], "bytecode": "0x"}', "empty bytecode", id="empty"),
        pytest.param(
            '{"abi": [], "bytecode": "0x6080__$0123456789abcdef0123456789abcdef01$__"}',
            "needs library linking",
            id="unlinked",
        ),
    ],
)
def test_bad_artifacts_name_the_problem(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_artifact(path)


def test_missing_artifact_hints_where_to_look(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Hardhat"):
        load_artifact(tmp_path / "absent.json")


def test_contract_without_the_token_interface_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "Other.json"
    path.write_text(json.dumps({"abi": [], "bytecode": "0x6080"}))
    with pytest.raises(ConfigError, match=r"lacks issue\(address,uint8"):
        load_artifact(path).require_token_interface()
