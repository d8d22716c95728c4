"""Global sensitivity of the headline results to the calibrated parameters: Morris, then Sobol'.

Morris screening (elementary effects, SALib) over every ``[[calibration.parameters]]`` entry, on
its prior range (log scale where ``log = true``); the parameters with the largest effect relative
to the output's spread then get Sobol' first-order (S1) and total-order (ST) indices (Saltelli
sampling, Jansen estimators, SALib) with percentile bootstrap intervals, the others held at the
scenario's values. Outputs: :data:`greatleap.analysis.posterior.HEADLINES` of each run (mean over
``seeds``; the same seeds for every parameter set, so seed noise does not pose as a parameter effect).

Every finished model evaluation is kept in an SQLite store keyed by parameter values, seeds,
scale, scenario and the model's source hash, so an interrupted analysis resumes on rerun and a
Sobol' stage reuses nothing it need not recompute. Needs the optional extra ``uncertainty`` (SALib).
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from greatleap.analysis.abc import Prior
from greatleap.analysis.executor import local_executor, ordered_map, slots
from greatleap.analysis.posterior import HEADLINES, headline_values
from greatleap.scenario import ScenarioError

try:  # optional extra: pip install -e '.[uncertainty]'
    import SALib  # noqa: F401
except ImportError:  # pragma: no cover - exercised where the extra is absent
    SALib = None

COLUMNS = ["parameter", "output", "index", "value", "low", "high"]


class SensitivityError(ScenarioError):
    """Bad sensitivity settings or failed evaluations; the message says what and what is allowed."""


def require_salib() -> None:
    if SALib is None:
        raise SensitivityError("sensitivity analysis needs the optional extra: pip install -e '.[uncertainty]' (SALib)")


class EvaluationStore:
    """Finished evaluations (key -> vector of outputs) in an SQLite file."""

    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(path)
            self.db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                  "CREATE TABLE IF NOT EXISTS evaluations(key TEXT PRIMARY KEY, outputs TEXT);")
        except sqlite3.DatabaseError as exc:
            raise SensitivityError(f"cache {path}: not an evaluation store ({exc}); allowed: a new file or one "
                                   f"written by greatleap sensitivity") from None

    def get(self, key: str) -> np.ndarray | None:
        row = self.db.execute("SELECT outputs FROM evaluations WHERE key = ?", (key,)).fetchone()
        return None if row is None else np.array(json.loads(row[0]), float)

    def put(self, key: str, outputs: np.ndarray) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO evaluations VALUES (?, ?)", (key, json.dumps(outputs.tolist())))

    def __len__(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0])

    def close(self) -> None:
        self.db.close()


def _call(fn: Callable[[dict], np.ndarray], params: dict) -> np.ndarray:
    return np.asarray(fn(params), float)


class StoredEvaluator:
    """Evaluates parameter sets with ``fn`` (picklable; returns a vector) through an executor, keeping
    every result in an :class:`EvaluationStore` under a key of the parameters and ``fingerprint``."""

    def __init__(self, fn: Callable[[dict], np.ndarray], store: str | Path, fingerprint: dict, jobs: int = 1,
                 executor=None, window: int | None = None):
        self.fn, self.store_path, self.jobs, self.executor = fn, Path(store), jobs, executor
        self.salt = json.dumps(fingerprint, sort_keys=True, default=str)
        self.window = window or (1 if slots(jobs) <= 1 and executor is None else 2 * slots(jobs))
        self.computed = 0  # evaluations run (not found in the store) by this evaluator

    def key(self, params: dict) -> str:
        blob = self.salt + json.dumps({k: float(v) for k, v in params.items()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def __call__(self, rows: Sequence[dict], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        store = EvaluationStore(self.store_path)
        keys = [self.key(p) for p in rows]
        out = []
        try:
            with nullcontext(self.executor) if self.executor is not None else local_executor(self.jobs) as ex:
                found = lambda k: store.get(keys[k])
                for k, value in ordered_map(_call, ((self.fn, p) for p in rows), ex, self.window, found):
                    if store.get(keys[k]) is None:
                        store.put(keys[k], value)
                        self.computed += 1
                    out.append(value)
                    if progress:
                        progress(k + 1, len(rows))
        finally:
            store.close()
        return np.vstack(out)


@dataclass
class ModelOutputs:
    """The headline results of a scenario with some parameters set: mean over ``seeds`` (NaN if a run fails)."""

    base: dict
    seeds: tuple[int, ...]
    scale: float

    def __call__(self, params: dict) -> np.ndarray:
        from greatleap.analysis.calibrate import apply_params
        from greatleap.analysis.compare import ending_with
        from greatleap.analysis.ensemble import run_one
        values = []
        for seed in self.seeds:
            o = run_one(ending_with(apply_params(self.base, params)), seed, self.scale)  # headlines end in 1962
            if o.tables is None:
                return np.full(len(HEADLINES), np.nan)
            h = headline_values(o.tables)
            values.append([h[k] for k in HEADLINES])
        return np.mean(values, axis=0)

    def fingerprint(self) -> dict:
        from greatleap.provenance import model_hash
        blob = json.dumps(self.base, sort_keys=True, default=str).encode()
        return {"scenario_hash": hashlib.sha256(blob).hexdigest()[:16], "seeds": list(self.seeds), "scale": self.scale,
                "model_hash": model_hash(), "outputs": list(HEADLINES)}


def _salib_problem(prior: Prior) -> dict:
    return {"num_vars": len(prior.keys), "names": list(prior.keys),
            "bounds": [[float(lo), float(hi)] for lo, hi in zip(prior.z_low, prior.z_high)]}


def _evaluate_design(prior: Prior, z: np.ndarray, fixed: dict | None, evaluate: Callable, progress) -> np.ndarray:
    """Outputs of every design point (rows of z, working scale); refuses failed evaluations."""
    rows = [{**(fixed or {}), **prior.params(row)} for row in z]
    y = evaluate(rows, progress)
    bad = ~np.isfinite(y).all(axis=1)
    if bad.any():
        raise SensitivityError(f"{int(bad.sum())} of {len(y)} model evaluations failed or gave no value "
                               f"(e.g. {rows[int(np.argmax(bad))]}); narrow the parameter bounds")
    return y


def morris(prior: Prior, evaluate: Callable, outputs: Sequence[str], trajectories: int = 10, levels: int = 4,
           fixed: dict | None = None, seed: int = 0, progress=None) -> pd.DataFrame:
    """Morris screening: mu_star (with its 95% bootstrap interval), mu_star_rel (mu_star / sd of the
    output) and sigma, per parameter and output. Effects are of moving a parameter across its range."""
    require_salib()
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample
    sp = _salib_problem(prior)
    z = sample.sample(sp, trajectories, num_levels=levels, seed=seed)
    y = _evaluate_design(prior, z, fixed, evaluate, progress)
    out = []
    for j, name in enumerate(outputs):
        r = analyze.analyze(sp, z, y[:, j], num_levels=levels, num_resamples=500, conf_level=0.95, seed=seed)
        sd = float(np.std(y[:, j])) or 1.0
        for k, p in enumerate(prior.keys):
            ms, conf = float(r["mu_star"][k]), float(r["mu_star_conf"][k])
            out += [(p, name, "mu_star", ms, ms - conf, ms + conf),
                    (p, name, "mu_star_rel", ms / sd, (ms - conf) / sd, (ms + conf) / sd),
                    (p, name, "sigma", float(r["sigma"][k]), np.nan, np.nan)]
    return pd.DataFrame(out, columns=COLUMNS)


def sobol(prior: Prior, evaluate: Callable, outputs: Sequence[str], samples: int = 256, fixed: dict | None = None,
          seed: int = 0, resamples: int = 300, progress=None) -> pd.DataFrame:
    """Sobol' S1 and ST per parameter and output, with 5-95% percentile bootstrap intervals."""
    require_salib()
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample
    if samples < 2 or samples & (samples - 1):
        raise SensitivityError(f"--samples = {samples}: Sobol' needs a power of 2 (e.g. 64, 256, 1024)")
    sp = _salib_problem(prior)
    z = sample.sample(sp, samples, calc_second_order=False, seed=seed)
    y = _evaluate_design(prior, z, fixed, evaluate, progress)
    out = []
    for j, name in enumerate(outputs):
        r = analyze.analyze(sp, y[:, j], calc_second_order=False, num_resamples=resamples, conf_level=0.90,
                            keep_resamples=True, seed=seed)
        for index in ("S1", "ST"):
            lo, hi = np.percentile(r[f"{index}_conf_all"], [5, 95], axis=0)
            out += [(p, name, index, float(r[index][k]), float(lo[k]), float(hi[k])) for k, p in enumerate(prior.keys)]
    return pd.DataFrame(out, columns=COLUMNS)


