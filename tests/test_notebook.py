"""Notebook habits: the package never chooses the user's matplotlib backend; plot() displays inline."""
import subprocess
import sys

SCRIPT = r"""
import sys
import matplotlib
matplotlib.use("svg")  # the user's choice (in Jupyter: the inline backend)
import matplotlib.pyplot as plt
import greatleap.plots
from greatleap import Sim, load_scenario
from greatleap.analysis import compare, decompose, validate
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
r = Sim(load_scenario("historical", **{"run.end": "1958-12"}), scale=100000).run()
fig = r.plot()
assert plt.fignum_exists(fig.number), "plot() without a path must give a pyplot figure (shown inline)"
saved = r.plot(sys.argv[1] + "/s.png")
assert not plt.fignum_exists(getattr(saved, "number", -1)), "a figure saved to a file is not kept by pyplot"
from greatleap.analysis.targets import evaluate, load_targets
t = load_targets()
ev = evaluate(t, [{"annual_national": r.annual_national, "annual_province": r.annual_province}])
validate.validation_report(ev, [], {"scenario": "x", "vintage": "official"}, sys.argv[1] + "/v")
assert matplotlib.get_backend() == "svg", "a report writer switched the backend"
print("ok")
"""


def test_plots_and_reports_leave_the_backend_alone(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
    assert (tmp_path / "s.png").stat().st_size > 10_000 and (tmp_path / "v" / "cdr.png").is_file()
