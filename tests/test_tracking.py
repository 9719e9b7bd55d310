"""MLflow tracking (skuplan.tracking) of the golden run: params, metrics and the report, read back from the store."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from skuplan.config import Config, OutputsConfig
from skuplan.ops_config import TrackingConfig


def test_tracking_switch_and_default_store(tmp_path):
    from skuplan import tracking

    assert tracking.active(TrackingConfig(enabled=False)) is False
    assert tracking.active(TrackingConfig(enabled=True)) is True  # mlflow-skinny is in the dev extra
    cfg = Config(outputs=OutputsConfig(root=str(tmp_path / "delta")))
    # Local default: a file store beside the tables, in a folder no table reader takes for a Delta table.
    assert tracking.tracking_uri(cfg) == (tmp_path / "delta" / "_mlflow").as_uri()
    pinned = cfg.model_copy(update={"tracking": TrackingConfig(tracking_uri="databricks")})
    assert tracking.tracking_uri(pinned) == "databricks"
    with tracking.file_store_allowed("databricks"):  # not a file store: nothing set
        assert tracking.ALLOW_FILE_STORE not in os.environ
    with tracking.file_store_allowed(tracking.tracking_uri(cfg)):
        assert os.environ[tracking.ALLOW_FILE_STORE] == "true"
    assert tracking.ALLOW_FILE_STORE not in os.environ  # only while skuplan logs
    with pytest.raises(ValueError, match="tracking.experiment"):
        Config.model_validate({"tracking": {"experiment": "a;b"}})


def _expected_wape_by_class(fm, status) -> dict[str, float]:
    """Mean over series of each series' mean WAPE over the chosen model's folds, per demand class (pandas)."""
    chosen = fm[fm["selected"] & np.isfinite(fm["wape"].astype(float))]
    per_series = chosen.groupby(["item_id", "region_id"], as_index=False)["wape"].mean()
    joined = per_series.merge(status[["item_id", "region_id", "demand_class"]], on=["item_id", "region_id"])
    out = {f"wape_{c}": float(g["wape"].mean()) for c, g in joined.groupby("demand_class")}
    out["wape_all"] = float(joined["wape"].mean())
    return out


@pytest.mark.slow
def test_mlflow_run_holds_params_metrics_and_report(spark, golden_run, tmp_path):
    from mlflow import MlflowClient

    from golden.outputs import RUN_DATE, golden_config
    from skuplan import tracking
    from skuplan.io import read_table

    in_root, out_root = golden_run
    store = (tmp_path / "mlruns").as_uri()
    cfg = golden_config(in_root, out_root)
    cfg = cfg.model_copy(update={"tracking": TrackingConfig(tracking_uri=store, experiment="skuplan-test")})
    runs = read_table(spark, cfg, "runs", RUN_DATE).toPandas()
    first = runs.sort_values("finished_at")["run_id"].iloc[0]  # the golden run itself (a resume may follow)

    tracked = tracking.log_run(spark, cfg, RUN_DATE, first)

    with tracking.file_store_allowed(store):  # MLflow 3 refuses a file store unless asked
        _check_logged(spark, cfg, MlflowClient(tracking_uri=store), tracked, first, tmp_path)


def _check_logged(spark, cfg, client, tracked, first, tmp_path):
    from golden.outputs import RUN_DATE
    from skuplan.io import read_table

    runs = read_table(spark, cfg, "runs", RUN_DATE).toPandas()
    mine = runs[runs["run_id"] == first]
    run = client.get_run(tracked.run_id)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "skuplan-test"
    params = run.data.params
    assert params["config_hash"] == cfg.fingerprint() == mine["config_hash"].iloc[0]
    assert params["run_date"] == RUN_DATE.isoformat() and params["skuplan_run_id"] == first
    status = read_table(spark, cfg, "forecast_status", RUN_DATE).toPandas()
    assert params["models_chosen"] == ",".join(sorted(status["model"].unique()))
    assert params["forecast_model"] == cfg.forecast.model

    metrics = run.data.metrics
    for stage, seconds in zip(mine["stage"], mine["seconds"], strict=True):
        assert metrics[f"seconds_{stage}"] == pytest.approx(seconds)
    fm = read_table(spark, cfg, "forecast_metrics", RUN_DATE).toPandas()
    expected = _expected_wape_by_class(fm, status)
    assert {k for k in metrics if k.startswith("wape_")} == set(expected)
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, rel=1e-9), key
    replay = read_table(spark, cfg, "policy_backtest", RUN_DATE).toPandas()
    assert metrics["achieved_fill_rate"] == pytest.approx(replay["served"].sum() / replay["demand"].sum())
    assert 0.0 < metrics["achieved_fill_rate"] <= 1.0

    (artifact,) = client.list_artifacts(tracked.run_id, "report")
    assert artifact.path == "report/report.html"
    page = Path(client.download_artifacts(tracked.run_id, artifact.path, str(tmp_path))).read_text()
    assert "<html" in page and RUN_DATE.isoformat() in page
