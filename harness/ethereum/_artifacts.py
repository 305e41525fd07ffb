"""Contract artifacts: the harness's own, Hardhat's and Foundry's JSON files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.ethereum._abi import ContractAbi

TOKEN_CONTRACT_NAME = "EmissionsTokenNetwork"
_REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES_DIR = _REPO_ROOT / "fixtures" / "contracts"
CONTRACTS_DIR = _REPO_ROOT / "contracts"

# What the token client calls; a user's contract must have these to be driven.
REQUIRED_FUNCTIONS = (
    "issue(address,uint8,uint256,uint256,uint256,uint256,string,string,string)",
    "registerDealer(address,uint8)",
    "registerConsumer(address)",
)
REQUIRED_EVENTS = ("TokenCreated",)

_LINK_PLACEHOLDER = re.compile(r"__\$[0-9a-fA-F]{34}\$__|__[A-Za-z0-9_:./]{36,38}__")


@dataclass(frozen=True)
class ContractArtifact:
    """A compiled contract: its ABI and creation bytecode."""

    name: str
    abi: ContractAbi = field(repr=False)
    bytecode: bytes = field(repr=False)
    source: Path | None = None
    layout: str = "harness"

    def require_token_interface(self) -> None:
        """Raise ConfigError naming what is missing for the token client."""
        missing = [f for f in REQUIRED_FUNCTIONS if f not in self.abi.functions]
        missing += [f"event {e}" for e in REQUIRED_EVENTS if e not in self.abi.events]
        if missing:
            raise ConfigError(
                f"contract {self.name} ({self.source}) lacks {', '.join(missing)}",
                hint="the token client needs DOMAIN.md section 3's interface",
            )


def default_token_artifact() -> ContractArtifact:
    """The harness's own emissions token network, as committed under fixtures/."""
    return load_artifact(FIXTURES_DIR / f"{TOKEN_CONTRACT_NAME}.json")


def load_artifact(path: Path | str) -> ContractArtifact:
    """Read a Hardhat, Foundry (``out/X.sol/X.json``) or harness artifact JSON."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"no contract artifact at {path}",
            hint="pass the JSON that Hardhat (artifacts/) or Foundry (out/) wrote",
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read contract artifact {path}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("abi"), list):
        raise ConfigError(
            f"{path} is not a contract artifact (no 'abi' list)",
            hint="Hardhat and Foundry artifacts have 'abi' and 'bytecode' keys",
        )
    bytecode_text, layout = _bytecode_of(document, path)
    name = str(document.get("contractName") or path.stem)
    return ContractArtifact(
        name=name,
        abi=ContractAbi(document["abi"]),
        bytecode=_decode_bytecode(bytecode_text, path),
        source=path,
        layout=layout,
    )


def _bytecode_of(document: dict[str, Any], path: Path) -> tuple[str, str]:
    bytecode = document.get("bytecode")
    if isinstance(bytecode, dict):  # Foundry: {"object": "0x...", "linkReferences"}
        return str(bytecode.get("object", "")), "foundry"
    if isinstance(bytecode, str):
        layout = "hardhat" if "_format" in document else "harness"
        return bytecode, layout
    raise ConfigError(
        f"{path} has no creation bytecode",
        hint="an interface or abstract contract cannot be deployed",
    )


def _decode_bytecode(text: str, path: Path) -> bytes:
    if _LINK_PLACEHOLDER.search(text):
        raise ConfigError(
            f"{path} needs library linking (its bytecode has link placeholders)",
            hint="link the libraries in Hardhat/Foundry first, or deploy at an address",
        )
    hex_text = text.removeprefix("0x")
    if not hex_text:
        raise ConfigError(f"{path} has empty bytecode", hint="is it an interface?")
    try:
        return bytes.fromhex(hex_text)
    except ValueError:
        raise ConfigError(f"{path} has bytecode that is not hex") from None
