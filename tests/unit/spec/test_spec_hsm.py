"""The spec's ``hsm`` section: BCCSP PKCS11 knobs with Fabric's defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.spec import HsmSettings, SpecError, load_spec, parse_spec, spec_to_dict


def _spec(hsm: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(Path(load_spec("default").source).read_text())
    data["hsm"] = hsm
    return data


def test_defaults_are_fabric_test_values() -> None:
    assert load_spec("default").hsm == HsmSettings(
        label="ForFabric", pin=None, hash="SHA2", security=256, immutable=False
    )


def test_every_knob_is_read_and_a_numeric_pin_stays_text() -> None:
    spec = parse_spec(
        _spec(
            {
                "label": "Other",
                "pin": 11112222,
                "hash": "SHA3",
                "security": 384,
                "immutable": True,
            }
        )
    )
    assert spec.hsm == HsmSettings("Other", "11112222", "SHA3", 384, True)
    assert spec_to_dict(spec)["hsm"]["security"] == 384


@pytest.mark.parametrize(
    ("hsm", "message"),
    [
        ({"security": 300}, "hsm.security: 300 is not a BCCSP security level"),
        ({"hash": "MD5"}, "hsm.hash: 'MD5' is not allowed"),
        ({"immutable": "no"}, "hsm.immutable: expected true or false"),
        ({"slot": 0}, "hsm: unknown key 'slot'"),
    ],
    ids=["security", "hash", "immutable", "slot-number"],
)
def test_bad_knobs_name_the_key(hsm: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        parse_spec(_spec(hsm), "x.yaml")
