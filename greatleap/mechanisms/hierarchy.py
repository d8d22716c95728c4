"""Hierarchy: inflated reports at each level, the centre's belief, targets and procurement quotas.

Commune report = Y x (1 + pi_c), pi_c = cap_c x sigmoid(z),
z = bias + k_target (target/Y - 1) + k_campaign campaign + k_peer peer + k_radicalism radicalism_p
    + k_anti_right anti_right + k_hunger depletion_c + noise.
cap_c is the commune's own ceiling of plausible claims (``inflation_max`` x a lognormal factor
fixed for the commune, sd ``cap_sd``): some cadres claimed ten times the harvest, others little.
Where people are visibly starving (the commune's mean depletion), claims fall back toward the
truth (``k_hunger`` < 0): 1959's claims were ~1.6x the harvest, 1960's close to it.
Provinces add their own inflation, province_inflation_max x sigmoid(the same climate + k_province_radicalism x
the province's radicalism above neutral): zealous leaders inflated their provinces' claims and took the largest
tasks on them (Anhui, Henan, Gansu procured 0.4-0.55 of their 1959 output against ~0.3 elsewhere); the centre
believes the sum of provincial reports x
(1 - scepticism). In December each commune compiles its year's output anew in the climate of
that month (the year's claim: 375 Mt compiled at Wuchang in December 1958, 270 Mt for 1959, the
1960 figure in the retreat of early 1961), and next year's plan is drawn on that claim. Each
January the centre plans the year from last year's claims: planned_c = claimed_c x (1 + ambition) (the
target cadres report against), redrawn each month at that month's ambition, since the year's targets
were raised and cut within the year. The targets were stated against the claims, not a discounted belief
(Beidaihe, August 1958: 1958 grain 300-350 Mt against 195 Mt in 1957; Wuchang, December 1958: 1959 grain
525 Mt against 375 Mt claimed; Lushan, August 1959: 275 Mt, ~10% over 1958's output revised to 250 Mt;
the 1960 plan 300 Mt against 270 Mt claimed). The quota is drawn on believed output (the claims x
(1 - scepticism)): the national quota
is procurement_rate x believed output, but at least ``commitment_cover`` x what the state plans to
pay out over the year (urban rations, exports net of imports, other use, grossed up for resales,
less the centre's stock above its target), shared among communes by planned output and,
progressively, by planned output per head (eta). Where the year's policy redrew it (the ``quota_redraw`` lever),
the grain year's quota is redrawn at the autumn harvest on the year's reports as the centre then believes them:
1958/59's spring plan, on the 1957 base, was raised in the autumn's 'big purchase' drive on the inflated harvest
(the provinces' final tasks 1,150 against 880 bn jin of trade grain planned; 1,123.6 collected); 1960/61's and
1961/62's were set on the season's estimate (Hefei, May 1960: the estimate less ~10%, trued up after the
harvest); 1959/60's stood as planned in spring on 1958's discounted output (Lushan's fixed purchase of 110 bn jin,
to hold for three years). docs/evidence/procurement_plans_1958_1960.md. The historical scenario keeps the lever
off (the fit loses targets with it; see its comment). Otherwise quotas are inflexible within the year.
Units: kg of grain (real).
"""
from __future__ import annotations

import numpy as np

from greatleap.calendar import harvest_calendar
from greatleap.mechanisms.base import Mechanism, Series, by_province, member_power, per_member, scalar_pow
from greatleap.mechanisms.communes import commune_draws
from greatleap.streams import STREAM_CLAIM_NOISE, STREAM_REPORT_CAP, STREAM_REPORT_NOISE

TARGET_RATIO_RANGE = (-1.0, 5.0)  # target/harvest - 1 is clipped to this range in the inflation logit
NEUTRAL_RADICALISM = 0.5  # provinces with no evidence of zeal; only zeal above it adds to a province's own claims


