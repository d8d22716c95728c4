"""ABC-SMC machinery on a toy problem whose posterior is known, through the same code path as the model."""
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest

from greatleap.analysis.abc import ABCError, History, Prior, SMCSettings, run_smc, weighted_quantile

OBSERVED, N_OBS, SIGMA = 1.3, 25, 1.0  # the record: the mean of 25 draws of N(mu, 1) is 1.3


class NormalMean:
    """Simulator: the mean of 25 draws of N(mu, 1); ``nuisance`` does nothing (not identifiable)."""

    def __init__(self, fail_above: float | None = None):
        self.calls = 0
        self.fail_above = fail_above

    def simulate(self, params, seed):
        self.calls += 1
        if self.fail_above is not None and params["mu"] > self.fail_above:
            raise RuntimeError("model blew up")
        return np.array([np.random.default_rng(seed).normal(params["mu"], SIGMA, N_OBS).mean()])

    def distance(self, summaries):
        return abs(summaries[:, 0].mean() - OBSERVED)

    def fingerprint(self):
        return {"toy": "normal mean", "observed": OBSERVED}


PRIOR = Prior([{"key": "mu", "low": -5.0, "high": 5.0}, {"key": "nuisance", "low": 0.1, "high": 10.0, "log": True}])


def _moments(result, key, log=False):
    p = result.particles()
    x = np.log(p[key]) if log else p[key]
    mean = float((p.weight * x).sum())
    return mean, float(np.sqrt((p.weight * (x - mean) ** 2).sum()))


def test_recovers_the_known_posterior(tmp_path):
    """Flat prior, uniform ABC kernel of half-width eps: the ABC posterior of mu is N(1.3, 0.2^2)
    convolved with U(-eps, eps), so its sd is sqrt(0.04 + eps^2/3) (other seeds move it by up to ~10%:
    Monte Carlo error). The nuisance parameter must keep its log-uniform prior: without the
    prior ratio in the moves its log sd comes out 2.3 instead of 1.33."""
    r = run_smc(NormalMean(), PRIOR, SMCSettings(population=300, max_generations=7, min_drop=0.0, seed=0),
                tmp_path / "h.sqlite")
    mean, sd = _moments(r, "mu")
    expected_sd = np.sqrt((SIGMA**2 / N_OBS) + r.population.epsilon**2 / 3)
    assert mean == pytest.approx(OBSERVED, abs=0.05)
    assert sd == pytest.approx(expected_sd, rel=0.15)
    assert r.population.epsilon < 0.1 and len(r.generations) == 7
    assert r.generations.epsilon.is_monotonic_decreasing
    # the nuisance parameter keeps its log-uniform prior: sd of log x = ln(100)/sqrt(12) = 1.33
    log_mean, log_sd = _moments(r, "nuisance", log=True)
    assert log_mean == pytest.approx(0.0, abs=0.25)
    assert log_sd == pytest.approx(np.log(100) / np.sqrt(12), rel=0.15)
    assert r.population.ess == pytest.approx(300) and r.population.unique > 200
    assert r.particles().weight.sum() == pytest.approx(1.0)


def test_same_result_on_any_executor_and_after_interruption(tmp_path):
    settings = SMCSettings(population=60, max_generations=4, min_drop=0.0, seed=3)
    serial = run_smc(NormalMean(), PRIOR, settings, tmp_path / "serial.sqlite").particles()
    with ThreadPoolExecutor(3) as pool:
        threaded = run_smc(NormalMean(), PRIOR, settings, tmp_path / "threads.sqlite", executor=pool, window=6)
    assert threaded.particles().equals(serial)
    processes = run_smc(NormalMean(), PRIOR, settings, tmp_path / "procs.sqlite", jobs=2)  # spawned workers
    assert processes.particles().equals(serial)

    # interrupted after generation 2, then resumed: same populations, finished evaluations not re-run
    path = tmp_path / "resumed.sqlite"
    first = NormalMean()
    part = run_smc(first, PRIOR, replace(settings, max_generations=2), path)
    assert len(part.generations) == 2 and part.stop_reason.startswith("max generations")
    again = NormalMean()
    full = run_smc(again, PRIOR, settings, path)
    assert full.particles().equals(serial)
    assert again.calls == full.runs - part.runs and first.calls == part.runs

    # interrupted in the middle of a generation by the run budget, then resumed
    path = tmp_path / "budget.sqlite"
    cut = replace(settings, max_runs=150)
    with pytest.raises(ABCError, match="no generation finished"):
        run_smc(NormalMean(), PRIOR, replace(settings, max_runs=30), tmp_path / "tiny.sqlite")
    stopped = run_smc(NormalMean(), PRIOR, cut, path)
    assert "budget spent during generation" in stopped.stop_reason and stopped.runs == 150
    assert run_smc(NormalMean(), PRIOR, settings, path).particles().equals(serial)


