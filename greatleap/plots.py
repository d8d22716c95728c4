"""Static plots (matplotlib): the run's summary figure.

No backend is chosen here (the command line chooses Agg for itself): in a notebook
``results.plot()`` returns a figure that displays inline; with a path the figure is drawn on its
own canvas, saved and not kept by pyplot.
"""
from __future__ import annotations

from pathlib import Path

from greatleap import data


def summary_figure(results, path: str | Path | None = None):
    """Four panels: CDR/CBR (true, registered, official); grain actual/reported/procured; retention; labor.

    Without ``path`` the figure is a pyplot figure (shown inline in Jupyter, or by ``plt.show()``);
    with ``path`` it is saved there and returned without touching pyplot."""
    if path is None:
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=(12, 8), layout="constrained")
    else:
        from matplotlib.figure import Figure
        fig = Figure(figsize=(12, 8), layout="constrained")
    ax = fig.subplots(2, 2)
    a = results.annual_national
    m = results.monthly_national
    off = data.official_vital_rates()
    off = off[(off.year >= a.year.min()) & (off.year <= a.year.max())]
    grain = data.grain_series()
    grain = grain[(grain.year >= a.year.min()) & (grain.year <= a.year.max())]
    p = ax[0, 0]
    p.plot(a.year, a.cdr_registered, "-o", color="firebrick", label="CDR registered (sim)")
    p.plot(a.year, a.cdr_true, "--", color="firebrick", label="CDR true (sim)")
    p.plot(a.year, a.cbr_registered, "-o", color="navy", label="CBR registered (sim)")
    p.plot(a.year, a.cbr_true, "--", color="navy", label="CBR true (sim)")
    p.plot(off.year, off.cdr, "x", color="black", label="official CDR / CBR")
    p.plot(off.year, off.cbr, "x", color="black")
    p.set_ylabel("per mille")
    p.set_title("Vital rates")
    p.legend(fontsize=7)
    p = ax[0, 1]
    p.plot(a.year, a.grain_harvest_mt, "-o", color="darkgreen", label="actual (sim)")
    p.plot(a.year, a.grain_reported_province_mt, "-s", color="orange", label="reported by provinces (sim)")
    p.plot(a.year, a.grain_believed_mt, ":", color="orange", label="believed by the centre (sim)")
    p.plot(a.year, a.procurement_mt, "-^", color="purple", label="procured (sim)")
    p.plot(grain.year, grain.output_revised, "x", color="black", label="output, revised NBS")
    p.plot(grain.year, grain.procurement, "+", color="purple", label="procurement (official)")
    p.set_ylabel("Mt")
    p.set_title("Grain")
    p.legend(fontsize=7)
    p = ax[1, 0]
    p.plot(a.year, a.rural_retention_kg, "-o", color="saddlebrown", label="rural retention (sim)")
    p.plot(grain.year, grain.rural_retention_kg, "x", color="black", label="rural retention (official)")
    p.set_ylabel("kg per rural person per year")
    p.set_title("Grain left to peasants")
    p.legend(fontsize=7)
    p = ax[1, 1]
    dates = m.year + (m.index % 12) / 12.0
    p.plot(dates, m.labor_share_farm, label="farm")
    p.plot(dates, m.labor_share_furnace, label="backyard furnaces")
    p.plot(dates, m.labor_share_waterworks, label="water works")
    p.set_ylabel("share of rural working-age labor (effective)")
    p.set_title("Labor")
    p.legend(fontsize=7)
    fig.suptitle(f"greatleap: {results.meta['scenario']['name']} (scale {results.meta['scale']:g}, "
                 f"seed {results.meta['seed']})")
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
