"""Benchmarks: measured rates of the harness's parts, each beside its raw limit."""

from harness.bench._signing import SigningBenchmark, SigningRun, measure_signing

__all__ = ["SigningBenchmark", "SigningRun", "measure_signing"]
