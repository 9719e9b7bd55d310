"""The report's drawing and markup modules stay importable without pyspark."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["skuplan.report.svg", "skuplan.report.page"])
def test_module_imports_without_pyspark(module):
    code = f"import sys, {module}; assert 'pyspark' not in sys.modules, sorted(m for m in sys.modules if 'spark' in m)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