def believed_inflation(report_inflation, scepticism):
    """Inflation the centre reads into each commune's last harvest report (ratio, (members, communes)) at this
    month's ``scepticism`` (members,): (1 + report inflation) x (1 - scepticism) - 1, at least 0. It is read anew
    each month, not fixed at the harvest: when the centre turned sceptical it doubted the grain it had believed
    the communes held, not only the next report. After the Xinyang incident (October 1960) and the Emergency
    Directive (3 November 1960) work teams went into the villages, found the granaries empty and the centre
    shipped grain in that winter (Yang 2012, Tombstone ch. 1; MacFarquhar 1997, Origins III ch. 1); before it,
    'hidden grain' was searched for where the reports claimed it (Bernstein 1984)."""
    return np.maximum(0.0, (1.0 + report_inflation) * (1.0 - scepticism)[:, None] - 1.0)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def inflation(rp, target_ratio, campaign, peer, radicalism, anti_right, noise, depletion=0.0, cap=None):
    """Commune inflation pi (report/true - 1); rises with target pressure, climate, peers, zeal;
    falls where people starve. ``cap``: the communes' ceilings (default ``inflation_max``).

    ``rp``: the reporting parameters (a section view; each value (members,)).
    """
    z = (per_member(rp.bias) + per_member(rp.k_target) * np.clip(target_ratio - 1.0, *TARGET_RATIO_RANGE)
         + per_member(rp.k_campaign) * campaign + per_member(rp.k_peer) * peer
         + per_member(rp.k_radicalism) * radicalism + per_member(rp.k_anti_right) * anti_right
         + per_member(rp.k_hunger) * depletion + per_member(rp.noise_sd) * noise)
    return (per_member(rp.inflation_max) if cap is None else cap) * _sigmoid(z)


def plan_quotas(believed, people, procurement_rate, eta, commitments=0.0):
    """January quotas: each commune's annual procurement quota (kg/year), drawn on ``believed`` output.

    ``believed``, ``people``: (members, communes); ``eta``: (members,); ``procurement_rate``,
    ``commitments`` (kg/year): (members,). The national quota (rate x believed output, at least the
    commitments) is shared by believed output, progressively by believed output per head (elasticity
    ``eta``); the year's ambition scales every commune's plan alike, so it leaves the shares as they are.
    """
    per_head = believed / np.maximum(people, 1.0)
    national_per_head = believed.sum(axis=1) / np.maximum(people.sum(axis=1), 1.0)
    weight = believed * member_power(per_head / np.maximum(per_member(national_per_head), 1e-9), eta)
    total = np.maximum(procurement_rate * believed.sum(axis=1), commitments)
    return per_member(total) * weight / np.maximum(per_member(weight.sum(axis=1)), 1e-9)


def _committed_share(commitments, quota):
    """Share (0-1) of the national ``quota`` (kg/year, (members, communes)) that pays the state's ``commitments``
    (kg/year, (members,))."""
    total = quota.sum(axis=1)
    return np.minimum(1.0, np.divide(commitments, total, out=np.zeros_like(total), where=total > 0))


