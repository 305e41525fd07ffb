"""The whole-system workloads started for real: which processes run what, and the
per-audit limit probes on a fresh system. Each starts a network: marked slow."""

from __future__ import annotations

import os

import psutil
import pytest

from harness.bench._system_workloads import (
    FabricRecordsWorkload,
    audit_issue_rate,
    fabric_audit_rate,
)

pytestmark = pytest.mark.slow


def _children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


def test_in_process_everything_is_one_node() -> None:
    workload = FabricRecordsWorkload({})
    workload.setup()
    try:
        assert workload.nodes() == {"harness+simulator+eth-tester": os.getpid()}
        assert workload.system.chain.served_by is None
    finally:
        workload.teardown()


@pytest.mark.parametrize(
    ("served", "here"),
    [
        pytest.param(False, "harness+simulator", id="network-here"),
        pytest.param(True, "harness", id="network-served"),
    ],
)
def test_a_served_chain_is_a_node_of_its_own_until_teardown(
    served: bool, here: str
) -> None:
    workload = FabricRecordsWorkload({"served": served, "served_chain": True})
    workload.setup()
    try:
        nodes = workload.nodes()
        chain_pid = nodes.pop("eth-tester")
        network_pid = nodes.pop("simulator", None)
        assert nodes == {here: os.getpid()}
        assert chain_pid in _children()
        assert (network_pid is not None) == served
        assert network_pid != chain_pid
        assert workload.operation(0)["record"] > 0
    finally:
        workload.teardown()

    assert not psutil.pid_exists(chain_pid)


def test_audit_issue_rate_on_a_served_chain_leaves_no_process() -> None:
    before = _children()

    rate = audit_issue_rate(2, auditors=2, served_chain=True, count=6)

    assert rate > 0
    assert _children() <= before


def test_fabric_audit_rate_rehearses_audits_on_a_fresh_network() -> None:
    assert fabric_audit_rate("default", 2, count=4, threads=2) > 0
