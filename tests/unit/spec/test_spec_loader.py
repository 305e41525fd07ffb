"""Network specs: the shipped files load, and every mistake is named precisely."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import ConfigError
from harness.spec import (
    NETWORKS_DIR,
    REALISTIC,
    TEST,
    SpecError,
    dump_spec,
    load_spec,
    parse_spec,
)

BASE: dict[str, Any] = {
    "name": "t",
    "timing": "test",
    "orgs": [
        {"name": "OrdererOrg", "msp_id": "OrdererMSP", "ca": "ca0"},
        {"name": "Org1", "msp_id": "Org1MSP", "ca": "ca1", "peers": ["peer0.org1"]},
        {"name": "Org2", "msp_id": "Org2MSP", "ca": "ca2", "peers": ["peer0.org2"]},
    ],
    "orderer": {"org": "OrdererOrg", "nodes": ["orderer0"]},
    "channels": [{"name": "ch", "orgs": ["Org1", "Org2"]}],
    "chaincodes": [
        {
            "name": "cc",
            "implementation": "kvstore",
            "endorsement_policy": "MAJORITY Endorsement",
        }
    ],
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    """BASE with ``value`` set at a dotted path (list indices as numbers)."""
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    target: Any = data
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is _DELETE:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize("name", ["default", "raft3", "fabric-test-hsm"])
def test_shipped_networks_load(name: str) -> None:
    spec = load_spec(name)

    assert spec.name == name
    assert spec.orderer.consensus == "etcdraft"
    assert all(len(org.peers) == 1 for org in spec.peer_orgs)


def test_default_network_is_the_one_design_describes() -> None:
    spec = load_spec("default")

    assert [org.msp_id for org in spec.peer_orgs] == ["Org1MSP", "Org2MSP"]
    assert spec.orderer.nodes == ("orderer0",)
    assert [c.name for c in spec.channels] == ["utilityemissionchannel"]
    assert {cc.name: cc.endorsement_policy for cc in spec.chaincodes} == {
        "utilityemissions": "MAJORITY Endorsement",
        "datalock": "MAJORITY Endorsement",
    }
    assert spec.hsm.label == "ForFabric"
    assert {org.identities for org in spec.orgs} == {"hsm"}
    assert spec.timing == TEST


def test_raft3_has_three_orderers() -> None:
    assert len(load_spec("raft3").orderer.nodes) == 3


def test_fabric_test_hsm_network_batch_settings() -> None:
    spec = load_spec("fabric-test-hsm")
    batch = spec.channel("mychannel").batch

    assert (batch.timeout_s, batch.max_message_count) == (2.0, 10)
    assert batch.absolute_max_bytes == 99 * 1024 * 1024
    assert batch.preferred_max_bytes == 512 * 1024
    assert spec.timing == REALISTIC
    assert spec.timing.raft.tick_interval_s == 0.5
    assert (spec.timing.raft.election_tick, spec.timing.raft.heartbeat_tick) == (10, 1)


def test_realistic_profile_has_fabric_defaults() -> None:
    batch = REALISTIC.batch

    assert batch.timeout_s == 2.0
    assert batch.max_message_count == 500
    assert batch.absolute_max_bytes == 10 * 1024 * 1024
    assert batch.preferred_max_bytes == 2 * 1024 * 1024


def test_channel_batch_overrides_profile_per_key() -> None:
    spec = parse_spec(with_change("channels.0.batch", {"timeout": "250ms"}))
    batch = spec.channel("ch").batch

    assert batch.timeout_s == 0.25
    assert batch.max_message_count == TEST.batch.max_message_count


def test_orgs_can_be_referenced_by_msp_id() -> None:
    spec = parse_spec(with_change("channels.0.orgs", ["Org1MSP", "Org2"]))

    assert spec.channel("ch").orgs == ("Org1", "Org2")


def test_dumped_spec_loads_as_yaml() -> None:
    text = dump_spec(load_spec("default"))

    assert yaml.safe_load(text)["channels"][0]["name"] == "utilityemissionchannel"


# Each case: change, expected key path, words of the message, suggestion.
ERROR_CASES = [
    pytest.param(
        "timng", "test", "", "unknown key 'timng'", "timing", id="unknown-top-key"
    ),
    pytest.param(
        "timing", "fast", "timing", "'fast' is not allowed", None, id="bad-profile"
    ),
    pytest.param("timing", "Test", "timing", "not allowed", "test", id="profile-case"),
    pytest.param(
        "orgs.1.mspid", "X", "orgs[1]", "unknown key 'mspid'", "msp_id", id="org-key"
    ),
    pytest.param(
        "orgs.1.msp_id", 3, "orgs[1].msp_id", "non-empty string", None, id="msp-type"
    ),
    pytest.param(
        "orgs.1.identities",
        "hms",
        "orgs[1].identities",
        "not allowed",
        "hsm",
        id="identity-store",
    ),
    pytest.param(
        "orgs.2.msp_id", "Org1MSP", "orgs[2]", "already used", None, id="dup-msp"
    ),
    pytest.param("orgs.1.peers", ["orderer0"], "", "used twice", None, id="dup-node"),
    pytest.param(
        "orgs.1.ca",
        _DELETE,
        "orgs[1]",
        "missing required key 'ca'",
        None,
        id="missing-ca",
    ),
    pytest.param("orgs", {"a": 1}, "orgs", "expected a list", None, id="orgs-not-list"),
    pytest.param(
        "orderer.nodes",
        ["o0", "o1"],
        "orderer.nodes",
        "1, 3 or 5 nodes",
        None,
        id="raft-size",
    ),
    pytest.param(
        "orderer.org",
        "OrdrerOrg",
        "orderer.org",
        "unknown org",
        "OrdererOrg",
        id="orderer-org",
    ),
    pytest.param(
        "orderer.consensus",
        "solo",
        "orderer.consensus",
        "not allowed",
        None,
        id="consensus",
    ),
    pytest.param(
        "channels.0.name",
        "MyChannel",
        "channels[0].name",
        "not a valid channel",
        None,
        id="channel-name",
    ),
    pytest.param(
        "channels.0.orgs",
        ["0rg1"],
        "channels[0].orgs[0]",
        "unknown org",
        "Org1",
        id="channel-org",
    ),
    pytest.param(
        "channels.0.batch",
        {"max_messages": 5},
        "channels[0].batch",
        "unknown key",
        "max_message_count",
        id="batch-key",
    ),
    pytest.param(
        "channels.0.batch",
        {"timeout": "soon"},
        "channels[0].batch.timeout",
        "not a duration",
        None,
        id="batch-timeout",
    ),
    pytest.param(
        "channels.0.batch",
        {"absolute_max_bytes": "10 XB"},
        "channels[0].batch.absolute_max_bytes",
        "not a size",
        None,
        id="batch-size",
    ),
    pytest.param(
        "channels.0.batch",
        {"max_message_count": 0},
        "channels[0].batch.max_message_count",
        "out of range",
        None,
        id="batch-count",
    ),
    pytest.param(
        "channels.0.batch",
        {"preferred_max_bytes": "20 MB"},
        "channels[0].batch.preferred_max_bytes",
        "exceeds absolute",
        None,
        id="preferred-over-absolute",
    ),
    pytest.param(
        "chaincodes.0.endorsement_policy",
        "AND('Org1MSP.peer'",
        "chaincodes[0].endorsement_policy",
        "position",
        None,
        id="policy-syntax",
    ),
    pytest.param(
        "chaincodes.0.endorsement_policy",
        "OR('Org1MPS.peer')",
        "chaincodes[0].endorsement_policy",
        "not an org of channel ch",
        "Org1MSP",
        id="policy-foreign-msp",
    ),
    pytest.param(
        "chaincodes.0.endorsement_policy",
        "MAJORITY Endorsment",
        "chaincodes[0].endorsement_policy",
        "'Endorsement'",
        "MAJORITY Endorsement",
        id="meta-sub-policy",
    ),
    pytest.param(
        "chaincodes.0.channels",
        ["chx"],
        "chaincodes[0].channels[0]",
        "unknown channel",
        "ch",
        id="chaincode-channel",
    ),
    pytest.param(
        "chaincodes.0.implementaton",
        "x",
        "chaincodes[0]",
        "unknown key",
        "implementation",
        id="chaincode-key",
    ),
    pytest.param(
        "users",
        [{"name": "u", "org": "Org1", "role": "peer"}],
        "users[0].role",
        "not allowed",
        None,
        id="user-role",
    ),
    pytest.param(
        "ports",
        {"base": 40000},
        "ports.base",
        "ephemeral range",
        None,
        id="ports-ephemeral",
    ),
    pytest.param(
        "ports",
        {"base": 20000, "block_size": 50, "per_worker": 10},
        "ports.per_worker",
        "smaller than block_size",
        None,
        id="ports-stripe",
    ),
    pytest.param(
        "ports", {"base": 80}, "ports.base", "out of range", None, id="ports-low"
    ),
    pytest.param("hsm", {"lable": "X"}, "hsm", "unknown key", "label", id="hsm-key"),
]


@pytest.mark.parametrize(
    ("change", "value", "key_path", "words", "suggestion"), ERROR_CASES
)
def test_errors_name_key_path_and_suggestion(
    change: str, value: Any, key_path: str, words: str, suggestion: str | None
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(with_change(change, value), "networks/t.yaml")

    error = caught.value
    assert error.source == "networks/t.yaml"
    assert error.key_path == key_path
    assert words in str(error)
    assert error.suggestion == suggestion
    assert str(error).startswith(f"networks/t.yaml: {key_path}".rstrip(": "))


def test_unknown_key_error_lists_allowed_values() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(with_change("channels.0.batch", {"max_messages": 5}))

    assert "max_message_count" in caught.value.allowed
    assert "allowed: timeout, max_message_count" in str(caught.value)
    assert "did you mean 'max_message_count'?" in str(caught.value)


def test_spec_error_is_a_config_error() -> None:
    assert issubclass(SpecError, ConfigError)


def test_unknown_network_name_suggests_a_shipped_one() -> None:
    with pytest.raises(SpecError) as caught:
        load_spec("defualt")

    assert caught.value.suggestion == "default"
    assert "default" in caught.value.allowed


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\norgs: [\n")

    with pytest.raises(SpecError) as caught:
        load_spec(path)

    assert caught.value.source == str(path)
    assert caught.value.key_path.startswith("line ")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot be read"):
        load_spec(tmp_path / "absent.yaml")


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(SpecError, match="expected a mapping"):
        parse_spec(["not", "a", "mapping"])


def test_networks_dir_holds_the_shipped_specs() -> None:
    assert {"default", "raft3", "fabric-test-hsm"} <= {
        p.stem for p in NETWORKS_DIR.glob("*.yaml")
    }