def top_parameters(screen: pd.DataFrame, k: int) -> list[str]:
    """The ``k`` parameters with the largest Morris mu_star relative to the output's spread (any output)."""
    rel = screen[screen["index"] == "mu_star_rel"].groupby("parameter", sort=False).value.max()
    return list(rel.sort_values(ascending=False, kind="stable").index[:k])


def run_sensitivity(scenario, method: str = "morris", samples: int | None = None, outputs: Sequence[str] | None = None,
                    scale: float = 20000.0, seeds: Sequence[int] = (1,), jobs: int = 1, top: int = 6,
                    store: str | Path = "runs/.cache/sensitivity.sqlite", executor=None, seed: int = 0,
                    progress=None) -> tuple[pd.DataFrame, dict]:
    """Morris over every calibrated parameter; with ``method = "sobol"`` then Sobol' over the ``top``.

    Returns the tidy table (parameter, output, index, value, low, high) and the settings used.
    """
    from greatleap.analysis.calibrate import check_parameters, current_values
    require_salib()
    if method not in ("morris", "sobol"):
        raise SensitivityError(f"--method = {method!r}; allowed: morris, sobol")
    outputs = list(outputs or HEADLINES)
    bad = [o for o in outputs if o not in HEADLINES]
    if bad or not outputs:
        raise SensitivityError(f"--outputs: unknown {bad}; allowed: {', '.join(HEADLINES)}")
    specs = check_parameters(scenario)
    prior = Prior(specs)
    model = ModelOutputs(scenario.to_dict(), tuple(int(s) for s in seeds), float(scale))
    evaluator = StoredEvaluator(model, store, model.fingerprint(), jobs, executor)
    pick = [list(HEADLINES).index(o) for o in outputs]
    evaluate = lambda rows, cb: evaluator(rows, cb)[:, pick]
    trajectories = samples if method == "morris" and samples else 10
    stage = (lambda name: (lambda d, n: progress(name, d, n))) if progress else (lambda name: None)
    table = morris(prior, evaluate, outputs, trajectories, seed=seed, progress=stage("Morris"))
    settings = {"method": method, "scenario": scenario.name, "scale": scale, "seeds": list(model.seeds),
                "outputs": outputs, "morris_trajectories": trajectories, "parameters": specs,
                "store": str(store), "model_hash": model.fingerprint()["model_hash"]}
    if method == "sobol":
        n = samples or 256
        chosen = top_parameters(table, top)
        values = current_values(scenario, specs)
        sub = Prior([s for s in specs if s["key"] in chosen])
        fixed = {k: v for k, v in values.items() if k not in chosen}
        table = pd.concat([table, sobol(sub, evaluate, outputs, n, fixed, seed, progress=stage("Sobol'"))],
                          ignore_index=True)
        settings.update({"sobol_samples": n, "sobol_parameters": chosen, "held_at_scenario_values": fixed})
    settings["evaluations_computed"] = evaluator.computed
    return table, settings


