"""The CUDA backend against the CPU backend, run through Numba's CUDA simulator on the CPU.

The simulator must be switched on before ``numba.cuda`` is first imported, so every check that
touches the CUDA backend runs in a subprocess with ``NUMBA_ENABLE_CUDASIM=1``. What must agree:
every integer column and tally exactly; the per-place float sums within the fixed-point bound of
``greatleap.kernels.cuda`` (n / 2^(k+1) for a place of n people, plus the CPU's own float64
rounding); floats computed from them downstream to 1e-9 relative.
"""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HAS_NUMBA_CUDA = importlib.util.find_spec("numba_cuda") is not None
needs_numba_cuda = pytest.mark.skipif(not HAS_NUMBA_CUDA, reason="needs the 'gpu' extra (numba-cuda)")
ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, simulator: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


def _json(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


RECORDING = """
    import json
    import numpy as np
    from greatleap import Sim, load_scenario
    from greatleap.kernels import cpu as C, cuda as K

    calls = {"cpu": [], "cuda": []}

    def recording(module, log):
        class Backend:
            pass
        backend = Backend()
        for name in ("census", "live", "finish_month", "give_births"):
            def call(*args, _fn=getattr(module, name), _name=name):
                out = _fn(*args)
                slots = args[0].shape[1] if _name == "finish_month" else args[0].alive.shape[1]
                log.append((_name, slots, [np.array(a, copy=True) for a in out]))
                return out
            setattr(backend, name, call)
        backend.count_alive = module.count_alive  # the people ledger's own count (not compared)
        return backend

"""

# the whole smallest world, a batch of two members (seeds) stepped together through June and July
WHOLE_WORLD = """
    scens = [load_scenario("historical", **{"run.scale": 1e5, "run.seed": seed}) for seed in (1, 2)]
    cpu, gpu = Sim(scens), Sim(scens, backend="cuda")
    for _ in range(5):  # January to May on the CPU; June and July (with the age census) on both
        cpu.step()
    snap = cpu.snapshot()
    # end the frame after the last living slot: the month's births outgrow it (the frame grows)
    people = snap["frames"]["people"]
    cut = np.arange(int(np.flatnonzero(people["alive"].any(axis=0)).max()) + 1)
    months = 2
"""

# one member's July and August 1957 on a sample of its people (see test_cuda_matches_cpu_on_a_sample_under_the_simulator)
SAMPLED_WORLD = """
    from greatleap.mechanisms.fertility import GESTATION
    from greatleap.mechanisms.mortality import NURSING_AGE
    from greatleap.mechanisms.nutrition import stored_reserve
    # 50 agents a commune (the default): ~100 communes, so the sample holds many places
    # a tenth of 1957's deaths registered (0.6 in history): the sample's few deaths then surely include ghosts
    scens = [load_scenario("historical", **{"run.scale": 1e5, "run.seed": 1, "run.check_ledgers": False,
                                            "run.min_agents_per_commune": 50,
                                            "registration.death_completeness.1957": 0.1})]
    cpu, gpu = Sim(scens), Sim(scens, backend="cuda")
    for _ in range(6):  # January to June on the CPU; July (with the age census) on both
        cpu.step()
    snap = cpu.snapshot()
    people = snap["frames"]["people"]
    alive = people["alive"][0] == 1
    keep = np.random.default_rng(0).choice(np.flatnonzero(alive), SAMPLE, replace=False)
    due = (people["preg"][0] == GESTATION) | (people["preg"][0] == GESTATION - 1)
    keep = np.union1d(keep, np.flatnonzero(alive & due))  # every mother due in July or August
    nursing = keep[(people["age_m"][0, keep] < 12 * NURSING_AGE) & (people["mother"][0, keep] >= 0)]
    keep = np.union1d(keep, people["mother"][0, nursing])  # and the slots of the nursing children's mothers
    # the kept slots, in order, make the whole frame: no free slot, so July's births make it grow
    new = np.full(alive.size, -1, np.int64)
    new[keep] = np.arange(keep.size)
    mother = people["mother"]
    people["mother"] = np.where(mother >= 0, new[mother], -1).astype(mother.dtype)
    people["reserve"][0, keep[::4]] = stored_reserve(STARVED)  # a quarter of them starved: famine deaths
    cut = keep
    months = 2  # July (the frame grows) and August (births from the finish pass's count of the living)
"""

# the people frame cut to the slots ``cut`` (in order) on both backends
CUT = """
    for name in people:
        people[name] = people[name][:, cut]
    snap["capacity"] = size = cut.size
    for sim in (cpu, gpu):
        sim.world.people.size = size
        sim.restore(snap)
"""

COMPARE = """
    cpu.backend, gpu.backend = recording(C, calls["cpu"]), recording(K, calls["cuda"])
    alive_before = int(cpu.world.people.alive.sum())
    stale = []
    for _ in range(months):
        cpu.step()
        gpu.step()
        stale += K.FRAME.stale()

    int_diffs, float_rel, float_worst = [], 0.0, ""
    for a, b in zip(cpu.world.frames, gpu.world.frames):
        for name, x in a.arrays().items():
            y = b.arrays()[name]
            if x.dtype.kind in "iub":
                if x.shape != y.shape or not np.array_equal(x, y):
                    int_diffs.append(f"{a.kind}.{name}")
            elif x.size:
                scale = np.maximum(np.abs(x), 1.0)
                rel = float(np.nanmax(np.abs(x - y) / scale))
                if rel > float_rel:
                    float_rel, float_worst = rel, f"{a.kind}.{name}"
                if not np.array_equal(np.isnan(x), np.isnan(y)):
                    int_diffs.append(f"{a.kind}.{name} (NaN)")

    # each kernel's returns: integers identical; float sums within the documented fixed-point bound
    over, worst = [], 0.0
    assert [c[0] for c in calls["cpu"]] == [c[0] for c in calls["cuda"]]
    for (name, n, xs), (_, _, ys) in zip(calls["cpu"], calls["cuda"]):
        for k, (x, y) in enumerate(zip(xs, ys)):
            if name == "finish_month" and k == 2:  # the living per block: the CPU's chunks, the GPU's tiles
                x, y = x.sum(axis=1), y.sum(axis=1)
            if x.dtype.kind in "iub":
                if not np.array_equal(x, y):
                    over.append(f"{name}[{k}] integers")
                continue
            if name == "census":
                pop = xs[0][:, 0]  # people per member and place; the person pass sees the same places
                bits = np.array([K.fraction_bits(n, b) for b in K.CENSUS_BOUNDS])
                bound = pop[:, None, :] / 2.0 ** (bits[None, :, None] + 1)
            else:  # grain eaten
                bound = pop / 2.0 ** (K.fraction_bits(n, K.EATEN_BOUND) + 1)
            tol = bound + 1e-12 * np.abs(x)  # the CPU's float64 rounding
            if (np.abs(x - y) > tol).any():
                over.append(f"{name}[{k}]")
            worst = max(worst, float(np.max(np.abs(x - y))))

    # a term above its bound stops the run with an error, never a wrapped sum
    from greatleap.passes import people_view
    view = people_view(gpu.world)
    tiny = type(view)(*(np.ascontiguousarray(a[:, :64]) for a in view))
    tiny = tiny._replace(reserve=np.full(tiny.reserve.shape, 1e7))  # the stored reserve stays below 1: a wider column
    tiny.alive[0, :] = 1
    try:
        from greatleap.lifecycle import CensusInputs
        geo, pl, pv = gpu.world.geo, gpu.world.places, gpu.world.provinces
        inputs = CensusInputs(gpu.seeds, 7, geo.place_province, geo.province_city, geo.province_first_commune,
                              geo.province_n_communes, pv.furnace_share, pv.water_share, pv.recruitment,
                              pv.senddown, pl.nongrain_share, pl.canteen_share, gpu.world.national.late_registration)
        K.census(tiny, inputs, gpu.params.record, gpu.tables, geo.n_places, False)
        refused = ""
    except K.FixedPointError as exc:
        refused = str(exc)

    lived = np.unique(cpu.world.people.place[cpu.world.people.alive == 1])  # places with someone in them
    # what the months held (the CPU's figures; the GPU's agree where the test passes)
    births = [c[2][0].sum(axis=1).tolist() for c in calls["cpu"] if c[0] == "give_births"]
    tallies = [c[2][1].sum(axis=2).tolist() for c in calls["cpu"] if c[0] == "live"]  # per month, member, tally
    pyramids = [int(c[2][2].sum()) for c in calls["cpu"] if c[0] == "census"]
    print(json.dumps({"int_diffs": int_diffs, "float_rel": float_rel, "float_worst": float_worst, "over": over, "worst": worst,
                      "stale": stale, "size_before": size, "size_after": int(gpu.world.people.size),
                      "births": births, "tallies": tallies, "pyramids": pyramids, "transfers": K.transfers(),
                      "months": int(gpu.world.t), "refused": refused, "alive_before": alive_before,
                      "places": len(lived), "cities": int(cpu.world.geo.place_is_city[lived].sum())}))
"""


def _assert_agree(out: dict) -> None:
    """Every column, tally and kernel return as the CPU's; the device copy in step; a term above its
    fixed-point bound refused."""
    assert out["int_diffs"] == [], out["int_diffs"]
    assert out["over"] == [], out["over"]
    # the float sums agree within their fixed-point bound (``over``, above); columns derived from them by a
    # difference of near-equal terms (a commune's resales: its need to the harvest less its stock) carry that
    # bound relative to the difference, ~1e-9 of it at stop 33's parameters
    assert out["float_rel"] < 1e-8, out["float_worst"]
    assert out["stale"] == [], "device columns out of step with the host's"
    assert all(out["transfers"][k] > 0 for k in ("people_to_device", "people_to_host", "other_to_device",
                                                 "other_to_host")), out["transfers"]
    assert "reserve" in out["refused"] and "fixed-point" in out["refused"]


SAMPLE = 500    # people kept of the ~6,300 alive in June 1957 at scale 1e5
STARVED = 0.15  # reserve share (of capacity) given to a quarter of them


@needs_numba_cuda
def test_cuda_matches_cpu_on_a_sample_under_the_simulator():
    """July and August 1957 for one member, its people frame cut to a sample: the same people, tallies
    and tables as the CPU. The CI-sized comparison (a few seconds; the whole world is ``--full``).

    The CPU runs January to June on the whole world (~6,300 people at scale 1e5); the frame is then
    cut to 500 living people drawn at random (every province's places and cities), every woman due
    to give birth in July and the slots of the sampled nursing children's mothers (``mother``
    renumbered; a mother not kept becomes -1, as for an orphan). Few enough that July's births (every
    woman due is kept) outnumber its deaths: a death frees a slot, and with 1,000 people July's deaths
    at stop 40's parameters (17) used up the free slots its 16 births needed, so the frame did not grow. A quarter of them start July with
    their reserve at ``STARVED`` (1957 has no famine): famine deaths and unregistered deaths occur.
    With no free slot left, July's births make the frame grow; August's births go to free slots found
    from the finish pass's count of the living (per chunk on the CPU, per tile on the GPU). July runs
    the age census, the person pass, deaths and births on both backends. The places' accounts (June's expected population,
    grain drawn) are the whole world's, so the people ledger would stop the month:
    ``run.check_ledgers`` is off for both. Not reached: flight (no place's ration is better than
    another's in July 1957) and ages above 100.
    """
    out = _json(_python(RECORDING + f"    SAMPLE, STARVED = {SAMPLE}, {STARVED}\n" + SAMPLED_WORLD + CUT + COMPARE,
                        timeout=300))
    _assert_agree(out)
    assert out["months"] == 8
    assert out["size_after"] > out["size_before"] >= SAMPLE, "the frame did not grow: the growth path went untested"
    assert out["pyramids"] == [out["alive_before"], 0], "July's age census did not count every living person"
    assert len(out["births"]) == 2 and out["births"][0][0] >= 5 and out["births"][1][0] > 0, out["births"]
    # the live kernel's tallies 2, 3 and 7 over July and August: each path taken
    natural, famine, ghosts = (sum(month[0][k] for month in out["tallies"]) for k in (2, 3, 7))
    assert natural > 0 and famine > 0 and ghosts > 0, out["tallies"]
    assert out["places"] > 50 and out["cities"] > 5, (out["places"], out["cities"])


@needs_numba_cuda
def test_cuda_matches_cpu_under_the_simulator(full):
    """June and July 1957 in the whole smallest world, two seeds batched: the same people, tallies and
    tables as the CPU."""
    if not full:
        pytest.skip("the whole world, two members and two months (~10 s with Numba's cache warm, ~1 min cold, "
                    "on 2 cores): run with --full; test_cuda_matches_cpu_on_a_sample_under_the_simulator runs July "
                    "on a sample in every run")
    out = _json(_python(RECORDING + WHOLE_WORLD + CUT + COMPARE, timeout=1200))
    _assert_agree(out)
    assert out["months"] == 7
    assert out["size_after"] > out["size_before"], "the frame did not grow: the growth path went untested"
    births = out["births"]  # per month and member
    assert len(births) == 2 and min(map(min, births)) > 0 and any(b[0] != b[1] for b in births), births
    assert out["pyramids"][0] == 0 and out["pyramids"][1] > 1000, "July's age census missing"


@needs_numba_cuda
def test_fraction_bits_cannot_overflow():
    out = _json(_python("""
        import json
        from greatleap.kernels.cuda import fraction_bits
        rows = []
        for n in (1, 255, 8167, 10**6, 650_000_000, 2**40):
            for bound in (16.0, 4096.0, 65536.0):
                k = fraction_bits(n, bound)
                big = int(bound) * 2**k if k >= 0 else int(bound) // 2**-k
                rows.append([n, bound, k, n * big < 2**63, big <= 2**52, n * 2 * big < 2**63 and 2 * big <= 2**52])
        print(json.dumps({"rows": rows}))
    """))
    for n, bound, k, fits, exact, one_more_fits in out["rows"]:
        assert fits and exact, (n, bound, k)
        assert not one_more_fits, f"{k} bits is not the most for n={n}, bound={bound}"
    assert [r[2] for r in out["rows"] if r[0] == 650_000_000 and r[1] == 65536.0] == [17]


def _cli(args: list[str], simulator: bool, tmp_path: Path, prelude: str = "") -> subprocess.CompletedProcess:
    return _python(f"""
        import sys
        {prelude}
        from greatleap.cli import main
        sys.argv = ["greatleap"] + {args!r}
        main()
    """, simulator=simulator, timeout=300)


@pytest.mark.parametrize("args, message", [
    (["--backend", "gpu"], "--backend = 'gpu'; allowed: cpu, cuda"),
    (["--backend", "cuda", "--posterior", "builtin"], "--backend = 'cuda' with --posterior"),
])
def test_cli_refuses_a_backend_it_cannot_use(args, message, tmp_path):
    out = tmp_path / "run"
    done = _cli(["run", "--scale", "100000", "--out", str(out)] + args, simulator=False, tmp_path=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not out.exists()


def test_cli_refuses_cuda_without_numba_cuda_or_a_gpu(tmp_path):
    problem = _python("from greatleap.kernels import cuda_problem; print(cuda_problem())", simulator=False)
    if problem.stdout.strip() == "None":
        pytest.skip("a GPU is usable here: nothing to refuse")
    out = tmp_path / "run"
    done = _cli(["run", "--backend", "cuda", "--scale", "100000", "--out", str(out)], simulator=False,
                tmp_path=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--backend = 'cuda': " in lines[0] and problem.stdout.strip() in lines[0], done.stderr
    assert not out.exists()


@needs_numba_cuda
def test_cli_refuses_a_frame_larger_than_free_gpu_memory(tmp_path):
    out = tmp_path / "run"
    prelude = "import greatleap.kernels.cuda as K; K.free_device_bytes = lambda: 2.0**20"
    done = _cli(["run", "--backend", "cuda", "--scale", "100000", "--out", str(out)], simulator=True,
                tmp_path=tmp_path, prelude=prelude)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "GiB of GPU memory, 0.0 GiB free" in lines[0], done.stderr
    assert not out.exists()


@needs_numba_cuda
def test_kernels_compile_for_sm90(full):
    """Every kernel compiles to PTX for an H100/H200 (compute capability 9.0); no GPU needed."""
    if not full:
        pytest.skip("slow (compiles every kernel for sm_90): run with --full")
    out = _json(_python("""
        import json
        from greatleap import Sim, load_scenario
        from greatleap.kernels import cuda as K
        sim = Sim(load_scenario("historical", **{"run.scale": 1e5, "run.check_ledgers": False}))
        print(json.dumps(K.compile_kernels(sim, (9, 0))))
    """, simulator=False))
    kernels = {"_census_kernel", "_live_kernel", "_deaths_kernel", "_list_matches", "_count_free", "_births_kernel"}
    assert kernels <= set(out), out
    assert all(size > 10_000 for size in out.values()), out
    assert any(name.startswith("_gather[") for name in out)
