"""Calibration: fit the scenario's declared uncertain parameters to the targets with Optuna.

The parameters to fit, with their bounds and the literature range that justifies them, are
declared in the scenario (``[[calibration.parameters]]``). A key is a dotted parameter
(``mortality.hunger_beta_adult``) or an event value (``lever:enforcement@1959-08``: the event of
that lever starting that month). Bounds must lie inside each parameter's allowed range (checked).

This process asks the sampler for trials and records their results in one SQLite study; worker
processes run the ensembles. A calibration interrupted at any point (Ctrl-C, or killed) resumes
where it stopped: ``--trials N`` means "until the study has exactly N finished trials", and trials
a killed process left running are marked failed. The study records its settings (scale, seeds,
a hash of the targets, the parameter set and the base scenario); resuming with other settings is
refused. The objective is the weighted mean squared normalised error of an ensemble (few seeds,
small scale) against the counted targets (see :func:`greatleap.analysis.targets.score`).
"""
from __future__ import annotations

import copy
import hashlib
import json
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pandas as pd

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

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
        raise ScenarioError(f"scenario {scenario.name}: no [[calibration.parameters]] declared; allowed: one or more "
                            f"[[calibration.parameters]] tables with key, low and high")
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


def evaluate_params(base: dict, specs: list[dict], params: dict[str, float], targets: pd.DataFrame,
                    seeds: list[int], scale: float) -> tuple[float, int]:
    """(objective, targets passed) of an ensemble run with ``params``; raises RuntimeError if a run fails.

    The objective (:func:`greatleap.analysis.targets.objective`) is the weighted share of counted
    targets missed plus a small pull toward the centres: its optimum is the best pass count."""
    from greatleap.analysis.ensemble import run_batch
    from greatleap.analysis.targets import evaluate, objective, passed_count

    data = apply_params(base, params)
    runs = []
    for outcome in run_batch([(data, seed) for seed in seeds], scale):  # the trial's seeds in one world
        if outcome.tables is None:
            raise RuntimeError(outcome.error)
        runs.append(outcome.tables)
    ev = evaluate(targets, runs)
    return objective(ev), passed_count(ev)[0]


def objective_for(base: dict, specs: list[dict], targets: pd.DataFrame, seeds: list[int], scale: float):
    """The Optuna objective: score of an ensemble run with the trial's parameters."""
    def objective(trial) -> float:
        params = {s["key"]: trial.suggest_float(s["key"], s["low"], s["high"], log=s.get("log", False))
                  for s in specs}
        value, passed = evaluate_params(base, specs, params, targets, seeds, scale)
        trial.set_user_attr("passed", passed)
        return value

    return objective


# ------------------------------------------------------------------ the study and its settings
class StudyMismatch(ScenarioError):
    """An existing study was made with other settings (scale, seeds, targets, parameters, scenario)."""


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def study_settings(scenario, specs: list[dict], targets: pd.DataFrame, seeds, scale: float) -> dict:
    """What makes two trials' scores comparable; stored in the study and checked on resume."""
    base = {k: v for k, v in scenario.to_dict().items() if k not in ("name", "description", "calibration")}
    return {"scale": float(scale), "seeds": [int(s) for s in seeds],
            "targets_sha256": hashlib.sha256(targets.to_csv(index=False).encode()).hexdigest()[:16],
            "parameters": [[s["key"], float(s["low"]), float(s["high"]), bool(s.get("log", False))] for s in specs],
            "scenario_sha256": _digest(base)}


def storage_path(storage: str) -> Path | None:
    """The SQLite file behind a storage URL (None for other databases)."""
    from sqlalchemy.engine import make_url
    url = make_url(storage)
    return Path(url.database) if url.drivername.startswith("sqlite") and url.database else None


