"""Observation: a recorder with preallocated monthly arrays, the tidy result tables, atomic writing.

Units in tables: persons (real, i.e. agents x scale); rates per mille per year; grain in Mt of
unhusked grain; retention in kg/person/year; steel in Mt; shares in 0..1.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from greatleap.io import atomic_folder
from greatleap.levers import month_label
from greatleap.mechanisms.agriculture import FACTORS as HARVEST_FACTORS
from greatleap.mechanisms.classes import CLASSES
from greatleap.mechanisms.demography import AGE_GROUPS
from greatleap.mechanisms.mortality import CAUSES

SECTORS = ("rural", "urban")


class MemberRecords:
    """The recorder's arrays of one member: ``national[name]`` (months,), ``sector[name]`` (months, provinces, 2)."""

    def __init__(self, records: dict, member: int, geo, start_month: int, n_months: int):
        self.national = {k: v[member, :n_months] for k, v in records["national"].items()}
        self.sector = {k: v[member, :n_months] for k, v in records["sector"].items()}
        self.deaths_detail = records["deaths_detail"][member, :n_months]
        self.pyramids = {year: p[member] for year, p in records["pyramids"].items()}
        self.geo, self.start, self.n_months = geo, start_month, n_months


def _rates(events, pop_mean):
    return np.where(pop_mean > 0, events / np.maximum(pop_mean, 1e-9) * 1000.0, np.nan)


