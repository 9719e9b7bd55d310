"""notebooks/explore.ipynb runs top to bottom on the tiny sample (it generates the data and runs the job itself)."""

from __future__ import annotations

import pytest

from engine_conf import engine_submit_args

pytestmark = pytest.mark.slow


def test_explore_notebook_runs_top_to_bottom(repo_root, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="pip install nbformat nbclient ipykernel (dev extra)")
    nbclient = pytest.importorskip("nbclient", reason="pip install nbformat nbclient ipykernel (dev extra)")
    pytest.importorskip("ipykernel", reason="pip install ipykernel (dev extra): the kernel nbclient starts")
    # Self-contained mode: no existing run; the kernel inherits this environment.
    for name in ("SKUPLAN_NB_OUTPUTS", "SKUPLAN_NB_INPUTS", "SKUPLAN_NB_ITEM", "SKUPLAN_NB_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # The notebook reads no policy_backtest: the kernel's run skips the hold-out replay (the policy stage's dearest
    # part); the notebook's load_config takes SKUPLAN__ overrides from the environment it inherits.
    monkeypatch.setenv("SKUPLAN__INVENTORY__REPLAY__ENABLED", "false")
    # The kernel's session gets the suite's engine settings (engine_conf.TEST_ENGINE_CONF): no code generation.
    monkeypatch.setenv("PYSPARK_SUBMIT_ARGS", engine_submit_args())

    path = repo_root / "notebooks" / "explore.ipynb"
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError naming the failing cell and its traceback

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3, "history, forecast and sawtooth figures expected"
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "ok:" in text