class Hierarchy(Mechanism):
    """Reports, the centre's belief, January plans and quotas."""
    name = "hierarchy"
    phases = ("report", "account")

    def init(self, sim) -> None:
        w = sim.world
        places = (("planned", "kg/year", "planned output (the target cadres report against): the plan's base x "
                   "(1 + this month's ambition)"),
                  ("plan_base", "kg/year", "the output the January plan was drawn on (last year's claim)"),
                  ("quota", "kg/year", "annual procurement quota"),
                  ("quota_rate", "share", "share of the true output a plan drawn on it takes (flexible quotas)"),
                  ("last_true", "kg", "last year's true harvests"),
                  ("reported", "kg", "the commune's report of this month's harvest"),
                  ("year_true", "kg", "harvests so far this year"),
                  ("year_reported", "kg", "the commune's reports of this year's harvests so far"),
                  ("last_reported", "kg", "last year's commune claim (compiled in December)"),
                  ("report_inflation", "ratio", "inflation of the commune's last harvest report (report / truth - 1)"))
        for key, unit, meaning in places:
            w.places.add(key, unit=unit, meaning=meaning, owner=self.name)
        for key, fill, meaning in (("peer", 0.0, "mean relative inflation of the province's communes"),
                                   ("reported", 0.0, "the province's report of this month's harvest"),
                                   ("year_reported", 0.0, "the province's reports of this year's harvests so far"),
                                   ("report_factor", 1.0, "last year's province claim / commune claims")):
            w.provinces.add(key, fill=fill, unit="kg" if "report" in key and key != "report_factor" else "ratio",
                            meaning=meaning, owner=self.name)
        w.national.add("believed", unit="kg", meaning="output the centre believes, this month's harvest", owner=self.name)
        w.national.add("claimed", unit="kg", meaning="the year's output as the provinces compiled it in December",
                       owner=self.name)
        w.national.add("believed_year", unit="kg", meaning="output the centre believes, this year", owner=self.name)
        for key, plan in (("committed_share", "the plan"), ("committed_share_true", "a plan drawn on the truth")):
            w.national.add(key, unit="share", meaning=f"share of the national quota in {plan} that pays the "
                           "state's commitments (cities, army, exports)", owner=self.name)
        w.national.add("plans_from_reports", np.uint8, 0, "flag", "1 once a year of reports exists", self.name)
        w.places.add("inflation_cap", unit="ratio", meaning="the commune's ceiling of plausible inflation", owner=self.name)
        nc = sim.geo.n_communes
        for m, scen in enumerate(sim.scenarios):  # setup only: a persistent ceiling per commune
            rp = scen.reporting
            z = commune_draws(scen.run.seed, STREAM_REPORT_CAP, 0, sim.geo)
            w.places.inflation_cap[m, :nc] = rp.inflation_max * np.exp(rp.cap_sd * z - 0.5 * rp.cap_sd ** 2)
        self.rp, self.eta = sim.params.reporting, sim.params.planning.progressive_eta
        self.pp, self.cover = sim.params.procurement, sim.params.planning.commitment_cover
        self.yield_trend = sim.params.agriculture.yield_trend
        self.seeds = [s.run.seed for s in sim.scenarios]
        self.calendar = harvest_calendar()
        self.scale = sim.world.scale

    def report(self, world, month) -> None:
        """January: plans and quotas. At harvests: reports up the hierarchy and the centre's belief; at the autumn
        harvest, the quota redrawn on the year's reports where the ``quota_redraw`` lever says so."""
        if month.month == 1 or month.t == 0:
            self._plan_year(world, month)
        pl, pv, geo, nc = world.places, world.provinces, world.geo, world.geo.n_communes
        pl.planned[:, :nc] = pl.plan_base[:, :nc] * per_member(1.0 + month.national("ambition"))
        pl.reported[:] = 0.0
        pv.reported[:] = 0.0
        world.national.believed[:] = 0.0
        harvesting = self.calendar.harvesting(month.month)
        if harvesting.any():
            self._report_harvest(world, month, harvesting)
            self._redraw_quota(world, month, self.calendar.last_of_year(month.month))

    def _report_harvest(self, world, month, harvesting) -> None:
        """This month's harvest reports up the hierarchy, the centre's belief and the peers' inflation."""
        pl, pv, geo, nc = world.places, world.provinces, world.geo, world.geo.n_communes
        scepticism = month.national("scepticism")
        prov = geo.commune_province
        on = harvesting[prov]
        true_c = pl.harvest[:, :nc]
        target = pl.planned[:, :nc] * self.calendar.harvest_share(month.month)[prov]
        pi, commune_reports, province_reports = self._inflate(world, month, true_c, target, STREAM_REPORT_NOISE)
        commune_reports = np.where(on, commune_reports, 0.0)
        province_reports = np.where(harvesting, province_reports, 0.0)
        believed = province_reports.sum(axis=1) * (1.0 - scepticism)
        counts = np.maximum(np.bincount(prov, minlength=geo.n_provinces), 1)
        peer = by_province(pi / np.maximum(pl.inflation_cap[:, :nc], 1e-9), prov, geo.n_provinces) / counts
        pv.peer[:] = np.where(harvesting, peer, pv.peer)
        pl.report_inflation[:, :nc] = np.where(on, pi, pl.report_inflation[:, :nc])
        pl.reported[:, :nc] = commune_reports
        pv.reported[:] = province_reports
        world.national.believed[:] = believed
        pl.year_true[:, :nc] += np.where(on, true_c, 0.0)
        pl.year_reported[:, :nc] += commune_reports
        pv.year_reported[:] += province_reports
        world.national.believed_year[:] += believed

    def _inflate(self, world, month, true_c, target, stream: int):
        """Reports of true output ``true_c`` (kg, (members, communes)) made against ``target`` (kg) in
        this month's climate: the communes' inflation, their reports and the provinces' (kg)."""
        pl, pv, geo, nc = world.places, world.provinces, world.geo, world.geo.n_communes
        prov, rp = geo.commune_province, self.rp
        noise = np.stack([commune_draws(seed, stream, month.t, geo) for seed in self.seeds])
        campaign, anti_right, radicalism = month.lever("campaign"), month.lever("anti_right"), pv.radicalism
        depletion = 1.0 - pl.reserve_sum[:, :nc] / np.maximum(pl.pop[:, :nc], 1)
        pi = inflation(rp, target / np.maximum(true_c, 1.0), campaign[:, prov], pv.peer[:, prov], radicalism[:, prov],
                       anti_right[:, prov], noise, depletion, pl.inflation_cap[:, :nc])
        commune_reports = true_c * (1.0 + pi)
        depletion_p = 1.0 - (by_province(pl.reserve_sum[:, :nc], prov, geo.n_provinces)
                             / np.maximum(by_province(pl.pop[:, :nc].astype(float), prov, geo.n_provinces), 1.0))
        pi_prov = per_member(rp.province_inflation_max) * _sigmoid(
            per_member(rp.bias) + per_member(rp.k_campaign) * campaign + per_member(rp.k_radicalism) * radicalism
            + per_member(rp.k_province_radicalism) * np.maximum(radicalism - NEUTRAL_RADICALISM, 0.0)
            + per_member(rp.k_anti_right) * anti_right + per_member(rp.k_hunger) * depletion_p)
        return pi, commune_reports, by_province(commune_reports, prov, geo.n_provinces) * (1.0 + pi_prov)

    def _plan_year(self, world, month) -> None:
        """January: the plan's base (last year's claim) and the inflexible annual procurement quota of every commune."""
        pl, geo, nc = world.places, world.geo, world.geo.n_communes
        prov = geo.commune_province
        scepticism = per_member(month.national("scepticism"))
        trend = scalar_pow(1.0 + self.yield_trend, np.full(world.members, month.year - 1957.0))
        expected = pl.potential[:, :nc] * per_member(trend)
        from_reports = pl.last_reported[:, :nc] * world.provinces.report_factor[:, prov]
        claimed = np.where(per_member(world.national.plans_from_reports) == 1, from_reports, expected)
        believed = claimed * (1.0 - scepticism)
        commitments = self._commitments(world, month)
        inputs = (pl.pop[:, :nc] * self.scale, month.national("procurement_rate"), self.eta, commitments)
        pl.quota[:, :nc] = plan_quotas(believed, *inputs)
        pl.plan_base[:, :nc] = claimed
        # flexible quotas: the same plan drawn on the truth (last year's true output), as a rate of the harvest
        truth = np.where(per_member(world.national.plans_from_reports) == 1, pl.last_true[:, :nc], expected)
        quota_true = plan_quotas(truth, *inputs)
        pl.quota_rate[:, :nc] = quota_true / np.maximum(truth, 1.0)
        for key, quota in (("committed_share", pl.quota[:, :nc]), ("committed_share_true", quota_true)):
            getattr(world.national, key)[:] = _committed_share(commitments, quota)

    def _redraw_quota(self, world, month, final) -> None:
        """At the provinces' last harvest of the year (``final``: bool per province): the grain year's quota
        redrawn on the year's reports (the communes' x their province's additions) x (1 - this month's
        scepticism), the share the ``quota_redraw`` lever sets; it falls due from this harvest on."""
        share = per_member(month.national("quota_redraw"))
        if not final.any() or not share.any():
            return
        pl, pv, geo, nc = world.places, world.provinces, world.geo, world.geo.n_communes
        prov = geo.commune_province
        additions = pv.year_reported / np.maximum(by_province(pl.year_reported[:, :nc], prov, geo.n_provinces), 1.0)
        believed = pl.year_reported[:, :nc] * additions[:, prov] * per_member(1.0 - month.national("scepticism"))
        commitments = self._commitments(world, month)
        redrawn = plan_quotas(believed, pl.pop[:, :nc] * self.scale, month.national("procurement_rate"), self.eta,
                              commitments)
        quota = (1.0 - share) * pl.quota[:, :nc] + share * redrawn
        pl.quota[:, :nc] = np.where(final[prov], quota, pl.quota[:, :nc])
        world.national.committed_share[:] = _committed_share(commitments, pl.quota[:, :nc])

    def _commitments(self, world, month) -> np.ndarray:
        """What the state plans to pay out over the year (kg), the least it sets the quota to:
        urban rations + exports - imports + other use, grossed up for routine resales, less the
        centre's stock above its target; x ``commitment_cover``."""
        pp = self.pp
        urban = month.national("urban_ration") * world.places.pop[:, world.geo.n_communes:].sum(axis=1) * self.scale
        trade = (month.national("exports") - month.national("imports")) * 1e6
        outlays = 12.0 * (urban + trade) + pp.state_other_use_mt * 1e9
        spare = np.maximum(0.0, world.national.state_stock - pp.state_stock_target_mt * 1e9)
        gross = np.maximum(0.0, outlays / (1.0 - np.minimum(pp.resale_share, 0.5)) - spare)
        return self.cover * gross

    def account(self, world, month) -> None:
        """December: the year's output compiled in this month's climate (the year's claim), kept
        for next year's plan."""
        world.national.claimed[:] = 0.0
        if not (month.month == 12 or month.last):
            return
        pl, pv, geo, nc = world.places, world.provinces, world.geo, world.geo.n_communes
        has = pl.year_true[:, :nc].sum(axis=1) > 0
        _, claims, province_claims = self._inflate(world, month, pl.year_true[:, :nc], pl.planned[:, :nc],
                                                   STREAM_CLAIM_NOISE)
        commune_sum = by_province(claims, geo.commune_province, geo.n_provinces)
        pl.last_reported[:, :nc] = np.where(has[:, None], claims, pl.last_reported[:, :nc])
        pl.last_true[:, :nc] = np.where(has[:, None], pl.year_true[:, :nc], pl.last_true[:, :nc])
        pv.report_factor[:] = np.where(has[:, None], province_claims / np.maximum(commune_sum, 1.0), pv.report_factor)
        world.national.claimed[:] = np.where(has, province_claims.sum(axis=1), 0.0)
        world.national.plans_from_reports[:] = world.national.plans_from_reports | has
        pl.year_true[:] = 0.0
        pl.year_reported[:] = 0.0
        pv.year_reported[:] = 0.0
        world.national.believed_year[:] = 0.0

    def series(self) -> list[Series]:
        nc = lambda w: w.geo.n_communes  # noqa: E731
        return [Series("reported_commune", "kg", "communes' reports of this month's harvest", "province_sector",
                       lambda w: w.places.reported),
                Series("reported_province", "kg", "provinces' reports of this month's harvest", "province",
                       lambda w: w.provinces.reported),
                Series("reported_commune", "kg", "communes' reports of this month's harvest", "national",
                       lambda w: w.places.reported[:, : nc(w)].sum(axis=1)),
                Series("reported_province", "kg", "provinces' reports of this month's harvest", "national",
                       lambda w: w.provinces.reported.sum(axis=1)),
                Series("believed", "kg", "output the centre believes from this month's reports", "national",
                       lambda w: w.national.believed),
                Series("claimed", "kg", "the year's output as the provinces compiled it in December", "national",
                       lambda w: w.national.claimed)]