@contextmanager
def _exclusive(storage: str) -> Iterator[None]:
    """Hold the study's SQLite file for this process: a second calibrate on it is refused."""
    path = storage_path(storage)
    if path is None or fcntl is None:
        yield
        return
    with open(path, "rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ScenarioError(f"--storage {path}: in use by another greatleap calibrate; "
                                f"allowed: one calibration per storage file at a time") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_study(storage: str, study_name: str, settings: dict):
    """Create or load a study; refuse (StudyMismatch) one made with other settings."""
    try:
        store = optuna.storages.RDBStorage(storage)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy/Optuna raise many kinds
        raise ScenarioError(f"--storage {storage}: cannot open as an Optuna study database "
                            f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); allowed: an SQLite file "
                            f"made by greatleap calibrate, or a new path") from None
    with warnings.catch_warnings():  # constant_liar (trials in flight are not re-proposed) is "experimental"
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # multivariate: the parameters interact (hunger sensitivity and reserves, quotas and stocks)
        sampler = optuna.samplers.TPESampler(seed=settings.get("sampler_seed", 0), n_startup_trials=8,
                                             constant_liar=True, multivariate=True)
    study = optuna.create_study(study_name=study_name, storage=store, direction="minimize", load_if_exists=True,
                                sampler=sampler)
    stored = study.user_attrs.get("settings")
    mine = {k: v for k, v in settings.items() if k != "sampler_seed"}
    if stored is None and study.trials:
        raise StudyMismatch(f"study {study_name!r} in {storage} records no settings (made by an older greatleap); "
                            f"allowed: a new study name (--study NAME)")
    if stored is None:
        study.set_user_attr("settings", mine)
    elif stored != mine:
        diff = [k for k in mine if stored.get(k) != mine[k]]
        what = "; ".join(f"{k} {_short(stored.get(k))} -> {_short(mine[k])}" for k in diff)
        raise StudyMismatch(f"study {study_name!r} was made with other settings ({what}); its scores are not "
                            f"comparable; allowed: the same settings to resume, or a new study (--study NAME)")
    return study, store


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def fail_unfinished(study, store) -> int:
    """Mark trials left RUNNING (their process was killed) as failed and interrupted; returns how many."""
    stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for t in stale:
        store.set_trial_user_attr(t._trial_id, "interrupted", True)
        store.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
    return len(stale)


def _finished(study) -> int:
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                        optuna.trial.TrialState.FAIL)))


def _tell(study, trial, result: tuple[float, int] | BaseException) -> None:
    if isinstance(result, BaseException):
        trial.set_user_attr("error", str(result).splitlines()[0][:300] if str(result) else type(result).__name__)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    else:
        trial.set_user_attr("passed", int(result[1]))
        study.tell(trial, result[0])


def calibrate(scenario, targets: pd.DataFrame, storage: str, study_name: str, trials: int, jobs=1,
              seeds: tuple[int, ...] = (1,), scale: float = 20000.0, sampler_seed: int = 0,
              progress: Callable[[int, int], None] | None = None):
    """Run (or resume) a study until it has exactly ``trials`` finished trials. Returns the study.

    This process asks the sampler for each trial and records its result in its local study;
    ``jobs`` worker processes (or an open pool: a cluster's workers) only run a trial's seeds. Trials left running by a killed process are marked failed
    (``interrupted``) on resume; an interrupt here marks the trials in flight the same way.
    A study made with other settings is refused (:class:`StudyMismatch`).
    """
    from greatleap.analysis.executor import as_finished, open_pool, slots

    require_optuna()
    specs = check_parameters(scenario)
    base = scenario.to_dict()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    settings = {**study_settings(scenario, specs, targets, seeds, scale), "sampler_seed": sampler_seed}
    study, store = open_study(storage, study_name, settings)
    with _exclusive(storage):
        fail_unfinished(study, store)
        if not study.trials:
            study.enqueue_trial(current_values(scenario, specs))  # the scenario as it stands is trial 0
        dists = {s["key"]: optuna.distributions.FloatDistribution(s["low"], s["high"], log=s.get("log", False))
                 for s in specs}
        args = (base, specs)
        in_flight: dict = {}
        done = _finished(study)
        report = (lambda: progress(min(done, trials), trials)) if progress else (lambda: None)
        report()
        with open_pool(jobs, needed=trials - done) as pool:
            try:
                while done < trials:
                    if pool is None:
                        trial = study.ask(dists)
                        in_flight[None] = trial
                        try:
                            result = evaluate_params(*args, trial.params, targets, list(seeds), scale)
                        except RuntimeError as exc:
                            result = exc
                        _tell(study, in_flight.pop(None), result)
                        done += 1
                        report()
                        continue
                    while len(in_flight) < slots(pool) and done + len(in_flight) < trials:
                        trial = study.ask(dists)
                        in_flight[pool.submit(evaluate_params, *args, trial.params, targets, list(seeds), scale)] = trial
                    fut = next(as_finished(list(in_flight)))
                    trial = in_flight.pop(fut)
                    try:
                        result = fut.result()
                    except Exception as exc:  # noqa: BLE001 - a failed run or a dead worker
                        result = exc
                    _tell(study, trial, result)
                    done += 1
                    report()
            except BaseException:
                for fut, trial in in_flight.items():
                    if fut is not None:
                        fut.cancel()
                    trial.set_user_attr("interrupted", True)
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                raise
    return study


