"""``posjaga bench pipeline`` runs end to end (small sizes; the figures belong in
docs/benchmarks.md, never in an assertion on time)."""
from __future__ import annotations

import json

import pytest

from tests.support.running import posjaga


def test_bench_pipeline_prints_every_figure_and_loses_nothing() -> None:
    result = posjaga("bench", "pipeline", "--json", "--events", "600", "--samples", "20",
                     "--backlog", "700", "--batch", "50")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["lost"] == 0
    assert (figures["events"], figures["samples"], figures["backlog"]) == (600, 20, 700)
    for key in ("raw_per_s", "pipeline_per_s", "drain_per_s", "inproc_per_s", "raw_p99_ms",
                "p50_ms", "p99_ms", "floor_p50_ms", "floor_p99_ms", "commit_p99_ms",
                "forward_p99_ms"):
        assert figures[key] > 0, key
    # The ratios are of the unrounded figures.
    assert figures["ratio"] == pytest.approx(figures["pipeline_per_s"] / figures["raw_per_s"],
                                             abs=0.002)
    assert figures["floor_p99_over_raw_p99"] == pytest.approx(
        figures["floor_p99_ms"] / figures["raw_p99_ms"], abs=0.02)


def test_bench_pipeline_refuses_a_size_that_is_not_positive() -> None:
    result = posjaga("bench", "pipeline", "--events", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == "posjaga: --events must be a positive whole number"
