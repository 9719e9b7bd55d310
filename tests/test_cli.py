"""CLI: help with examples, exit codes (0 ok, 1 run failed, 2 bad config or input), dry run."""

from __future__ import annotations

import datetime as dt

import pytest

from skuplan.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, build_parser, main
from skuplan.sample import SampleSpec, generate_sample

SUBCOMMANDS = ("run", "demo", "generate-sample", "report")


def test_every_subcommand_has_help_with_an_example(capsys):
    parser = build_parser()
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit) as stop:
            parser.parse_args([name, "--help"])
        assert stop.value.code == 0
        assert f"example: skuplan {name}" in capsys.readouterr().out


def test_bad_run_date_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "--run-date", "2026-13-01"])
    assert stop.value.code == 2
    assert "--run-date must be YYYY-MM-DD" in capsys.readouterr().err


def test_bad_config_exits_2_naming_the_key(tmp_path, repo_root, capsys, monkeypatch):
    monkeypatch.setenv("SKUPLAN__FORECAST__HORIZON_DAYS", "-3")
    code = main(["run", "--conf", str(repo_root / "conf"), "--run-date", "2026-01-01", "--dry-run"])
    assert code == EXIT_BAD_INPUT
    assert "forecast.horizon_days" in capsys.readouterr().err


def test_missing_input_exits_2_with_the_fix(spark, tmp_path, repo_root, capsys, monkeypatch):
    monkeypatch.setenv("SKUPLAN__INPUTS__ROOT", str(tmp_path / "nowhere"))
    code = main(["run", "--conf", str(repo_root / "conf"), "--run-date", "2026-01-01", "--dry-run"])
    assert code == EXIT_BAD_INPUT
    assert "skuplan generate-sample" in capsys.readouterr().err


def test_dry_run_checks_inputs_and_runs_nothing(spark, tmp_path, repo_root, capsys, monkeypatch):
    generate_sample(tmp_path / "in", SampleSpec(n_items=2, n_regions=1, start=dt.date(2025, 6, 1)))
    monkeypatch.setenv("SKUPLAN__INPUTS__ROOT", str(tmp_path / "in"))
    monkeypatch.setenv("SKUPLAN__OUTPUTS__ROOT", str(tmp_path / "out"))
    code = main(["run", "--conf", str(repo_root / "conf"), "--run-date", "2026-01-01", "--dry-run"])
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "input sales     ok" in out and "would run stages validate -> prepare" in out
    assert not (tmp_path / "out").exists()


def test_failed_run_exits_1_with_one_line_reason(spark, tmp_path, repo_root, capsys, monkeypatch):
    generate_sample(tmp_path / "in", SampleSpec(n_items=2, n_regions=1, start=dt.date(2025, 6, 1)))
    monkeypatch.setenv("SKUPLAN__INPUTS__ROOT", str(tmp_path / "in"))
    monkeypatch.setenv("SKUPLAN__OUTPUTS__ROOT", str(tmp_path / "out"))
    monkeypatch.setenv("SKUPLAN__QUALITY__MAX_QUARANTINE_RATIO", "0.0")  # the sample has dirty rows
    code = main(["run", "--conf", str(repo_root / "conf"), "--run-date", "2026-01-01"])
    err = capsys.readouterr().err
    assert code == EXIT_FAILED
    assert "run failed: input sales:" in err and "max_quarantine_ratio=0.0" in err
    assert len(err.strip().splitlines()) == 1
