"""The embedded sample generator: determinism, shape, dirty rows, demand realism, CSV text, spec validation."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from skuplan.sample import SALES_SCHEMA, TABLES, UNKNOWN_ITEM_ID, SampleSpec, generate_sample

TINY = SampleSpec(n_items=6, n_regions=2, n_dcs=2, seed=11)
KEY = ["item_id", "region_id", "date", "channel"]


def _tiny(tmp_path_factory, name: str, **overrides) -> dict[str, Path]:
    spec = SampleSpec(**{**TINY.__dict__, **overrides})
    return generate_sample(tmp_path_factory.mktemp(name), spec)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    return _tiny(tmp_path_factory, "dirty")


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return _tiny(tmp_path_factory, "clean", dirty_rows=False)


@pytest.fixture(scope="module")
def csv_dirty(tmp_path_factory):
    return _tiny(tmp_path_factory, "csv_dirty", sales_format="csv")


def _read(folders: dict[str, Path], table: str) -> pd.DataFrame:
    return pd.read_parquet(folders[table])


def _daily(sales: pd.DataFrame, spec: SampleSpec = TINY) -> pd.DataFrame:
    """(date x series) matrix of units summed over channels, with the missing days filled as zero sales."""
    sales = sales.assign(date=pd.to_datetime(sales["date"]))
    wide = sales.pivot_table(index="date", columns=["item_id", "region_id"], values="units", aggfunc="sum")
    return wide.reindex(pd.date_range(spec.start, spec.end), fill_value=0.0).fillna(0.0)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("sales_format", ["parquet", "csv"])
def test_same_spec_gives_identical_bytes(tmp_path, sales_format):
    spec = SampleSpec(n_items=6, n_regions=2, seed=3, sales_format=sales_format)
    generate_sample(tmp_path / "a", spec)
    generate_sample(tmp_path / "b", spec)
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(first) == sorted(second)
    assert len(first) == len(TABLES)
    assert all(first[name] == second[name] for name in first)


def test_different_seed_gives_different_sales(tmp_path):
    generate_sample(tmp_path / "a", SampleSpec(n_items=6, n_regions=2, seed=1))
    generate_sample(tmp_path / "b", SampleSpec(n_items=6, n_regions=2, seed=2))
    assert (
        _files(tmp_path / "a")["sales/part-00000.parquet"]
        != _files(tmp_path / "b")["sales/part-00000.parquet"]
    )


def test_rerun_replaces_table_folders_but_leaves_other_files(tmp_path):
    generate_sample(tmp_path, TINY)
    (tmp_path / "sales" / "part-00099.parquet").write_bytes(b"stale")
    (tmp_path / "notes.txt").write_text("keep me")
    folders = generate_sample(tmp_path, TINY)
    assert folders == {name: tmp_path / name for name in TABLES}
    assert not (tmp_path / "sales" / "part-00099.parquet").exists()
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_sales_schema_and_shape(clean):
    assert pq.read_schema(clean["sales"] / "part-00000.parquet") == SALES_SCHEMA
    sales, items = _read(clean, "sales"), _read(clean, "items")
    assert sales.groupby(["item_id", "region_id"]).ngroups == TINY.n_items * TINY.n_regions
    assert sales["date"].min() == TINY.start and sales["date"].max() == TINY.end
    assert set(sales["item_id"]) <= set(items["item_id"])
    assert set(sales["channel"]) <= {"web", "store", "marketplace"}
    assert (sales["units"] > 0).all() and set(sales["promo"]) <= {0, 1}
    assert not sales.duplicated(KEY).any()
    # Canonical order: series, then date, then channel.
    order = sales.assign(ch=sales["channel"].map({"web": 0, "store": 1, "marketplace": 2}))
    assert order.equals(order.sort_values(["item_id", "region_id", "date", "ch"], kind="stable"))


def test_dirty_kinds_present_when_enabled(dirty, clean):
    sales = _read(dirty, "sales")
    units = sales["units"]
    kinds = {
        "null item_id": sales["item_id"].isna(),
        "empty region_id": sales["region_id"] == "",
        "negative units": units < 0,
        "NaN units": units.isna(),
        "exact duplicate": sales.duplicated(),
        # Copies always follow their source row, so "a later row for the same key" finds the injected ones.
        "conflicting duplicate": sales.duplicated(KEY) & ~sales.duplicated() & (units > 0),
        "unknown item": sales["item_id"] == UNKNOWN_ITEM_ID,
        "future date": sales["date"] > TINY.end,
    }
    counts = {name: int(mask.sum()) for name, mask in kinds.items()}
    assert all(n >= 3 for n in counts.values()), counts
    assert set(sales["item_id"].dropna()) - set(_read(dirty, "items")["item_id"]) == {UNKNOWN_ITEM_ID}
    # Dirty rows are extra copies: removing them gives back the clean sample exactly.
    keep = ~pd.concat(list(kinds.values()), axis=1).any(axis=1)
    restored = sales[keep].reset_index(drop=True)
    pd.testing.assert_frame_equal(restored, _read(clean, "sales"))


def test_no_dirty_rows_when_disabled(clean):
    sales = _read(clean, "sales")
    assert sales.notna().all().all()
    assert (sales["region_id"] != "").all() and (sales["units"] > 0).all()
    assert UNKNOWN_ITEM_ID not in set(sales["item_id"])
    assert sales["date"].max() <= TINY.end and not sales.duplicated(KEY).any()


def test_festival_and_weekend_seasonality(clean):
    daily = _daily(_read(clean, "sales"))
    smooth = daily.loc[:, (daily > 0).mean() > 0.8]
    assert smooth.shape[1] >= 2
    november = smooth[smooth.index.month == 11]
    assert november[november.index.day == 11].to_numpy().mean() > 2.0 * november.to_numpy().mean()
    june = smooth[smooth.index.month == 6]
    assert june[june.index.day == 18].to_numpy().mean() > 1.25 * june.to_numpy().mean()
    weekend = smooth.index.dayofweek >= 5
    assert smooth[weekend].to_numpy().mean() > 1.1 * smooth[~weekend].to_numpy().mean()


def test_intermittent_new_and_discontinued_items(clean):
    daily = _daily(_read(clean, "sales"))
    by_item = daily.T.groupby(level="item_id").sum().T
    selling = by_item > 0
    first, last = selling.idxmax(), selling[::-1].idxmax()
    # Lumpy items can go weeks without a sale, hence the loose definition of "sells over the whole span".
    full_span = (first <= pd.Timestamp(TINY.start) + pd.Timedelta(days=120)) & (
        last >= pd.Timestamp(TINY.end) - pd.Timedelta(days=120)
    )
    zero_share = (daily == 0).mean().groupby(level="item_id").mean()
    assert (zero_share[full_span] > 0.7).any(), zero_share
    assert (first > pd.Timestamp(TINY.end) - pd.Timedelta(days=181)).any(), first
    assert (last < pd.Timestamp(TINY.end) - pd.Timedelta(days=59)).any(), last


def test_channels_and_promos(clean):
    sales = _read(clean, "sales")
    per_day = sales.groupby(["item_id", "region_id", "date"])["channel"].nunique()
    assert (per_day > 1).any()
    assert 0.01 < sales["promo"].mean() < 0.3
    # A promo is a price cut on the same series and channel.
    series_price = (
        sales.groupby(["item_id", "region_id", "channel", "promo"])["price"].median().unstack("promo")
    )
    both = series_price.dropna()
    assert len(both) > 0 and (both[1] < both[0]).mean() > 0.9


def test_master_and_position_tables(clean):
    items, inv = _read(clean, "items"), _read(clean, "inventory")
    dc, lanes, events = _read(clean, "dc_stock"), _read(clean, "lanes"), _read(clean, "events")
    assert list(items["item_id"]) == [f"SKU{i:05d}" for i in range(1, 7)]
    assert items["holding_rate"].between(0.15, 0.35).all() and items["lead_time_days"].between(3, 21).all()
    assert items["service_level"].between(0.90, 0.99).all() and (items["lead_time_std_days"] >= 0).all()
    assert (
        set(items["service_type"]) <= {"csl", "fill_rate"} and (items[["moq", "pack_size"]] >= 1).all().all()
    )
    assert (items["moq"] % items["pack_size"] == 0).all()
    assert len(inv) == TINY.n_items * TINY.n_regions and (inv["as_of_date"] == TINY.end).all()
    assert (inv[["on_hand", "on_order", "backorders"]] >= 0).all().all()
    assert len(dc) == TINY.n_items * TINY.n_dcs and (dc["available"] >= 0).all()
    assert len(lanes) == TINY.n_dcs * TINY.n_regions and not lanes.duplicated(["dc_id", "region_id"]).any()
    assert (lanes["unit_cost"] > 0).all() and lanes["capacity"].isna().mean() >= 0.5
    horizon = TINY.end + dt.timedelta(days=365)
    for name, month, day in (("double_11", 11, 11), ("618", 6, 18)):
        want = [dt.date(y, month, day) for y in range(TINY.start.year, horizon.year + 1)]
        want = [d for d in want if TINY.start <= d <= horizon]
        assert list(events.loc[events["event_name"] == name, "date"]) == want
    assert (events["event_name"] == "brand_day").sum() >= 2 and events["date"].max() > TINY.end


def test_inventory_spread_around_recent_demand(tmp_path):
    folders = generate_sample(tmp_path, SampleSpec(n_items=60, n_regions=2))
    sales, inv = _read(folders, "sales"), _read(folders, "inventory")
    recent = sales[sales["date"] > SampleSpec().end - dt.timedelta(days=56)]
    rate = recent.groupby(["item_id", "region_id"])["units"].sum().div(56).rename("rate")
    cover = inv.join(rate, on=["item_id", "region_id"]).query("rate > 1").eval("on_hand / rate")
    assert (cover < 5).mean() > 0.05 and (cover > 60).mean() > 0.05


def test_csv_sales_are_text_with_bad_values(csv_dirty):
    parts = sorted(csv_dirty["sales"].glob("part-*.csv"))
    assert [p.name for p in parts] == ["part-00000.csv"]
    text = parts[0].read_text()
    sales = pd.read_csv(parts[0], dtype=str, keep_default_na=False)
    assert list(sales.columns) == SALES_SCHEMA.names
    assert (sales["units"] == "n/a").sum() >= 3 and (sales["date"] == "2024-13-45").sum() >= 3
    assert (sales["units"] == "NaN").sum() >= 3
    # A null item_id is an unquoted empty field, an empty region_id a quoted one.
    assert re.search(r'^,"R\d\d",', text, flags=re.M) and re.search(r'^"SKU\d{5}","",', text, flags=re.M)
    assert sales["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()


def test_csv_clean_rows_match_parquet(tmp_path):
    spec = SampleSpec(n_items=6, n_regions=2, seed=5, dirty_rows=False)
    from_parquet = _read(generate_sample(tmp_path / "p", spec), "sales")
    csv_folder = generate_sample(tmp_path / "c", SampleSpec(**{**spec.__dict__, "sales_format": "csv"}))[
        "sales"
    ]
    from_csv = pd.read_csv(csv_folder / "part-00000.csv", dtype=str, keep_default_na=False)
    parsed = from_csv.assign(
        date=pd.to_datetime(from_csv["date"], format="%Y-%m-%d").dt.date,
        units=from_csv["units"].astype(float),
        price=from_csv["price"].astype(float),
        promo=from_csv["promo"].astype(np.int8),
    )
    pd.testing.assert_frame_equal(parsed, from_parquet)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n_items": 0}, "n_items must be >= 1, got 0"),
        ({"n_items": 99_999}, "n_items must be <= 99998, got 99999"),
        ({"n_regions": 0}, r"n_regions must be >= 1, got 0; allowed range is \[1, 99\]"),
        ({"n_dcs": 10}, r"n_dcs must be <= 9, got 10; allowed range is \[1, 9\]"),
        ({"seed": -1}, "seed must be >= 0, got -1"),
        ({"n_items": 2.5}, "n_items must be an int, got float"),
        ({"end": dt.date(2023, 6, 30)}, r"end must be after start \(2023-07-01\), got 2023-06-30"),
        ({"start": "2023-07-01"}, "start must be a datetime.date, got str"),
        ({"sales_format": "json"}, "sales_format must be one of 'parquet', 'csv', got 'json'"),
        ({"dirty_rows": 1}, "dirty_rows must be a bool, got int"),
    ],
)
def test_spec_validation_messages(overrides, message):
    with pytest.raises(ValueError, match=message):
        SampleSpec(**overrides)
