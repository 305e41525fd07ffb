"""Rendered Fabric configs parsed back and compared against the spec they came from."""

from __future__ import annotations

import logging
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.fabric.docker import (
    COMPOSE_FILE,
    RenderedNetwork,
    container_path_to_host,
    render_network,
)
from harness.hsm import DEFAULT_PIN
from harness.spec import NETWORKS_DIR, NetworkSpec, PortBlock, load_spec, parse_spec

NETWORKS = sorted(path.stem for path in NETWORKS_DIR.glob("*.yaml"))
PKCS11_KEYS = {"Library", "Label", "Pin", "Hash", "Security", "Immutable"}
_SIZE = re.compile(r"^(\d+) (KB|MB)$")
_DURATION = re.compile(r"^(\d+)(ms|s)$")


def _spec(name: str, files_org: bool) -> NetworkSpec:
    """A spec from networks/; with ``files_org`` its second org keeps file keys."""
    data: dict[str, Any] = yaml.safe_load((NETWORKS_DIR / f"{name}.yaml").read_text())
    if files_org:
        data["orgs"][1]["identities"] = "files"
    return parse_spec(data, f"{name}.yaml")


def _with_nodes(spec: NetworkSpec) -> set[str]:
    return {org.name for org in spec.orgs if org.peers} | {spec.orderer.org}


def _render(spec: NetworkSpec, tmp_path: Path) -> RenderedNetwork:
    return render_network(
        spec, tmp_path / "docker", tmp_path / "crypto", PortBlock(24000, 40)
    )


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _bytes(value: str | int) -> int:
    if isinstance(value, int):
        return value
    match = _SIZE.match(value)
    assert match, value
    return int(match.group(1)) * {"KB": 1024, "MB": 1024 * 1024}[match.group(2)]


def _seconds(value: str) -> float:
    match = _DURATION.match(value)
    assert match, value
    return int(match.group(1)) / (1000 if match.group(2) == "ms" else 1)


def _host(service: dict[str, Any], container_path: str) -> Path:
    host = container_path_to_host(service, container_path)
    assert host is not None, f"{container_path} is not under a bind mount"
    return host


def _check_bccsp(bccsp: dict[str, Any], in_hsm: bool, *, peer: bool) -> None:
    if not in_hsm:
        assert bccsp["Default"] == "SW"
        assert "PKCS11" not in bccsp
        return
    assert bccsp["Default"] == "PKCS11"
    expected = PKCS11_KEYS | ({"SoftwareVerify"} if peer else set())
    assert set(bccsp["PKCS11"]) == expected
    assert bccsp["PKCS11"]["Label"] == "ForFabric"
    assert bccsp["PKCS11"]["Pin"] == DEFAULT_PIN
    assert bccsp["PKCS11"]["Hash"] == "SHA2"
    assert bccsp["PKCS11"]["Security"] == 256
    assert bccsp["PKCS11"]["Immutable"] is False
    if peer:
        assert bccsp["PKCS11"]["SoftwareVerify"] is True


@pytest.fixture(autouse=True)
def _default_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_HSM_PIN", raising=False)


@pytest.mark.parametrize(
    "files_org", [False, True], ids=["as-written", "one-org-files"]
)
@pytest.mark.parametrize("name", NETWORKS)
def test_node_configs_carry_pkcs11_exactly_for_hsm_orgs(
    name: str, files_org: bool, tmp_path: Path
) -> None:
    spec = _spec(name, files_org)
    rendered = _render(spec, tmp_path)

    assert set(rendered.node_configs) == set(spec.node_names)
    for node, path in rendered.node_configs.items():
        layout = rendered.layouts[node]
        in_hsm = layout.org.identities == "hsm"
        config = _load(path)
        if layout.kind == "peer":
            assert path.name == "core.yaml"
            assert config["peer"]["localMspId"] == layout.org.msp_id
            assert config["peer"]["tls"]["enabled"] is True
            _check_bccsp(config["peer"]["BCCSP"], in_hsm, peer=True)
        else:
            assert path.name == "orderer.yaml"
            general = config["General"]
            assert general["BootstrapMethod"] == "none"
            assert config["ChannelParticipation"]["Enabled"] is True
            assert config["Admin"]["TLS"]["ClientAuthRequired"] is True
            _check_bccsp(general["BCCSP"], in_hsm, peer=False)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stores = {layout.org.identities for layout in rendered.layouts.values()}
    assert stores == {
        org.identities for org in spec.orgs if org.name in _with_nodes(spec)
    }
    if files_org:
        assert "files" in stores


