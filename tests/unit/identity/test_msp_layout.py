from pathlib import Path

import pytest
import yaml
from cryptography import x509

from harness.errors import ConfigError
from harness.identity import Organization


def test_file_identity_msp_is_laid_out_as_fabric_reads_it(tmp_path: Path) -> None:
    org = Organization.create(tmp_path, "Org1")
    user = org.enroll("User1", "client")

    msp = (
        tmp_path / "peerOrganizations/org1.example.com/users/User1@org1.example.com/msp"
    )
    assert user.msp_dir == msp
    assert (msp / "cacerts/ca.org1.example.com-cert.pem").is_file()
    assert (msp / "signcerts/User1@org1.example.com-cert.pem").is_file()
    assert (msp / "tlscacerts/tlsca.org1.example.com-cert.pem").is_file()
    assert [p.name for p in (msp / "keystore").iterdir()] == ["priv_sk"]
    assert (msp / "keystore/priv_sk").stat().st_mode & 0o077 == 0
    assert (msp.parent / "tls/client.key").is_file()
    assert not user.in_hsm


def test_node_ous_point_at_the_issuing_ca(tmp_path: Path) -> None:
    org = Organization.create(tmp_path, "Org2", intermediate=True)
    peer = org.enroll("peer0", "peer")

    config = yaml.safe_load((peer.msp_dir / "config.yaml").read_text())
    node_ous = config["NodeOUs"]
    assert node_ous["Enable"] is True
    assert node_ous["PeerOUIdentifier"]["OrganizationalUnitIdentifier"] == "peer"
    ou_cert = peer.msp_dir / node_ous["PeerOUIdentifier"]["Certificate"]
    issuer = x509.load_pem_x509_certificate(ou_cert.read_bytes())
    peer.certificate.verify_directly_issued_by(issuer)
    assert (peer.msp_dir.parent / "tls/server.crt").is_file()


def test_org_msp_has_no_signer(tmp_path: Path) -> None:
    org = Organization.create(tmp_path, "Org1")

    assert sorted(p.name for p in org.msp_dir.iterdir()) == [
        "cacerts",
        "config.yaml",
        "intermediatecerts",
        "tlscacerts",
    ]


def test_organisation_reloads_and_keeps_enrolling_with_the_same_ca(
    tmp_path: Path,
) -> None:
    org = Organization.create(tmp_path, "Org1", intermediate=True)
    again = Organization.load(org.folder)
    user = again.enroll("User2", "client")

    user.certificate.verify_directly_issued_by(org.ca.certificate)
    assert again.msp_id == "Org1MSP"
    assert again.load_identity("User2", "client").ski == user.ski


def test_creating_an_existing_organisation_is_refused(tmp_path: Path) -> None:
    Organization.create(tmp_path, "Org1")
    with pytest.raises(ConfigError, match="already exists"):
        Organization.create(tmp_path, "Org1")


def test_unknown_role_lists_the_roles(tmp_path: Path) -> None:
    org = Organization.create(tmp_path, "Org1")
    with pytest.raises(ConfigError, match="client, peer, admin, orderer"):
        org.enroll("x", "auditor")