def test_failed_runs_are_rejected_and_recorded(tmp_path):
    r = run_smc(NormalMean(fail_above=3.0), PRIOR, SMCSettings(population=40, max_generations=2, seed=1),
                tmp_path / "h.sqlite")
    assert (r.particles().mu <= 3.0).all()
    h = History(tmp_path / "h.sqlite")
    errors = h.db.execute("SELECT COUNT(*) FROM evaluations WHERE error LIKE 'RuntimeError: model blew up'").fetchone()[0]
    h.close()
    assert errors > 0


def test_history_made_with_other_settings_is_refused(tmp_path):
    run_smc(NormalMean(), PRIOR, SMCSettings(population=20, max_generations=1), tmp_path / "h.sqlite")
    with pytest.raises(ABCError, match=r"made with other settings \(settings = .*population.*allowed"):
        run_smc(NormalMean(), PRIOR, SMCSettings(population=30, max_generations=1), tmp_path / "h.sqlite")
    (tmp_path / "junk.sqlite").write_text("not a database " * 100)
    with pytest.raises(ABCError, match="not an ABC history"):
        run_smc(NormalMean(), PRIOR, SMCSettings(population=20), tmp_path / "junk.sqlite")


@pytest.mark.parametrize("kwargs, needle", [
    ({"population": 1}, "population = 1"), ({"quantile": 1.0}, "quantile = 1.0"),
    ({"min_drop": -0.1}, "min_drop = -0.1"), ({"max_runs": 0}, "max_runs = 0"),
])
def test_bad_settings(tmp_path, kwargs, needle):
    with pytest.raises(ABCError, match=needle):
        run_smc(NormalMean(), PRIOR, SMCSettings(**kwargs), tmp_path / "h.sqlite")


def test_bad_priors_and_weighted_quantile():
    with pytest.raises(ABCError, match="low = 2.0, high = 1.0"):
        Prior([{"key": "a", "low": 2.0, "high": 1.0}])
    with pytest.raises(ABCError, match="log = true with low = 0.0"):
        Prior([{"key": "a", "low": 0.0, "high": 1.0, "log": True}])
    values = np.array([4.0, 1.0, 3.0, 2.0])
    assert weighted_quantile(values, np.full(4, 0.25), 0.5) == 2.0
    assert weighted_quantile(values, np.array([0.7, 0.1, 0.1, 0.1]), 0.5) == 4.0


def test_convergence_rule_stops_when_the_threshold_stalls(tmp_path):
    """A deterministic simulator whose distance cannot fall below 0.5: the threshold stalls."""

    class Floor(NormalMean):
        def distance(self, summaries):
            return 0.5 + 0.01 * abs(summaries[:, 0].mean() - OBSERVED)

    r = run_smc(Floor(), PRIOR, SMCSettings(population=30, max_generations=30, min_drop=0.05), tmp_path / "h.sqlite")
    assert r.stop_reason.startswith("converged") and len(r.generations) < 30
    eps = r.generations.epsilon.to_numpy()
    assert (eps[-2] - eps[-1]) / eps[-2] < 0.05


def test_stops_when_the_particles_cannot_move(tmp_path):
    """A simulator that gets worse with every call: after generation 0 no move can be accepted."""

    class Worse(NormalMean):
        def distance(self, summaries):
            return float(self.calls)

    r = run_smc(Worse(), PRIOR, SMCSettings(population=10, min_acceptance=0.2, max_moves=3), tmp_path / "h.sqlite")
    assert r.stop_reason.startswith("particles barely move: 0.0% of the moves accepted in generation 1")
    assert r.generations.moves.tolist() == [0, 3] and r.generations.evaluated.tolist() == [10, 30]
    assert r.population.unique == 5  # the 5 survivors of generation 0, each resampled twice, never moved
