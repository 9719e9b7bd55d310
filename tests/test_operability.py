"""Operability: JSON log lines with run_id and stage, Spark UI job labels, --version and --log-level."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging

import pytest

from skuplan import __version__, logs
from skuplan.cli import build_parser, main


@pytest.fixture
def log_stream():
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    yield stream
    root.setLevel(level)
    logging.getLogger("skuplan").setLevel(logging.NOTSET)
    for handler in [h for h in root.handlers if getattr(h, "_skuplan", False)]:
        root.removeHandler(handler)
    logs.enter_run("")


def test_json_log_lines_carry_run_id_and_stage_and_spark_jobs_are_labelled(spark, log_stream):
    # force: pytest has handlers of its own on the root logger. Twice, as the CLI does: still one handler.
    logs.configure("json", "INFO", stream=log_stream, force=True)
    logs.configure("json", "INFO", stream=log_stream, force=True)
    logs.enter_run("2026-01-01-abcd1234")
    logging.getLogger("skuplan").info("before the first stage")
    logs.enter_stage(spark, "2026-01-01-abcd1234", "forecast", dt.date(2026, 1, 1))
    logging.getLogger("skuplan").warning("%d series", 3)
    logging.getLogger("skuplan.io").debug("below the level: not written")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("skuplan").exception("stage failed")
    label = spark.sparkContext.getLocalProperty("spark.job.description")
    logs.set_job_description(spark, None)

    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    assert [(x["run_id"], x["stage"], x["level"], x["message"]) for x in lines] == [
        ("2026-01-01-abcd1234", None, "INFO", "before the first stage"),
        ("2026-01-01-abcd1234", "forecast", "WARNING", "3 series"),
        ("2026-01-01-abcd1234", "forecast", "ERROR", "stage failed"),
    ]
    assert "ValueError: boom" in lines[-1]["exception"]
    assert label == "skuplan forecast run_date=2026-01-01 run 2026-01-01-abcd1234"


def test_text_log_lines_name_run_and_stage(log_stream):
    logs.configure("text", "WARNING", stream=log_stream, force=True)
    logs.enter_run("r1")
    logging.getLogger("skuplan").info("not at WARNING")
    logging.getLogger("skuplan").warning("late sales")
    (line,) = log_stream.getvalue().splitlines()
    assert line.endswith("WARNING skuplan [r1 -]: late sales")


def test_version_and_log_level_flags(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.strip() == f"skuplan {__version__}"
    args = build_parser().parse_args(
        ["--log-level", "debug", "--log-format", "json", "run", "--run-date", "2026-01-01"]
    )
    assert (args.log_level, args.log_format) == ("DEBUG", "json")
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--log-level", "chatty", "run", "--run-date", "2026-01-01"])
    assert exited.value.code == 2 and "--log-level" in capsys.readouterr().err


def test_operational_settings_leave_the_config_hash_alone():
    # Switching log format, tracking or retention changes no output: a resume must not see "another config".
    from skuplan.config import Config

    base = Config().fingerprint()
    ops = {
        "tracking": {"enabled": False},
        "logging": {"format": "json"},
        "maintenance": {"file_retention_days": 30},
    }
    assert Config.model_validate(ops).fingerprint() == base
    assert Config.model_validate({"forecast": {"horizon_days": 14}}).fingerprint() != base
