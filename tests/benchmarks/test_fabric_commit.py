"""Committed transactions per second of the simulated network for a two-org
MAJORITY write workload, beside this machine's ECDSA P-256 sign and verify rates
measured in the same run (each committed transaction costs about four signatures
and six verifications: client, two endorsers, the orderer's block signature)."""

from __future__ import annotations

import dataclasses
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from harness.fabric.client import FabricClient
from harness.fabric.sim import SimNetwork
from harness.runs import RunDir
from harness.spec import Chaincode as ChaincodeSpec
from harness.spec import NetworkSpec, load_spec


def _spec(identities: str) -> NetworkSpec:
    """The default network with its identities stored as asked and kvstore added."""
    spec = load_spec("default")
    orgs = tuple(dataclasses.replace(o, identities=identities) for o in spec.orgs)  # type: ignore[arg-type]
    kvstore = ChaincodeSpec("kvstore", "kvstore", "MAJORITY Endorsement", (CHANNEL,))
    return dataclasses.replace(spec, orgs=orgs, chaincodes=(*spec.chaincodes, kvstore))


pytestmark = [pytest.mark.benchmark, pytest.mark.hsm]

CHANNEL = "utilityemissionchannel"
TRANSACTIONS = 600
CLIENTS = 16


def _ecdsa_rates(seconds: float = 1.0) -> tuple[float, float]:
    key = ec.generate_private_key(ec.SECP256R1())
    message = b"a proposal-sized message " * 40
    signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    rates = []
    for operation in (
        lambda: key.sign(message, ec.ECDSA(hashes.SHA256())),
        lambda: key.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256())),
    ):
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            operation()
            count += 1
        rates.append(count / (time.perf_counter() - started))
    return rates[0], rates[1]


@pytest.mark.parametrize("identities", ["files", "hsm"])
def test_commit_rate_beside_ecdsa_rates(identities: str, tmp_path: Path) -> None:
    sign_rate, verify_rate = _ecdsa_rates()
    run = RunDir.create("bench-fabric", tmp_path)
    with SimNetwork.start(_spec(identities), run) as network:
        client = FabricClient.in_process(network, network.user("Org1", "user1"))
        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(
                pool.map(
                    lambda i: client.submit(CHANNEL, "kvstore", "put", [f"k{i}", "v"]),
                    range(TRANSACTIONS),
                )
            )
        elapsed = time.perf_counter() - started
    valid = sum(1 for r in results if r.code_name == "VALID")
    report = {
        "identities": identities,
        "committed_tx_per_s": round(valid / elapsed, 1),
        "ecdsa_p256_sign_per_s": round(sign_rate),
        "ecdsa_p256_verify_per_s": round(verify_rate),
        "clients": CLIENTS,
        "transactions": TRANSACTIONS,
        "valid": valid,
    }
    print("\nFabric commit benchmark:", json.dumps(report))
    assert valid == TRANSACTIONS