class Results:
    """Tidy result tables (pandas DataFrames) of one run, with ``save`` and ``plot``."""

    def __init__(self, recorder: MemberRecords, meta: dict):
        self.recorder, self.meta = recorder, meta
        self.geo = recorder.geo
        months = np.arange(recorder.n_months) + recorder.start
        self.month_labels = [month_label(int(m)) for m in months]
        self.month_dates = pd.to_datetime([f"{label}-01" for label in self.month_labels]).to_numpy()
        self.years = months // 12
        self._tables: dict[str, pd.DataFrame] = {}

    # ---------------------------------------------------------------- tables
    @property
    def monthly_national(self) -> pd.DataFrame:
        if "monthly_national" not in self._tables:
            n = self.recorder.national
            sec = self.recorder.sector
            df = {"month": self.month_dates, "year": self.years}  # columns in order; one DataFrame at the end
            df["population"] = n["pop"]
            df["population_urban"] = sec["pop"][:, :, 1].sum(axis=1)
            df["population_rural"] = sec["pop"][:, :, 0].sum(axis=1)
            df["registered_population"] = n["reg_pop"]
            for key in ("births", "births_reg", "deaths", "deaths_reg"):
                df[key.replace("_reg", "_registered")] = n[key]
            df["deaths_famine"] = sec["deaths_famine"].sum(axis=(1, 2))
            df["deaths_violence"] = sec["deaths_violence"].sum(axis=(1, 2))
            for key, col in (("births", "cbr"), ("deaths", "cdr")):
                df[f"{col}_true"] = _rates(n[key] * 12, n["pop"])
                df[f"{col}_registered"] = _rates(n[f"{key}_reg"] * 12, n["reg_pop"])
            mt = {"harvest": "grain_harvest_mt", "seed_feed": "seed_feed_mt", "procured": "procurement_mt",
                  "due": "procurement_due_mt", "relief": "relief_mt", "eaten_rural": "eaten_rural_mt",
                  "eaten_urban": "eaten_urban_mt", "waste": "canteen_waste_mt", "commune_stock": "commune_stock_mt",
                  "state_stock": "state_stock_mt", "losses": "storage_losses_mt", "urban_supply": "urban_supply_mt",
                  "exports": "exports_mt", "imports": "imports_mt", "state_other_use": "state_other_use_mt",
                  "reported_commune": "grain_reported_commune_mt", "reported_province": "grain_reported_province_mt",
                  "believed": "grain_believed_mt", "claimed": "grain_claimed_mt"}
            for key, col in mt.items():
                df[col] = n[key] / 1e9
            for key in ("steel_modern", "steel_furnace_usable", "steel_unusable"):
                df[f"{key}_mt"] = n[key]
            rural = np.maximum(n["rural_working"], 1e-9)
            df["labor_share_furnace"] = n["furnace_labor"] / rural
            df["labor_share_waterworks"] = n["water_labor"] / rural
            df["labor_share_farm"] = n["farm_labor"] / rural
            df["urban_workers"] = n["urban_working"] * self.meta["scale"]
            for key in ("ration_ratio_rural", "ration_ratio_urban", "reserve_rural", "reserve_urban"):
                df[key] = n[key]
            df["escapes"] = n["escapes"]
            df["draught_animals"], df["pigs"] = n["draught_animals"], n["pigs"]
            self._tables["monthly_national"] = pd.DataFrame(df)
        return self._tables["monthly_national"]

    @property
    def monthly_province(self) -> pd.DataFrame:
        if "monthly_province" not in self._tables:
            sec = self.recorder.sector
            nm, npv = self.recorder.n_months, self.geo.n_provinces
            frames = []
            for s, sector in enumerate(SECTORS):
                df = pd.DataFrame({"month": np.repeat(self.month_dates, npv), "year": np.repeat(self.years, npv),
                                   "province": np.tile(self.geo.province_names, nm), "sector": sector})
                for key in ("pop", "births", "births_reg", "deaths", "deaths_reg", "deaths_famine",
                            "deaths_violence", "reg_pop"):
                    df[{"pop": "population", "reg_pop": "registered_population"}.get(key, key.replace("_reg", "_registered"))] = sec[key][:, :, s].ravel()
                for key in ("harvest", "procured", "relief", "stock", "eaten", "reported_commune", "reported_province",
                            "granary", "outflow"):
                    df[f"{key}_mt"] = sec[key][:, :, s].ravel() / 1e9
                frames.append(df)
            self._tables["monthly_province"] = pd.concat(frames, ignore_index=True)
        return self._tables["monthly_province"]

    def _annual(self, frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        sums = ["births", "births_registered", "deaths", "deaths_registered", "deaths_famine", "deaths_violence"]
        # the true population is counted at the start of each month (the census): the year-end figure is
        # the next month's census where there is one (it counts the last month's moves between sectors and
        # provinces too), else census + births - deaths. The register is counted at the end of each month
        # (after its births and deaths are entered), so its year-end figure is December's.
        place = [k for k in keys if k != "year"]
        frame = frame.assign(next_population=_next_census(frame, place, "population", "births", "deaths"))
        g = frame.groupby(keys, sort=False)
        out = g[sums].sum()
        more = {"population_mean": g["population"].mean(), "population_end": g["next_population"].last(),
                "registered_population_mean": g["registered_population"].mean(),
                "registered_population_end": g["registered_population"].last()}
        more["cbr_true"] = _rates(out["births"], more["population_mean"])
        more["cdr_true"] = _rates(out["deaths"], more["population_mean"])
        more["cbr_registered"] = _rates(out["births_registered"], more["registered_population_mean"])
        more["cdr_registered"] = _rates(out["deaths_registered"], more["registered_population_mean"])
        return _joined(out, more)

    @property
    def annual_national(self) -> pd.DataFrame:
        if "annual_national" not in self._tables:
            m = self.monthly_national
            base = self._annual(m, ["year"])
            df = {}  # the columns added to ``base``, in order
            prov = self.monthly_province
            for sector in SECTORS:
                monthly = prov[prov.sector == sector].groupby(["year", "month"], sort=False)[_ANNUAL_INPUTS].sum(
                    ).reset_index()
                sub = self._annual(monthly, ["year"])
                for col in ("cbr_true", "cdr_true", "cbr_registered", "cdr_registered", "deaths", "births"):
                    df[f"{col}_{sector}"] = sub[col]
                df[f"population_{sector}_end"] = sub["population_end"]
            g = m.groupby("year")
            for col in ("grain_harvest_mt", "seed_feed_mt", "procurement_mt", "relief_mt", "eaten_rural_mt",
                        "eaten_urban_mt", "canteen_waste_mt", "storage_losses_mt", "urban_supply_mt", "exports_mt",
                        "imports_mt", "grain_reported_commune_mt", "grain_reported_province_mt", "grain_believed_mt",
                        "grain_claimed_mt", "steel_modern_mt", "steel_furnace_usable_mt", "steel_unusable_mt"):
                df[col] = g[col].sum()
            df["net_exports_mt"] = df["exports_mt"] - df["imports_mt"]
            df["steel_total_mt"] = pd.concat([df["steel_modern_mt"], df["steel_furnace_usable_mt"], df["steel_unusable_mt"]],
                                             axis=1).sum(axis=1)
            df["procurement_share"] = df["procurement_mt"] / df["grain_harvest_mt"].where(df["grain_harvest_mt"] > 0)
            df["reported_to_actual"] = df["grain_claimed_mt"] / df["grain_harvest_mt"].where(df["grain_harvest_mt"] > 0)
            rural_mean = g["population_rural"].mean()
            # undefined (NaN), not infinite, where nobody lives in the countryside
            df["rural_retention_kg"] = (df["grain_harvest_mt"] - df["procurement_mt"]) * 1e9 / rural_mean.where(rural_mean > 0)
            df["commune_stock_end_mt"] = g["commune_stock_mt"].last()
            df["state_stock_end_mt"] = g["state_stock_mt"].last()
            may = m[pd.DatetimeIndex(m.month).month == 5].set_index("year").state_stock_mt
            df["state_stock_may_mt"] = may.reindex(base.index)
            for col in ("labor_share_furnace", "labor_share_waterworks", "labor_share_farm", "ration_ratio_rural",
                        "ration_ratio_urban", "reserve_rural", "reserve_urban"):
                df[col] = g[col].mean()
            df["labor_share_furnace_max"] = g["labor_share_furnace"].max()
            df["urban_workers_end"] = g["urban_workers"].last()
            df["draught_animals_end"], df["pigs_end"] = g["draught_animals"].last(), g["pigs"].last()
            self._tables["annual_national"] = _joined(base, df).reset_index()
        return self._tables["annual_national"]

    @property
    def annual_province(self) -> pd.DataFrame:
        if "annual_province" not in self._tables:
            prov = self.monthly_province
            total = prov.groupby(["year", "month", "province"], sort=False).sum(numeric_only=True).reset_index()
            total["sector"] = "total"
            frames = []
            for sector, sub in (("total", total), ("rural", prov[prov.sector == "rural"]),
                                ("urban", prov[prov.sector == "urban"])):
                a = self._annual(sub, ["year", "province"]).reset_index()
                g = sub.groupby(["year", "province"], sort=False)
                more = {f"{key}_mt": g[f"{key}_mt"].sum().to_numpy() for key in
                        ("harvest", "procured", "relief", "eaten", "reported_commune", "reported_province", "outflow")}
                more["granary_end_mt"] = g["granary_mt"].last().to_numpy()
                more["sector"] = sector
                frames.append(_joined(a, more))
            df = pd.concat(frames, ignore_index=True)
            rural_pop = df[df.sector == "rural"].set_index(["year", "province"])["population_mean"]
            key = pd.MultiIndex.from_frame(df[["year", "province"]])
            rural = rural_pop.reindex(key).to_numpy()
            df["rural_retention_kg"] = ((df["harvest_mt"] - df["procured_mt"]) * 1e9
                                        / np.where(rural > 0, rural, np.nan))
            df.loc[df.sector == "urban", "rural_retention_kg"] = np.nan
            df["procurement_share"] = df["procured_mt"] / df["harvest_mt"].where(df["harvest_mt"] > 0)
            self._tables["annual_province"] = df
        return self._tables["annual_province"]

    @property
    def deaths_by_age_class(self) -> pd.DataFrame:
        if "deaths_by_age_class" not in self._tables:
            d = self.recorder.deaths_detail
            years = np.unique(self.years)
            rows = []
            for y in years:
                tot = d[self.years == y].sum(axis=0) * self.meta["scale"]
                for a, ag in enumerate(AGE_GROUPS):
                    for c, cl in enumerate(CLASSES):
                        for s, sec in enumerate(SECTORS):
                            for k, cause in enumerate(CAUSES):
                                rows.append((int(y), ag, cl, sec, cause, float(tot[a, c, s, k])))
            self._tables["deaths_by_age_class"] = pd.DataFrame(
                rows, columns=["year", "age_group", "class", "sector", "cause", "deaths"])
        return self._tables["deaths_by_age_class"]

    @property
    def population_by_age(self) -> pd.DataFrame:
        if "population_by_age" not in self._tables:
            rows = [(y, sex, age, float(p[s, age])) for y, p in sorted(self.recorder.pyramids.items())
                    for s, sex in enumerate(("male", "female")) for age in range(101)]
            self._tables["population_by_age"] = pd.DataFrame(rows, columns=["year", "sex", "age", "population"])
        return self._tables["population_by_age"]

    @property
    def harvest_factors(self) -> pd.DataFrame:
        """Each harvest's national factors: weather, technique, pests, incentive, capital, manure, labor, loss, sown
        area, chemical fertiliser."""
        n = self.recorder.national
        rows = np.flatnonzero(n["harvested"] == 1)
        frame = pd.DataFrame({"month": self.month_dates[rows]})
        for key in HARVEST_FACTORS:
            frame[key] = n[f"factor_{key}"][rows]
        return frame

    TABLES = ("monthly_national", "monthly_province", "annual_national", "annual_province",
              "deaths_by_age_class", "population_by_age", "harvest_factors")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in self.TABLES}

    def digests(self) -> dict[str, str]:
        """A fingerprint of every table (bit-exact): the regression baseline compares these."""
        import hashlib
        out = {}
        for name, frame in self.tables().items():
            h = hashlib.sha256()
            for col in frame.columns:
                h.update(str(col).encode())
                values = frame[col].to_numpy()
                h.update("|".join(map(str, values)).encode() if values.dtype == object
                         else np.ascontiguousarray(values).tobytes())
            out[name] = h.hexdigest()[:16]
        return out

    def summary(self) -> pd.DataFrame:
        """A yearly summary: population, true and registered CBR/CDR, grain, procurement, retention, deaths."""
        a = self.annual_national
        return pd.DataFrame({
            "year": a.year, "pop_end_m": a.population_end / 1e6, "cbr_reg": a.cbr_registered,
            "cdr_reg": a.cdr_registered, "cbr_true": a.cbr_true, "cdr_true": a.cdr_true,
            "grain_mt": a.grain_harvest_mt, "reported_mt": a.grain_reported_province_mt,
            "procured_mt": a.procurement_mt, "proc_share": a.procurement_share,
            "retention_kg": a.rural_retention_kg, "deaths_m": a.deaths / 1e6, "famine_deaths_m": a.deaths_famine / 1e6})

    def excess_deaths(self, baseline_years=(1956, 1957), period=(1958, 1962)) -> float:
        """True deaths in ``period`` above the baseline CDR (mean of baseline years present), persons."""
        a = self.annual_national.set_index("year")
        base_years = [y for y in baseline_years if y in a.index] or [int(a.index.min())]
        base = a.loc[base_years, "cdr_true"].mean()
        sel = a.loc[period[0]:period[1]]
        return float((sel.deaths - base / 1000.0 * sel.population_mean).sum())

    # ---------------------------------------------------------------- output
    def plot(self, path: str | Path | None = None):
        from greatleap.plots import summary_figure
        return summary_figure(self, path)

    def save(self, out_dir: str | Path, plot: bool = True) -> Path:
        """Write the run folder atomically: Parquet tables, run.json, summary.png.

        Everything is written to a temporary sibling folder that is renamed into place only
        when complete, so a failure leaves no partial results folder.
        """
        with atomic_folder(out_dir) as tmp:
            for name, frame in self.tables().items():
                write_table(frame, tmp / f"{name}.parquet")
            (tmp / "run.json").write_text(json.dumps(self.meta, indent=2, default=_json_default), encoding="utf-8")
            if plot:
                self.plot(tmp / "summary.png")
        return Path(out_dir)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write a result table to Parquet with each column's unit and meaning in its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from greatleap.columns import column_info

    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = []
    for f in table.schema:
        unit, meaning = column_info(f.name)
        fields.append(f.with_metadata({"unit": unit, "meaning": meaning}))
    pq.write_table(table.cast(pa.schema(fields, metadata=table.schema.metadata)), path)


_ANNUAL_INPUTS = ["population", "births", "births_registered", "deaths", "deaths_registered", "deaths_famine",
                  "deaths_violence", "registered_population"]  # what _annual reads of a monthly frame


def _joined(frame: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """``frame`` with ``columns`` (name: Series on its index, array or scalar) appended in order, in
    one step: adding them one at a time costs pandas a block insert each (half of a coarse run's time)."""
    return pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)


def _next_census(frame: pd.DataFrame, place: list[str], census: str, births: str, deaths: str) -> pd.Series:
    """Each month's following census for the same place; the last month's: census + births - deaths."""
    following = frame.groupby(place, sort=False)[census].shift(-1) if place else frame[census].shift(-1)
    return following.fillna(frame[census] + frame[births] - frame[deaths])


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value)}")