def results_table(study, specs: list[dict]) -> pd.DataFrame:
    """Finished trials, best first: score, targets passed, parameter values."""
    rows = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        rows.append({"trial": t.number, "score": t.value, "passed": t.user_attrs.get("passed"),
                     **{s["key"]: t.params.get(s["key"]) for s in specs}})
    columns = ["trial", "score", "passed"] + [s["key"] for s in specs]
    return pd.DataFrame(rows, columns=columns).sort_values("score").reset_index(drop=True)


def overlay_toml(base, params: dict[str, float], header: str = "", extends: str | None = None) -> str:
    """A scenario overlay that sets the given parameter values on top of scenario ``base``.

    Written with a TOML library (every string escaped). Event values (``lever:NAME@YYYY-MM``) are set as
    the search set them, in place: later events override earlier ones, so for each such lever the base's
    events from the first calibrated one on are appended again in their order, the calibrated values
    substituted. (Appending only the calibrated event would let an open-ended one override the lever's
    later events: enforcement set in August 1959 would then hold through the retreat.)
    """
    import tomli_w

    doc: dict[str, Any] = {"extends": extends or base.name, "name": f"{base.name}_calibrated"}
    calibrated = {}
    for key, value in params.items():
        value = float(f"{float(value):.6g}")
        if key.startswith("lever:"):
            lever, _, start = key[6:].partition("@")
            calibrated[(lever, start)] = value
            continue
        *path, name = key.split(".")
        node = doc
        for part in path:
            node = node.setdefault(part, {})
        node[name] = value  # a year of a by-year table stays a "1960" key
    events = []
    for lever in dict.fromkeys(lever for lever, _ in calibrated):
        first = min(i for i, e in enumerate(base.events) if (e.lever, e.start) in calibrated and e.lever == lever)
        for ev in base.events[first:]:
            if ev.lever != lever:
                continue
            value = calibrated.get((lever, ev.start))
            events.append({"lever": lever, **({"where": ev.where} if ev.where else {}), "start": ev.start,
                           **({"end": ev.end} if ev.end else {}), "value": ev.value if value is None else value,
                           "note": "calibrated" if value is not None else ev.note,
                           "source": "greatleap calibrate" if value is not None else ev.source})
    if events:
        doc["events"] = events
    return _comment(header) + tomli_w.dumps(doc)


def _comment(text: str) -> str:
    """TOML comment lines for any text (control characters dropped: nothing escapes the comment)."""
    return "".join(f"# {''.join(ch for ch in line if ch.isprintable())}\n" for line in text.splitlines())


def scenario_toml(scenario) -> str:
    """A resolved scenario as a stand-alone TOML file (no ``extends``; unset values left out)."""
    import tomli_w

    def drop_none(node):
        if isinstance(node, dict):
            return {k: drop_none(v) for k, v in node.items() if v is not None}
        if isinstance(node, list):
            return [drop_none(v) for v in node]
        return node

    return tomli_w.dumps(drop_none(scenario.to_dict()))


FAILED = (float("inf"), -1)  # the (score, passed) of a candidate whose run failed: it loses


def _score_or_failed(*args) -> tuple[float, int]:
    """:func:`evaluate_params`, or :data:`FAILED` where a run fails."""
    try:
        return evaluate_params(*args)
    except RuntimeError:
        return FAILED


def _result_or_failed(future) -> tuple[float, int]:
    try:
        return future.result()
    except Exception:  # noqa: BLE001 - a dead worker: this candidate loses
        return FAILED