def chart(table: pd.DataFrame):
    """One panel per output: Sobol' ST and S1 (with intervals) if present, else Morris mu_star / sd (top 15)."""
    from matplotlib.figure import Figure
    outputs = list(dict.fromkeys(table.output))
    sob = table[table["index"].isin(["S1", "ST"])]
    fig = Figure(figsize=(6.5, 2.8 * len(outputs)), constrained_layout=True)
    for k, name in enumerate(outputs):
        ax = fig.add_subplot(len(outputs), 1, k + 1)
        if len(sob):
            st = sob[(sob.output == name) & (sob["index"] == "ST")].sort_values("value")
            s1 = sob[(sob.output == name) & (sob["index"] == "S1")].set_index("parameter").loc[st.parameter]
            y = np.arange(len(st))
            ax.barh(y + 0.2, st.value, 0.4, xerr=[st.value - st.low, st.high - st.value], label="total order ST")
            ax.barh(y - 0.2, s1.value, 0.4, xerr=[s1.value - s1.low, s1.high - s1.value], label="first order S1")
            ax.set_yticks(y, st.parameter, fontsize=7)
            ax.set_xlabel("Sobol' index (5-95% bootstrap)")
            ax.legend(fontsize=7)
        else:
            m = table[(table.output == name) & (table["index"] == "mu_star_rel")].sort_values("value").tail(15)
            ax.barh(m.parameter, m.value, xerr=[m.value - m.low, m.high - m.value])
            ax.tick_params(axis="y", labelsize=7)
            ax.set_xlabel("Morris mu* / sd of the output (95% bootstrap)")
        ax.set_title(f"{name}: {HEADLINES[name][0]}", fontsize=8)
    return fig


def write_tables(table: pd.DataFrame, settings: dict, out: str | Path) -> Path:
    """sensitivity.csv (tidy), settings.json, sensitivity.png and report.md into the existing folder ``out``."""
    from greatleap.io import markdown_table
    out = Path(out)
    table.to_csv(out / "sensitivity.csv", index=False)
    (out / "settings.json").write_text(json.dumps(settings, indent=2, default=str), encoding="utf-8")
    chart(table).savefig(out / "sensitivity.png", dpi=90)
    sob = table[table["index"] == "ST"]
    key = sob if len(sob) else table[table["index"] == "mu_star_rel"]
    best = (key.sort_values("value", ascending=False).groupby("output", sort=False).head(5)
            .sort_values(["output", "value"], ascending=[True, False]))
    (out / "report.md").write_text(
        f"# Global sensitivity of the headlines ({settings['method']})\n\n"
        f"Scenario {settings['scenario']}, scale {settings['scale']}, seeds {settings['seeds']} (the same for every "
        f"parameter set). Morris: {settings['morris_trajectories']} trajectories over all "
        f"{len(settings['parameters'])} calibrated parameters on their prior ranges"
        + (f"; Sobol': {settings['sobol_samples']} base samples over {', '.join(settings['sobol_parameters'])}, "
           f"the others held at the scenario's values" if "sobol_samples" in settings else "")
        + ".\n\n## The five largest effects per output\n\n" + markdown_table(best)
        + "\n\n![chart](sensitivity.png)\n", encoding="utf-8")
    return out