@pytest.mark.parametrize("name", NETWORKS)
def test_configtx_matches_the_spec(name: str, tmp_path: Path) -> None:
    spec = load_spec(name)
    configtx = _load(_render(spec, tmp_path).configtx)

    assert {org["ID"] for org in configtx["Organizations"]} == {
        org.msp_id for org in spec.orgs
    }
    for org in configtx["Organizations"]:
        assert set(org["Policies"]) == {"Readers", "Writers", "Admins", "Endorsement"}
    assert set(configtx["Profiles"]) == {channel.name for channel in spec.channels}
    for channel in spec.channels:
        profile = configtx["Profiles"][channel.name]
        orderer = profile["Orderer"]
        assert orderer["OrdererType"] == "etcdraft"
        assert len(orderer["EtcdRaft"]["Consenters"]) == len(spec.orderer.nodes)
        assert _seconds(orderer["BatchTimeout"]) == channel.batch.timeout_s
        size = orderer["BatchSize"]
        assert size["MaxMessageCount"] == channel.batch.max_message_count
        assert _bytes(size["AbsoluteMaxBytes"]) == channel.batch.absolute_max_bytes
        assert _bytes(size["PreferredMaxBytes"]) == channel.batch.preferred_max_bytes
        application = profile["Application"]
        assert application["Capabilities"] == {"V2_0": True}
        assert application["Policies"]["Endorsement"] == {
            "Type": "ImplicitMeta",
            "Rule": "MAJORITY Endorsement",
        }
        members = {org["ID"] for org in application["Organizations"]}
        assert members == {spec.org(org).msp_id for org in channel.orgs}
        tick = orderer["EtcdRaft"]["Options"]["TickInterval"]
        assert _seconds(tick) == spec.timing.raft.tick_interval_s


def test_fabric_test_batch_is_written_in_fabrics_units(tmp_path: Path) -> None:
    configtx = _load(_render(load_spec("fabric-test-hsm"), tmp_path).configtx)
    orderer = configtx["Profiles"]["mychannel"]["Orderer"]
    assert orderer["BatchTimeout"] == "2s"
    assert orderer["BatchSize"] == {
        "MaxMessageCount": 10,
        "AbsoluteMaxBytes": "99 MB",
        "PreferredMaxBytes": "512 KB",
    }


@pytest.mark.parametrize("name", NETWORKS)
def test_compose_binds_loopback_only(name: str, tmp_path: Path) -> None:
    spec = load_spec(name)
    compose = _load(_render(spec, tmp_path).compose_file)
    services = compose["services"]

    host_ports = []
    for service in services.values():
        for mapping in service.get("ports", []):
            ip, host_port, _ = mapping.split(":")
            assert ip == "127.0.0.1", mapping
            host_ports.append(int(host_port))
    assert len(host_ports) == len(set(host_ports)) == 3 * len(spec.node_names)
    images = {s["image"] for s in services.values() if "harness.node" in s["labels"]}
    assert "hyperledger/fabric-peer:2.5" in images
    assert "hyperledger/fabric-orderer:2.5" in images
    for chaincode in spec.chaincodes:
        assert f"ccaas-{chaincode.name}" in services
    for service in services.values():
        env = service.get("environment", {})
        if service.get("command") == "peer node start":
            assert env["FABRIC_CFG_PATH"] == "/etc/hyperledger/fabric"
            assert env["CORE_PEER_ID"] == service["hostname"]
        assert DEFAULT_PIN not in yaml.safe_dump(env)


def test_pin_is_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rendered = _render(load_spec("fabric-test-hsm"), tmp_path)
    assert caplog.records, "rendering logs what it wrote"
    assert DEFAULT_PIN not in caplog.text
    assert DEFAULT_PIN not in (rendered.root / COMPOSE_FILE).read_text()


@pytest.mark.hsm
@pytest.mark.parametrize("name", ["fabric-test-hsm", "raft3"])
def test_every_path_points_into_a_real_identity_folder(
    name: str, tmp_path: Path, token: Any
) -> None:
    from harness.fabric.docker import create_crypto

    spec = load_spec(name)
    create_crypto(spec, tmp_path / "crypto", token)
    rendered = _render(spec, tmp_path)
    compose = _load(rendered.compose_file)

    checked = 0
    for node, layout in rendered.layouts.items():
        service = compose["services"][layout.host]
        config = _load(rendered.node_configs[node])
        if layout.kind == "peer":
            msp = config["peer"]["mspConfigPath"]
            tls_files = [config["peer"]["tls"][k]["file"] for k in ("cert", "key")]
        else:
            msp = config["General"]["LocalMSPDir"]
            tls_files = [
                config["General"]["TLS"][k] for k in ("Certificate", "PrivateKey")
            ]
        host_msp = _host(service, msp)
        assert host_msp.is_dir(), msp
        assert list((host_msp / "signcerts").glob("*.pem"))
        assert not list((host_msp / "keystore").iterdir()), "HSM keystore not empty"
        for path in tls_files:
            assert _host(service, path).is_file(), path
        checked += 1
    assert checked == len(spec.node_names)

    tools = compose["services"]["tools"]
    configtx = _load(rendered.configtx)
    for org in configtx["Organizations"]:
        assert (_host(tools, org["MSPDir"]) / "cacerts").is_dir(), org["MSPDir"]
    for profile in configtx["Profiles"].values():
        for consenter in profile["Orderer"]["EtcdRaft"]["Consenters"]:
            assert _host(tools, consenter["ServerTLSCert"]).is_file()
    script = rendered.channel_script.read_text()
    for path in re.findall(r"/etc/hyperledger/crypto/\S+", script):
        assert _host(tools, path).exists(), path
