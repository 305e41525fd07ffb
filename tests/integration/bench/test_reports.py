"""report.json per the contract, series.csv, and report.html rendered by Chromium."""

from __future__ import annotations

import csv
import json
import re
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from harness.bench import (
    CONTRACT_FIELDS,
    FixedRate,
    LinearRamp,
    RunOptions,
    Schedule,
    create_workload,
    run_benchmark,
    write_reports,
)
from harness.runs import RunDir

CHROMIUM = Path("/usr/bin/chromium")
_CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short run with an injected failure window, written to a run folder."""
    workload = create_workload(
        "calibration-sleep",
        {"sleep_ms": 1, "fail_from_s": 1.0, "fail_for_s": 0.4, "fail_class": "timeout"},
    )
    schedule = Schedule.of([FixedRate(60, 1.5), LinearRamp(60, 150, 1.5)])
    result = run_benchmark(
        workload,
        schedule,
        RunOptions(workers=4, measure_limits=False, drain_s=2),
        # before the load and after it: the report gives the mean and both
        limits={"calibration": iter([300.0, 500.0]).__next__},
    )
    run = RunDir.create("bench", tmp_path_factory.mktemp("runs"))
    write_reports(run, result, "calibration")
    return run.path


def test_report_json_has_the_contract_fields(report_dir: Path) -> None:
    report = json.loads((report_dir / "report.json").read_text())

    assert set(CONTRACT_FIELDS) <= set(report)
    assert report["workload"] == "calibration-sleep"
    assert report["requests"] == report["succeeded"] + sum(report["failed"].values())
    assert set(report["failed"]) == {
        "lock_conflict",
        "mvcc_read_conflict",
        "endorsement_failure",
        "eth_revert",
        "timeout",
        "other",
    }
    assert report["failed"]["timeout"] > 10
    assert set(report["latency_ms"]) == {"p50", "p90", "p95", "p99", "max"}
    assert report["stages_ms"]["service"].keys() == {"p50", "p95"}
    assert report["limits"] == {"calibration": 400.0}
    assert report["limit_samples"] == {"calibration": [300.0, 500.0]}
    assert "400.0 (mean of 300.0, 500.0)" in (report_dir / "report.html").read_text()
    expected = report["throughput_rps"] / 400
    assert report["ratio_to_limit"] == pytest.approx(expected, abs=0.001)
    assert [p["phase"] for p in report["phases"]] == [
        "60/s for 1.5 s",
        "ramp 60->150/s over 1.5 s",
    ]
    busiest = max(report["phases"], key=lambda p: p["throughput_rps"])
    assert report["peak"]["phase"] == busiest["phase"]
    assert report["peak"]["ratio_to_limit"] == pytest.approx(
        busiest["throughput_rps"] / 400, abs=0.001
    )


def test_series_csv_has_a_row_per_second(report_dir: Path) -> None:
    with open(report_dir / "series.csv") as handle:
        rows = list(csv.DictReader(handle))

    assert [int(r["second"]) for r in rows] == list(range(1, len(rows) + 1))
    assert len(rows) >= 3
    assert sum(int(r["sent"]) for r in rows) > 200
    assert int(rows[1]["failed_timeout"]) > 10  # the window was in the 2nd second
    assert int(rows[0]["failed_timeout"]) == 0
    assert "cpu_percent[harness]" in rows[0]


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHROMIUM), *_CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing (scripts/bootstrap.sh installs it as root)",
)
def test_report_html_plots_render_in_headless_chromium(
    report_dir: Path, tmp_path: Path
) -> None:
    page = (report_dir / "report.html").as_uri()

    dom = _chromium("--dump-dom", page, profile=tmp_path / "profile-dom").stdout
    plots = re.findall(r'<svg class="plot" data-plot="(\w+)"', dom)
    assert plots == ["throughput", "latency", "distribution", "failures", "cpu"]
    assert dom.count('class="series"') >= 8  # 4 throughput + 3 latency + cpu
    bars = re.findall(r'class="bar" data-label="([^"]+)" data-value="([^"]+)"', dom)
    assert ("timeout", "0") not in bars
    assert any(label == "timeout" and float(value) > 10 for label, value in bars)

    shot = tmp_path / "report.png"
    _chromium(
        "--window-size=1000,2800",
        f"--screenshot={shot}",
        page,
        profile=tmp_path / "profile-shot",
    )
    width, height, pixels = _read_png(shot.read_bytes())
    assert (width, height) == (1000, 2800)
    # The plots sit below the tables: their part of the page must be drawn in
    # more than a couple of colours (lines, bars, labels), not left blank.
    lower = pixels[height // 3 :]
    colours = {pixel for row in lower for pixel in row[::3]}
    assert len(colours) > 20
    blue = (0x1F, 0x77, 0xB4)  # the first series' colour: lines and bars
    assert sum(row.count(blue) for row in lower) > 500


def _read_png(data: bytes) -> tuple[int, int, list[list[tuple[int, int, int]]]]:
    """Decode an 8-bit RGB or RGBA PNG into rows of RGB pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks: dict[bytes, bytes] = {}
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunks[kind] = chunks.get(kind, b"") + data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8
    assert colour_type in (2, 6)
    step = 3 if colour_type == 2 else 4
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = width * step
    rows: list[list[tuple[int, int, int]]] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            left = line[x - step] if x >= step else 0
            up = previous[x]
            corner = previous[x - step] if x >= step else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + pred) & 0xFF
        rows.append([tuple(line[i : i + 3]) for i in range(0, stride, step)])
        previous = line
    return width, height, rows
