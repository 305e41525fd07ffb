"""The whole-system workloads' options, limits and nodes, read without starting
a system (tests/integration/bench/test_system_workloads.py starts one)."""

from __future__ import annotations

import os

import pytest

from harness.bench import create_workload, parse_benchmark
from harness.bench._system_workloads import AuditRequestsWorkload
from harness.errors import ConfigError

SYSTEM_WORKLOADS = [
    pytest.param("fabric-records", id="fabric-records"),
    pytest.param("audit-requests", id="audit-requests"),
]


@pytest.mark.parametrize("name", SYSTEM_WORKLOADS)
@pytest.mark.parametrize("value", ["yes", 1, None], ids=["text", "number", "null"])
def test_served_chain_must_be_true_or_false(name: str, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        create_workload(name, {"served_chain": value})
    assert str(caught.value) == (
        f"workload option served_chain must be true or false, got {value!r}"
    )


@pytest.mark.parametrize("name", SYSTEM_WORKLOADS)
def test_a_benchmark_file_may_serve_the_chain(name: str) -> None:
    spec = parse_benchmark(
        {
            "workload": {"name": name, "options": {"served_chain": True}},
            "phases": [{"type": "fixed-rate", "rps": 1, "duration_s": 1}],
        },
        source="bench.yaml",
    )
    assert spec.workload_options == {"served_chain": True}
    workload = create_workload(name, spec.workload_options)
    assert workload.served_chain is True  # type: ignore[attr-defined]
    assert workload.served is False  # type: ignore[attr-defined]


def test_an_audit_is_measured_by_four_component_limits() -> None:
    limits = AuditRequestsWorkload({"served_chain": True}).limits()

    assert sorted(limits) == [
        "eth_tester_issue",
        "fabric_audit_transactions",
        "fabric_commit_per_audit",
        "hsm_signing_per_audit",
    ]
    assert all(callable(probe) for probe in limits.values())


@pytest.mark.parametrize(
    "options",
    [{}, {"served": True, "served_chain": True}],
    ids=["in-process", "served"],
)
def test_before_setup_every_part_is_this_process(options: dict[str, bool]) -> None:
    workload = AuditRequestsWorkload(options)
    assert workload.nodes() == {"harness+simulator+eth-tester": os.getpid()}
