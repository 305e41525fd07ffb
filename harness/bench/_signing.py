"""Signatures per second: the raw token beside the harness's HSM signer.

The raw rate is python-pkcs11 signing a fixed digest in one thread, nothing else.
The signer rate is :class:`HsmSigner.sign` (hash, token, low-S, DER) from 1 and N
threads. The machine is noisy, so the measurements are interleaved in rounds and
each rate is the median over the rounds; the ratio compares medians of one run.
"""

from __future__ import annotations

import hashlib
import logging
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.hsm import SoftHsm, Token

log = logging.getLogger(__name__)

_MESSAGE = b"harness signing benchmark: a proposal-sized message " * 20


@dataclass(frozen=True)
class SigningRun:
    threads: int
    ops_per_s: float
    ratio: float


@dataclass
class SigningBenchmark:
    """Medians over rounds: the raw token rate and the signer's rate per thread count."""

    raw_ops_per_s: float
    runs: list[SigningRun]
    rounds: int
    seconds_per_measure: float
    samples: dict[str, list[float]] = field(default_factory=dict)

    def run_for(self, threads: int) -> SigningRun:
        for run in self.runs:
            if run.threads == threads:
                return run
        raise KeyError(threads)

    def to_json(self, threads: int) -> dict[str, Any]:
        """The CLI contract: raw and signer rates at ``threads``, their ratio, details."""
        main = self.run_for(threads)
        return {
            "raw_ops_per_s": round(self.raw_ops_per_s, 1),
            "signer_ops_per_s": round(main.ops_per_s, 1),
            "threads": threads,
            "ratio": round(main.ratio, 3),
            "runs": [
                {
                    "threads": r.threads,
                    "ops_per_s": round(r.ops_per_s, 1),
                    "ratio": round(r.ratio, 3),
                }
                for r in self.runs
            ],
            "rounds": self.rounds,
            "seconds_per_measure": self.seconds_per_measure,
        }


def measure_signing(
    home: Path,
    *,
    thread_counts: Sequence[int] = (1, 4),
    seconds: float = 1.0,
    rounds: int = 3,
    progress: Callable[[str], None] | None = None,
) -> SigningBenchmark:
    """Make a token in ``home``, one key on it, and measure; the token is left there."""
    if seconds <= 0 or rounds < 1 or not thread_counts or min(thread_counts) < 1:
        raise ConfigError(
            "seconds must be positive, rounds and thread counts at least 1"
        )
    from harness.identity import HsmSigner

    softhsm = SoftHsm.create(home)
    label = softhsm.init_token("HarnessBench")
    samples: dict[str, list[float]] = {"raw": []}
    samples.update((f"signer-{count}", []) for count in thread_counts)
    with Token(softhsm, label, pool_size=max(thread_counts)) as token:
        key = token.generate_key()
        signer = HsmSigner(token, key.ski)
        raw_sign = _raw_signer(token, key.ski)
        for round_no in range(1, rounds + 1):
            samples["raw"].append(_rate(raw_sign, 1, seconds))
            for count in thread_counts:
                rate = _rate(lambda: signer.sign(_MESSAGE), count, seconds)
                samples[f"signer-{count}"].append(rate)
            if progress is not None:
                progress(
                    f"round {round_no}/{rounds}: raw {samples['raw'][-1]:,.0f} ops/s"
                )
    raw = statistics.median(samples["raw"])
    runs = []
    for count in thread_counts:
        rate = statistics.median(samples[f"signer-{count}"])
        runs.append(SigningRun(threads=count, ops_per_s=rate, ratio=rate / raw))
    log.info("signing benchmark: raw %.0f ops/s, %s", raw, runs)
    return SigningBenchmark(
        raw_ops_per_s=raw,
        runs=runs,
        rounds=rounds,
        seconds_per_measure=seconds,
        samples=samples,
    )


def _raw_signer(token: Token, ski: bytes) -> Callable[[], object]:
    """python-pkcs11 signing one fixed digest: the token's own rate."""
    from pkcs11 import Attribute, Mechanism, ObjectClass

    digest = hashlib.sha256(_MESSAGE).digest()
    with token.session() as pooled, token.lock:
        query = {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: ski}
        private = next(iter(pooled.session.get_objects(query)))

    def sign() -> object:
        with token.lock:
            return private.sign(digest, mechanism=Mechanism.ECDSA)

    return sign


def _rate(operation: Callable[[], object], threads: int, seconds: float) -> float:
    """Operations per second of ``threads`` threads calling ``operation`` for ``seconds``."""
    counts = [0] * threads
    start = threading.Barrier(threads + 1)
    stop = threading.Event()

    def worker(slot: int) -> None:
        start.wait()
        done = 0
        while not stop.is_set():
            operation()
            done += 1
        counts[slot] = done

    workers = [
        threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)
    ]
    for thread in workers:
        thread.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in workers:
        thread.join()
    return sum(counts) / (time.perf_counter() - began)
