"""Hierarchy: inflated reports at each level, the centre's belief, targets and procurement quotas.

Commune report = Y x (1 + pi_c), pi_c = inflation_max x sigmoid(z),
z = bias + k_target (target/Y - 1) + k_campaign campaign + k_peer peer + k_radicalism radicalism_p
    + k_anti_right anti_right + noise.
Provinces add their own inflation; the centre believes the sum of provincial reports x
(1 - scepticism). Each January the centre plans the year from last year's believed output:
planned_c = believed_c x (1 + ambition) (the target cadres report against); the national quota
is procurement_rate x believed output, shared
among communes by planned output and, progressively, by planned output per head (eta).
Quotas are inflexible within the year. Units: kg of grain (real).
"""
from __future__ import annotations

import numpy as np

from greatleap.kernels import cpu
from greatleap.levers import LEVER_INDEX as L


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def inflation(params, target_ratio, campaign, peer, radicalism, anti_right, noise):
    """Commune inflation pi (report/true - 1); rises with target pressure, climate, peers, zeal."""
    z = (params.bias + params.k_target * np.clip(target_ratio - 1.0, -1.0, 5.0) + params.k_campaign * campaign
         + params.k_peer * peer + params.k_radicalism * radicalism + params.k_anti_right * anti_right
         + params.noise_sd * noise)
    return params.inflation_max * _sigmoid(z)


class Hierarchy:
    def __init__(self, scenario, places):
        self.p = scenario.reporting
        self.plan_p = scenario.planning
        self.seed = scenario.run.seed
        self.places = places
        nc, npv = places.n_communes, places.n_provinces
        self.peer = np.zeros(npv)              # mean relative inflation of the province's communes
        self.year_true = np.zeros(nc)
        self.year_reported = np.zeros(nc)      # commune reports summed over the year's harvests
        self.year_province_reported = np.zeros(npv)
        self.last_true = None
        self.last_reported = None
        self.last_province_factor = np.ones(npv)
        self.planned = np.zeros(nc)            # planned output this year (kg)
        self.quota = np.zeros(nc)              # annual procurement quota (kg)
        self.believed_national = 0.0
        self.believed_inflation = np.zeros(nc)  # inflation the centre reads into each commune's last report

    def report(self, step: int, true_c: np.ndarray, season_share: np.ndarray, levers: np.ndarray) -> dict:
        """Reports of this harvest at commune and province level, and the centre's belief (kg)."""
        pl, p = self.places, self.p
        nc = pl.n_communes
        prov = pl.place_province[:nc]
        target = self.planned * season_share
        ratio = target / np.maximum(true_c, 1.0)
        noise = cpu.normal_array(self.seed, cpu.STREAM_REPORT, step, np.arange(nc, dtype=np.int64))
        pi = inflation(p, ratio, levers[L["campaign"]], self.peer[prov], pl.radicalism[prov],
                       levers[L["anti_right"]], noise)
        commune_reports = true_c * (1.0 + pi)
        by_prov = np.bincount(prov, commune_reports, minlength=pl.n_provinces)
        pi_prov = p.province_inflation_max * _sigmoid(p.bias + p.k_campaign * levers[L["campaign"]]
                                                      + p.k_radicalism * pl.radicalism
                                                      + p.k_anti_right * levers[L["anti_right"]])
        province_reports = by_prov * (1.0 + pi_prov)
        believed = province_reports.sum() * (1.0 - levers[L["scepticism"]])
        counts = np.maximum(np.bincount(prov, minlength=pl.n_provinces), 1)
        self.peer = np.bincount(prov, pi, minlength=pl.n_provinces) / counts / max(p.inflation_max, 1e-9)
        self.believed_inflation = np.maximum(0.0, (1.0 + pi) * (1.0 - levers[L["scepticism"]]) - 1.0)
        self.year_true += true_c
        self.year_reported += commune_reports
        self.year_province_reported += province_reports
        self.believed_national += believed
        return {"commune_reports": commune_reports, "province_reports": province_reports, "believed": believed}

    def plan_year(self, levers: np.ndarray, expected_c: np.ndarray, pop_c: np.ndarray) -> None:
        """January: set planned output and the inflexible annual procurement quota of every commune."""
        pl = self.places
        nc = pl.n_communes
        prov = pl.place_province[:nc]
        if self.last_reported is None:
            believed = expected_c * (1.0 - levers[L["scepticism"]])
        else:
            believed = self.last_reported * self.last_province_factor[prov] * (1.0 - levers[L["scepticism"]])
        self.planned = believed * (1.0 + levers[L["ambition"]])
        per_head = self.planned / np.maximum(pop_c, 1.0)
        national_per_head = self.planned.sum() / max(pop_c.sum(), 1.0)
        weight = self.planned * (per_head / max(national_per_head, 1e-9)) ** self.plan_p.progressive_eta
        total = levers[L["procurement_rate"]] * believed.sum()
        self.quota = total * weight / max(weight.sum(), 1e-9)

    def close_year(self) -> dict:
        """December: keep the year's reports for next year's plan; return the year's totals (kg).

        (The same totals are in the results' monthly tables; the return value serves callers
        that drive the hierarchy on its own.)"""
        prov = self.places.place_province[: self.places.n_communes]
        commune_sum = np.bincount(prov, self.year_reported, minlength=self.places.n_provinces)
        out = {"true": self.year_true.sum(), "commune_reported": self.year_reported.sum(),
               "province_reported": self.year_province_reported.sum(), "believed": self.believed_national}
        if self.year_reported.sum() > 0:
            self.last_reported = self.year_reported.copy()
            self.last_province_factor = self.year_province_reported / np.maximum(commune_sum, 1.0)
        self.year_true[:] = 0.0
        self.year_reported[:] = 0.0
        self.year_province_reported[:] = 0.0
        self.believed_national = 0.0
        return out