def confirm(study, scenario, specs: list[dict], targets: pd.DataFrame, seeds: Sequence[int], scale: float,
            jobs=1, top: int = 10) -> pd.DataFrame:
    """The ``top`` trials scored again at fresh ``seeds``, best first by that score.

    The search's best is the best of hundreds of scores each read off a few seeds, so it is also
    the one whose seeds happened to fit (a 44-parameter search at 2 seeds passed 171 targets at its
    seeds and 162 at 8 others, fewer than the trial it started from). A score at seeds the search
    never saw is free of that selection. Columns: those of :func:`results_table` plus
    ``confirm_score`` and ``confirm_passed`` (inf and -1 where a run failed)."""
    from greatleap.analysis.executor import open_pool

    table = results_table(study, specs).head(top).reset_index(drop=True)
    base, seeds = scenario.to_dict(), list(seeds)
    calls = [(base, specs, {s["key"]: float(row[s["key"]]) for s in specs}, targets, seeds, scale)
             for _, row in table.iterrows()]
    with open_pool(jobs, needed=len(calls)) as pool:
        if pool is None:
            outcomes = [_score_or_failed(*call) for call in calls]
        else:
            futures = [pool.submit(_score_or_failed, *call) for call in calls]  # all in flight, then collected
            outcomes = [_result_or_failed(fut) for fut in futures]
    table["confirm_score"] = [o[0] for o in outcomes]
    table["confirm_passed"] = [o[1] for o in outcomes]
    return table.sort_values(["confirm_score", "score"], kind="stable").reset_index(drop=True)


OUTPUT_FILES = frozenset({"best.toml", "base.toml", "top.csv", "parameters.csv", "trials.csv", "confirmed.csv"})


def write_outputs(study, scenario, specs: list[dict], out_dir: str | Path, top_k: int = 20,
                  extends: str | None = None, confirmed: pd.DataFrame | None = None) -> Path:
    """best.toml (an overlay), top.csv (the top-k parameter sets, for uncertainty), parameters.csv
    (best value and top-k range of each), trials.csv; with ``confirmed`` (from :func:`confirm`) the
    best is the best there, written first in top.csv, and confirmed.csv is kept.

    best.toml extends the built-in scenario named by ``extends``; for any other scenario it
    extends base.toml, a copy of the calibrated scenario written beside it, so the folder stands
    on its own. Written atomically; a folder holding only an earlier calibration's outputs is replaced."""
    from greatleap.io import atomic_folder
    from greatleap.scenario import builtin_names

    table = results_table(study, specs)
    if table.empty:
        raise ScenarioError(f"study {study.study_name}: no trial completed; nothing to write")
    header = (f"calibrated by greatleap calibrate: study {study.study_name}, {len(table)} trials, "
              f"best score {table.iloc[0].score:.4f} (trial {int(table.iloc[0].trial)})")
    top = table.head(top_k)
    if confirmed is not None and not confirmed.empty:
        winner = int(confirmed.iloc[0].trial)
        top = pd.concat([table[table.trial == winner], top[top.trial != winner]]).head(top_k)
        header += (f"; chosen: trial {winner}, score {confirmed.iloc[0].confirm_score:.4f} at "
                   f"{len(confirmed)} best trials' fresh seeds")
    best = {s["key"]: float(top.iloc[0][s["key"]]) for s in specs}
    with atomic_folder(out_dir, replace=OUTPUT_FILES) as tmp:
        table.to_csv(tmp / "trials.csv", index=False)
        top.to_csv(tmp / "top.csv", index=False)
        if confirmed is not None:
            confirmed.to_csv(tmp / "confirmed.csv", index=False)
        parameter_table(study, specs, top_k, top).to_csv(tmp / "parameters.csv", index=False)
        if extends not in builtin_names():
            (tmp / "base.toml").write_text(_comment(f"the scenario calibrated in study {study.study_name}")
                                           + scenario_toml(scenario), encoding="utf-8")
            extends = "base.toml"
        (tmp / "best.toml").write_text(overlay_toml(scenario, best, header, extends), encoding="utf-8")
    return Path(out_dir)


def parameter_table(study, specs: list[dict], top_k: int = 20, top: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each fitted parameter: best value, 5-95% range over the top-k trials, bounds and their reason
    (``top``: those trials, the chosen best first; default the search's order)."""
    table = results_table(study, specs).head(top_k) if top is None else top
    rows = []
    for spec in specs:
        values = table[spec["key"]].astype(float)
        rows.append({"key": spec["key"], "best": float(values.iloc[0]), "top_k_p05": float(values.quantile(0.05)),
                     "top_k_p95": float(values.quantile(0.95)), "low": spec["low"], "high": spec["high"],
                     "note": spec.get("note", "")})
    return pd.DataFrame(rows)
