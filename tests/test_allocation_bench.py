"""Smoke test of bench/allocation_bench.py on a tiny instance, so the benchmark cannot silently rot."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "allocation_bench.py"


def test_bench_skuplan_contender_runs_and_is_consistent(monkeypatch):
    spec = importlib.util.spec_from_file_location("allocation_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # dataclasses look their module up by name
    spec.loader.exec_module(bench)
    data = bench.make_data(60, 3, 20, seed=1, subset=10)
    args = argparse.Namespace(batch_vars=2000, presolve=False, repeat=1, integer=True)
    lp, integer = bench.run_skuplan(data, args), bench.run_skuplan_integer(data, args)
    assert lp.items == 60 and "identities ok" in lp.note and "NON-OPTIMAL" not in lp.note
    # Integer stock and Poisson requirements: the LP optimum is already integral (totally unimodular).
    assert integer.subset_objective == pytest.approx(lp.subset_objective)
