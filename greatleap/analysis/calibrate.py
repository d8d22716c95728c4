"""Calibration: fit the scenario's declared uncertain parameters to the targets with Optuna.

The parameters to fit, with their bounds and the literature range that justifies them, are
declared in the scenario (``[[calibration.parameters]]``). A key is a dotted parameter
(``mortality.hunger_beta_adult``) or an event value (``lever:enforcement@1959-08``: the event of
that lever starting that month). Bounds must lie inside each parameter's allowed range (checked).

Trials run in parallel worker processes sharing one SQLite study, so a calibration interrupted
at any point resumes where it stopped: ``--trials N`` means "until the study has N finished
trials". The objective is the weighted mean squared normalised error of an ensemble (few seeds,
small scale) against the targets (see :func:`greatleap.analysis.targets.score`).
"""
from __future__ import annotations

import copy
import multiprocessing as mp
import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from greatleap.scenario import ScenarioError, validate_scenario

try:  # optional extra: pip install greatleap[calibrate]
    import optuna
except ImportError:  # pragma: no cover - exercised where the extra is absent
    optuna = None


def require_optuna() -> None:
    if optuna is None:
        raise ScenarioError("calibration needs the optional extra: pip install -e '.[calibrate]' (Optuna)")


def apply_params(data: dict[str, Any], params: dict[str, float]) -> dict[str, Any]:
    """A copy of the scenario dict with parameter values set (dotted keys or lever:NAME@YYYY-MM)."""
    out = copy.deepcopy(data)
    for key, value in params.items():
        if key.startswith("lever:"):
            lever, _, start = key[6:].partition("@")
            hits = [ev for ev in out.get("events", []) if ev["lever"] == lever and ev["start"] == start]
            if not hits:
                raise ScenarioError(f"calibration key {key!r}: no event of lever {lever!r} starting {start!r}")
            for ev in hits:
                ev["value"] = float(value)
            continue
        node = out
        *head, last = key.split(".")
        for part in head:
            if not isinstance(node.get(part), dict):
                raise ScenarioError(f"calibration key {key!r}: no table {part!r}")
            node = node[part]
        if last not in node and last.isdigit() and int(last) in node:
            last = int(last)  # a year in a by-year table (agriculture.weather.1960)
        if last not in node:
            raise ScenarioError(f"calibration key {key!r}: unknown parameter {last!r}")
        node[last] = type(node[last])(value) if isinstance(node[last], (int, float)) else value
    return out


def check_parameters(scenario) -> list[dict]:
    """The declared parameters, each bound checked against the schema's allowed range."""
    specs = [p.model_dump() for p in scenario.calibration.parameters]
    if not specs:
        raise ScenarioError(f"scenario {scenario.name}: no [[calibration.parameters]] declared")
    base = scenario.to_dict()
    for spec in specs:
        for bound in ("low", "high"):
            try:
                validate_scenario(apply_params(base, {spec["key"]: spec[bound]}), scenario.name)
            except ScenarioError as exc:
                raise ScenarioError(f"calibration parameter {spec['key']} {bound} = {spec[bound]}: outside what the "
                                    f"scenario allows: {exc}") from None
    return specs


def current_values(scenario, specs: list[dict]) -> dict[str, float]:
    data = scenario.to_dict()
    out = {}
    for spec in specs:
        key = spec["key"]
        if key.startswith("lever:"):
            lever, _, start = key[6:].partition("@")
            out[key] = next(ev["value"] for ev in data["events"] if ev["lever"] == lever and ev["start"] == start)
        else:
            node = data
            for part in key.split("."):
                node = node[int(part)] if part.isdigit() and int(part) in node else node[part]
            out[key] = float(node)
    return out


def objective_for(base: dict, specs: list[dict], targets: pd.DataFrame, seeds: list[int], scale: float):
    """The Optuna objective: score of an ensemble run with the trial's parameters."""
    from greatleap.analysis.ensemble import run_one
    from greatleap.analysis.targets import evaluate, score

    def objective(trial) -> float:
        params = {s["key"]: trial.suggest_float(s["key"], s["low"], s["high"], log=s.get("log", False))
                  for s in specs}
        data = apply_params(base, params)
        runs = []
        for seed in seeds:
            outcome = run_one(data, seed, scale)
            if outcome.tables is None:
                raise RuntimeError(outcome.error)
            runs.append(outcome.tables)
        ev = evaluate(targets, runs)
        trial.set_user_attr("passed", int(ev.passed.sum()))
        return score(ev)

    return objective


def _worker(storage: str, study_name: str, base: dict, specs: list[dict], targets: pd.DataFrame,
            seeds: list[int], scale: float, total: int, worker_seed: int) -> None:
    import numba
    numba.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=storage,
                              sampler=optuna.samplers.TPESampler(seed=worker_seed, n_startup_trials=8))
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    study.optimize(objective_for(base, specs, targets, seeds, scale), n_trials=total,
                   callbacks=[optuna.study.MaxTrialsCallback(total, states=states)], catch=(RuntimeError,))


def calibrate(scenario, targets: pd.DataFrame, storage: str, study_name: str, trials: int, jobs: int = 1,
              seeds: tuple[int, ...] = (1,), scale: float = 20000.0, sampler_seed: int = 0,
              progress: Callable[[int, int], None] | None = None):
    """Run (or resume) a study until it has ``trials`` finished trials. Returns the study."""
    require_optuna()
    specs = check_parameters(scenario)
    base = scenario.to_dict()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=study_name, storage=storage, direction="minimize", load_if_exists=True)
    finished = lambda: sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
    if not study.trials:
        # the scenario as it stands is trial 0, run here before the workers start (two workers
        # picking up the same enqueued trial would race)
        study.enqueue_trial(current_values(scenario, specs))
        study.optimize(objective_for(base, specs, targets, list(seeds), scale), n_trials=1, catch=(RuntimeError,))
    if finished() >= trials:
        return study
    args = (storage, study_name, base, specs, targets, list(seeds), scale, trials)
    if jobs <= 1:
        _worker(*args, sampler_seed)
    else:
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=_worker, args=(*args, sampler_seed + k)) for k in range(jobs)]
        for p in procs:
            p.start()
        while any(p.is_alive() for p in procs):
            if progress:
                progress(finished(), trials)
            time.sleep(1.0)
        for p in procs:
            p.join()
    if progress:
        progress(finished(), trials)
    return study


def results_table(study, specs: list[dict]) -> pd.DataFrame:
    """Finished trials, best first: score, targets passed, parameter values."""
    rows = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        rows.append({"trial": t.number, "score": t.value, "passed": t.user_attrs.get("passed"),
                     **{s["key"]: t.params.get(s["key"]) for s in specs}})
    return pd.DataFrame(rows).sort_values("score").reset_index(drop=True)


def overlay_toml(base, params: dict[str, float], header: str = "", extends: str | None = None) -> str:
    """A scenario overlay that sets the given parameter values on top of scenario ``base``.

    Event values (``lever:NAME@YYYY-MM``) become events appended over the base event's dates.
    """
    tables: dict[str, dict[str, float]] = {}
    events = []
    for key, value in params.items():
        if key.startswith("lever:"):
            lever, _, start = key[6:].partition("@")
            ev = next(e for e in base.events if e.lever == lever and e.start == start)
            events.append((lever, start, ev.end, value))
        else:
            section, _, name = key.rpartition(".")
            if name.isdigit():  # a year of a by-year table: agriculture.weather.1960 -> [agriculture.weather] 1960 = v
                tables.setdefault(section, {})[name] = value
                continue
            tables.setdefault(section, {})[name] = value
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f'extends = "{extends or base.name}"', f'name = "{base.name}_calibrated"', ""]
    for section, values in tables.items():
        lines.append(f"[{section}]")
        lines += [f"{name} = {value:.6g}" for name, value in values.items()]
        lines.append("")
    for lever, start, end, value in events:
        lines += ["[[events]]", f'lever = "{lever}"', f'start = "{start}"'] + ([f'end = "{end}"'] if end else [])
        lines += [f"value = {value:.6g}", 'note = "calibrated"', 'source = "greatleap calibrate"', ""]
    return "\n".join(lines) + "\n"


def write_outputs(study, scenario, specs: list[dict], out_dir: str | Path, top_k: int = 20,
                  extends: str | None = None) -> Path:
    """best.toml (overlay of ``extends``: a built-in name or a TOML path), top.csv (the top-k
    parameter sets, for uncertainty), parameters.csv (best value and top-k range of each), trials.csv."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = results_table(study, specs)
    table.to_csv(out / "trials.csv", index=False)
    table.head(top_k).to_csv(out / "top.csv", index=False)
    parameter_table(study, specs, top_k).to_csv(out / "parameters.csv", index=False)
    best = {s["key"]: float(table.iloc[0][s["key"]]) for s in specs}
    header = (f"calibrated by greatleap calibrate: study {study.study_name}, {len(table)} trials, "
              f"best score {table.iloc[0].score:.4f} (trial {int(table.iloc[0].trial)})")
    (out / "best.toml").write_text(overlay_toml(scenario, best, header, extends), encoding="utf-8")
    return out


def parameter_table(study, specs: list[dict], top_k: int = 20) -> pd.DataFrame:
    """Each fitted parameter: best value, 5-95% range over the top-k trials, bounds and their reason."""
    table = results_table(study, specs).head(top_k)
    rows = []
    for spec in specs:
        values = table[spec["key"]].astype(float)
        rows.append({"key": spec["key"], "best": float(values.iloc[0]), "top_k_p05": float(values.quantile(0.05)),
                     "top_k_p95": float(values.quantile(0.95)), "low": spec["low"], "high": spec["high"],
                     "note": spec.get("note", "")})
    return pd.DataFrame(rows)
