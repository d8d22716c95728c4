"""The scenario schema: every parameter of every mechanism family with its unit, allowed range
and source, the dated policy events, and the calibration declarations.

A scenario is a TOML file with a ``[run]`` table, one table per mechanism family and a list of
dated ``[[events]]`` that move the policy levers (see :mod:`greatleap.levers`). Loading, overlays
and error messages are in :mod:`greatleap.scenario`.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from greatleap.levers import LEVERS, parse_month
from greatleap.schema import BY_YEAR_LIMITS, DATA_YEARS, RUN_MONTHS, P, _Section  # noqa: F401 (re-exported)


class RunConfig(_Section):
    start: str = Field("1957-01", description="first simulated month, YYYY-MM")
    end: str = Field("1966-12", description="last simulated month, YYYY-MM")
    scale: float = P(1000.0, 1.0, 1e6, "real persons per agent", "default gives ~0.63 M agents")
    seed: int = P(1958, 0, 2**62, "integer", "any")
    communes: int = P(2000, 29, 100000, "communes", "synthetic communes, the same number at every scale so that commune-level heterogeneity does not change with the scale (~25,000-26,000 people's communes in Oct 1958, glf_campaign_quantities; each synthetic commune stands for a dozen)")
    min_agents_per_commune: int = P(50, 1, 10000, "agents", "fewer communes are used where the scale leaves fewer agents than this per commune. Two noises pull against each other, and mortality, being convex, turns each into more famine deaths: births and deaths of a few agents spread food unequally between small communes, and a province of few communes has few draws. Commune draws (yield, reports) are deviations from their province's (communes.commune_draws). True excess deaths 1958-62 (compare's measure) at scale 20,000, paired over 400 seeds against this floor of 50: 10 agents (2,000 communes) +5.3% +- 0.3%, 100 (268) +0.4% +- 0.3%, 200 (137) +1.0% +- 0.4%, 400 (73) +5.9% +- 0.5%; with 50 (536 communes) +3.6% +- 1.0% above scale 200 (288 seeds paired; +2.3% +- 1.0% at 5,000, +0.5% +- 0.6% at 1,000); measured 2026-12-07 (scripts/scale_invariance.py). Before the draws were centred a floor of 200 gave ~+7% at 20,000")
    capacity_factor: float = P(1.3, 1.05, 4.0, "slots per initial agent", "arrays grow if exceeded")
    check_ledgers: bool = Field(True, description="check grain and people ledgers every step")

    @field_validator("start", "end")
    @classmethod
    def _month(cls, v: str) -> str:
        m = parse_month(v)
        if not parse_month(RUN_MONTHS[0]) <= m <= parse_month(RUN_MONTHS[1]):
            raise ValueError(f"outside the data; allowed: {RUN_MONTHS[0]} .. {RUN_MONTHS[1]} (the world starts in January 1957)")
        return v

    @model_validator(mode="after")
    def _order(self) -> "RunConfig":
        if parse_month(self.end) < parse_month(self.start):
            raise ValueError(f"run.end {self.end!r} is before run.start {self.start!r}; allowed: end >= start")
        return self


class PopulationParams(_Section):
    initial_population_million: float = P(628.28, 1.0, 2000.0, "million persons at run start", "official year-end 1956 (CSY 1999)")
    registered_cdr_1957: float = P(10.8, 3.0, 40.0, "per mille", "official registered CDR 1957 (CSY 1999); true CDR = this / death completeness")
    registered_cbr_1957: float = P(34.03, 10.0, 60.0, "per mille", "official registered CBR 1957 (CSY 1999); true CBR = this / birth completeness")
    cadre_share: float = P(0.03, 0.0, 0.2, "share of rural people",
                           "Ningxia 1961 (gazetteer): teams ~33 households, brigades ~160, communes ~1,460; ~3-5 cadres a team, 5-8 a brigade, 30-60 "
                           "a commune (R): cadres ~3-4.5% of rural people, ~12-20% with their households; here the privileged core; estimate")
    black_element_share: float = P(0.05, 0.0, 0.3, "share of people", "landlords 2.6% + rich peasants 5.3% = 7.9% of the population after land reform (Li Ruojian, 1954 survey); plus rightists and 'bad elements'")
    sex_ratio_at_birth: float = P(1.06, 0.9, 1.2, "males per female", "demographic norm")
    mortality_decline_per_year: float = P(0.03, 0.0, 0.2, "relative decline of baseline mortality per year after 1957",
                                           "true CDR 18.99 (1957) -> 14.17 (1966) in UN WPP 2022 (3.2% a year), 18.1 -> 11.1 in Banister 1984 "
                                           "(5.3%); calibrated within 2.5-5.5%")
    urban_mortality_factor: float = P(0.45, 0.3, 1.5, "ratio of urban to rural baseline mortality", "registered city/rural CDR 8.07/13.71 (1954) and 9.22/12.50 (1958) (Lin & Yang 2000, Table 2); true rates with the completeness used here (urban 0.95, rural 0.58-0.60, Banister 1984): 8.5/22.9 = 0.37 (1954), 9.7/21.6 = 0.45 (1958); the younger towns make the crude ratio lower than the age-specific one, so 0.45")
    urban_fertility_factor: float = P(1.0, 0.3, 1.5, "ratio of urban to rural fertility", "registered city CBR 42.45 against rural 37.51 in 1954 (Lin & Yang 2000, Table 2); with rural births ~80% registered (Banister 1984, Table 5) the true ratio is near 1")


class NutritionParams(_Section):
    kcal_per_kg_grain: float = P(3000.0, 2600.0, 3400.0, "kcal per kg unhusked grain", "DESIGN.md section 8")
    reserve_capacity_kcal: float = P(120000.0, 30000.0, 300000.0, "kcal (adult man)", "Keys et al. 1950 (Minnesota): ~25% of body weight lost in 24 weeks at ~1,570 against ~3,200 kcal/day, ~270,000 kcal at most drawn down; a lean adult holds ~80,000-150,000 kcal of mobilisable fat and protein; calibrated within 90,000-200,000")
    recovery_efficiency: float = P(0.5, 0.05, 1.0, "share of surplus kcal stored",
                                   "Keys et al. 1950: +400-1,600 kcal/day over the 1,570 kcal starvation diet rebuilt little at the low end, ~4,000 "
                                   "kcal/day needed; tissue deposition stores ~60-85% of surplus (R), less net of the metabolic rebound; calibrated")
    nongrain_kcal_rural: float = P(300.0, 0.0, 1000.0, "kcal/person/day with private plots", "pre-war rural diets ~2,500 kcal/day, 88% from cereals and legumes (~300 kcal other); FAO food balance 1964-66: ~370 kcal/day outside cereals and roots")
    nongrain_kcal_urban: float = P(450.0, 0.0, 1200.0, "kcal/person/day",
                                   "FAO food balance 1964-66: ~370 kcal/day outside cereals and roots nationally; Shanghai 1954/55 rations "
                                   "(residents 25-28 jin/month, ~1,450-1,650 kcal/day) left adults ~500-700 kcal of need; calibrated within 250-700")
    urban_nongrain_from_plots: float = P(0.4, 0.0, 1.0, "share of urban non-grain food that came from suburban private plots and sidelines",
                                         "no share found (searched suburban vegetable and pork supply 1957-61); urban vegetable, pork and oil "
                                         "supplies collapsed with the rural sidelines in 1959-61 (Dikotter 2010) (R); calibrated within 0.1-0.8")
    famine_substitute_kcal: float = P(120.0, 0.0, 600.0, "kcal/person/day at full depletion",
                                      "Chen Hairu 2007: stalks, husks and wild plants of the 1959-61 substitute-food campaign eased the fear of "
                                      "hunger more than they filled stomachs; 100 jin of acorns gave 30-50 of flour; no national tonnage; estimate")
    heavy_work_extra_kcal: float = P(500.0, 0.0, 1500.0, "kcal/day for furnace and water-works labor",
                                     "FAO/WHO/UNU 2001 (Table 5.3) (R): vigorous work PAL 2.0-2.4 vs ~1.55 base: +750-1,250 kcal/day; Shanghai "
                                     "1954/55 rations: heavy labour 35-44, extra heavy 45-53 jin/month vs light 26-34 (+580-1,100 kcal); estimate")
    farm_work_extra_kcal: float = P(300.0, 0.0, 1500.0, "kcal/day for field labor",
                                    "FAO/WHO/UNU 2001 (Table 5.3): moderately active PAL 1.70-1.99 vs ~1.55 base: +300-460 kcal/day for a 55 kg man "
                                    "(BMR (R)), peak season more; Shanghai 1954/55 rations: light labour +~4 jin/month over residents; estimate")
    metabolic_adaptation: float = P(0.5, 0.0, 0.8, "share of need saved at full depletion", "Keys et al. 1950: basal metabolism fell ~40% after 24 weeks of semi-starvation (BMR ~2/3 of need) and physical endurance about halved; calibrated within 0.25-0.55")
    work_capacity_theta: float = P(0.7, 0.1, 4.0, "exponent", "Li & Yang 2005 (JPE): diversion and over-procurement, which left peasants too few calories to sustain labor productivity, explain 61% of the 1959-61 output collapse; Keys et al. 1950: endurance halved at ~half intake (theta ~0.5-1); calibrated")


class MortalityParams(_Section):
    hunger_beta_child: float = P(8.0, 0.0, 50.0, "hazard multiplier at full depletion, ages 0-4",
                                   "Ashton et al. 1984: 12.2 M of ~29.5 M excess deaths under age 10 (via Lin & Yang 2000, p. 138), ~1.7x the "
                                   "excess death rate per head of those older; calibrated above the adult range, the under-10 share a target")
    hunger_beta_adult: float = P(3.0, 0.0, 50.0, "hazard multiplier at full depletion, ages 5-59", "Ashton et al. 1984 (age pattern of excess deaths); registered rural CDR x2.3 at the 1960 peak (Lin & Yang 2000); calibrated")
    hunger_beta_old: float = P(8.0, 0.0, 50.0, "hazard multiplier at full depletion, ages 60+", "famine deaths concentrated in children and the old (Ashton et al. 1984; in towns mostly the old and weak, Li Ruojian); calibrated")
    hunger_gamma: float = P(2.0, 0.5, 6.0, "exponent of depletion",
                            "Olofin et al. 2013 (PLoS ONE 8:e64636): child mortality HR 1.52 / 2.63 / 9.40 for mild / moderate / severe underweight, "
                            "excess risk convex in the deficit (power ~1-2, steeper near severe); Pelletier 1995 (Bull WHO); calibrated")
    starvation_hazard: float = P(0.25, 0.0, 1.0, "per month at full depletion",
                                 "death follows within weeks once fat reserves are gone: BMI ~12-13 the limit of survival (Henry 1990) (R); 1981 "
                                 "hunger strikers died after 46-73 days (R); severe wasting HR 11.6 (Olofin 2013); calibrated within 0.05-0.5")
    starvation_threshold: float = P(0.75, 0.0, 0.99, "depletion where starvation begins", "death from starvation itself begins beyond ~25-30% weight loss (Keys et al. 1950 stopped at 25%); calibrated")
    frailty_variance: float = P(0.3, 0.0, 2.0, "variance of a person's frailty (lognormal, mean 1; it multiplies all their hazards)",
                                "people differ in their risk of death, and a famine takes the frailest first (Vaupel, Manton & Stallard "
                                "1979, Demography 16:439; Song 2010, Soc Sci Med 71:551: selection in the 1959-61 famine); registered "
                                "CDR fell below its 1957 level after the famine where it had been worst (Anhui 8.1, Henan 10.2 in 1961 "
                                "against 11.5 and 11.8; provincial_vital_rates_panel.csv), Banister's true CDR to 14.0 in 1962 against 18.1 "
                                "in 1957; the point keeps 0.3 (adult-mortality estimates 0.2-0.5 (R))")
    provincial_level_weight: float = P(0.5, 0.0, 1.0, "exponent on the province's pre-famine mortality index (0: one national level)",
                                       "registered CDR 1955-57 (provinces_1958.csv mortality_index); the share that is mortality, not registration, unknown: calibrated")
    worksite_mortality: float = P(0.5, 0.0, 2.0, "relative rise of ordinary (non-hunger) mortality in a province's countryside per unit share of its rural working-age labor drafted to furnaces and water works",
                                  "the works of 1958 spread dysentery, measles and exposure at crowded sites and in villages left to the old and children: Yunnan's committee to Mao, 18 Nov 1958 (spring-summer deaths from edema, dysentery and children's measles); Luliang county, Feb-Sep 1958: 5,203 edema deaths, 2.0% of the county, at the Xichong and Dumu reservoir sites with >=90% turnout (Tombstone ch. 10); Gansu's registered CDR 11.3 -> 21.1 in 1958 with ~70% of its labor on the works, net procurement small (Tombstone table 2-1); nationally 10.8 -> 12.0 with ~0.2 of rural labor drafted over 1958: ~0.5 (docs/evidence/famines_of_1958_and_towns.md); calibrated within 0-2")
    orphan_infant_multiplier: float = P(15.0, 1.0, 60.0, "hazard ratio for infants whose mother died", "Ronsmans et al. 2010 (Lancet, Matlab): infants 2-11 months 25x more likely to die after the mother's death; meta-analysis Nguyen et al. 2019: RR 15.9 in the first year (range 15-46); the lower end")


class ViolenceParams(_Section):
    rate: float = P(0.0006, 0.0, 0.02, "deaths per adult-month at full enforcement and bite", "Dikotter 2010: 6-8% of famine deaths from beatings, torture and summary killing (at least 2.5 M); contested (Vukovich); calibrate to ~7% of excess deaths")
    black_element_factor: float = P(3.0, 1.0, 20.0, "ratio",
                                    "no GLF count by class found; violence hit grain hiders and quota shortfalls of all classes, bad elements "
                                    "singled out (Dikotter 2010) (R); Cultural Revolution class killings far steeper (Su 2011) (R); estimate")
    pressure_retention: float = P(0.75, 0.0, 1.0, "share of last month's violence pressure that persists", "estimate: beatings and struggle sessions follow a collection for a few months")


class FertilityParams(_Section):
    hunger_zero_depletion: float = P(0.9, 0.1, 1.0, "depletion where conception stops", "Frisch & McArthur 1974; Frisch 1984: a loss of 10-15% of weight (about a third of body fat) stops ovulation; calibrated within depletion 0.3-0.6")
    hunger_exponent: float = P(1.0, 0.2, 6.0, "exponent", "shape of famine amenorrhoea, conception x 1 - (depletion / zero)^exponent: 1 linear, above 1 a threshold (Frisch & McArthur 1974; Frisch 1984: ovulation stops after a 10-15% weight loss, little change before); calibrated")
    intake_weight: float = P(0.0, 0.0, 3.0, "weight of the current energy deficit (1 - intake/need) in famine amenorrhoea", "conception answers the current energy balance as well as lost reserves (Frisch 1984); national TFR 6.41 (1957) -> 3.29 (1961), CSY 1999; calibrated")
    postpartum_months: int = P(12, 0, 36, "months infecund after a birth", "lactational amenorrhoea: median 9.5 months, a third still amenorrhoeic at 12 months (WHO multicentre study, Pengxian, Sichuan); weaning later in 1958")
    separation_effect: float = P(0.5, 0.0, 1.0, "conception lost per unit share of rural labor diverted", "spouses separated by mobilisation; calibrate")
    mobilisation_effect: float = P(0.2, 0.0, 0.6, "rural conception lost per unit of the campaign's pressure above 1957",
                                   "births fell before the food did: TFR 6.41 (1957), 5.68 (1958), 4.30 (1959) (CSY 1999 = Coale 1984, 1982 fertility "
                                   "survey) while rural grain retention held at 268 kg in 1958 against 273 in 1957, and was back to 6.02 in 1962 at "
                                   "229 kg (china_grain_procurement_retention); Henan's registered CBR fell 33.2 -> 28.1 in 1959, conceived before its "
                                   "famine of 1959-60 (provincial panel); households fell in 1958 (144.31 -> 143.20 M), the only fall in the PRC's "
                                   "record, with marriages put off (V*); 52.7% of 1,487 women students of a Beijing university had menstrual "
                                   "disorders in Feb 1961, blamed on the labor campaigns (ministries' report, V*); women did the heavy field work "
                                   "the drafted men left (Kunshan brigade, Xinhua Neibu Cankao 19 Aug 1960, V*); calibrated within 0-0.5")
    catchup_strength: float = P(0.25, 0.0, 1.0, "share of settled postponed births made up (the rest given up)", "post-famine rebound: TFR 6.41 (1957), 6.02 (1962), 7.50 (1963), 6.18 (1964) (CSY 1999): ~1 year's births above trend against ~1.2 years lost in 1959-61; calibrated")
    catchup_fecundability: float = P(0.2, 0.05, 0.5, "per month", "monthly conception probability of couples making up a postponed birth (newly married or reunited): fecundability of young married women ~0.15-0.3 (Bongaarts & Potter 1983, ch. 2; Wood 1994) (R)")
    catchup_decay: float = P(0.04, 0.0, 0.5, "per month: share of the postponed stock settled (made up or given up) at full release",
                             "rebound confined to 1962-63: registered CBR 37.0, 43.4, then 39.1 (1964), TFR 7.50 -> 6.18 (1963-64) (CSY 1999; "
                             "Banister 1984: CBR 41.0, 49.8, 40.3): postponed conceptions made up within ~1-1.5 years of food's return; "
                             "cf. Dyson 1991 (R); calibrated within 0.02-0.2")
    fetal_loss_hunger: float = P(0.05, 0.0, 0.5, "monthly fetal-loss probability at full depletion",
                                 "Cai & Wang 2005 (Demography 42:301-322; 0.5 M pregnancy histories, 1988 survey): miscarriage and stillbirth risks "
                                 "rose in the 1959-61 famine (odds ~1.5-2x at the peak (R)); Leningrad 1942 likewise (Antonov 1947) (R); estimate")


class AgricultureParams(_Section):
    grain_base_mt: float = P(195.05, 50.0, 400.0, "Mt unhusked grain in 1957 conditions", "revised NBS series 1957")
    labor_elasticity: float = P(0.3, 0.1, 0.9, "alpha", "DESIGN.md 0.3-0.5")
    yield_trend: float = P(0.015, -0.05, 0.08, "per year",
                           "yield per sown ha 1.32 t (1952-53) -> 1.46 t (1957), +2.0-2.6%/yr gross, part fertiliser and recovery (NBS area, revised "
                           "output); farm TFP flat 1952-78 (Wen 1993) (R); the 1962-66 recovery less fertiliser; calibrated within 0-0.03")
    harvest_loss_max: float = P(0.35, 0.0, 1.0, "share lost per unit of harvest-labor shortfall", "~10% unharvested in 1958 (DESIGN item 3)")
    close_cropping_loss: float = P(0.04, 0.0, 0.6, "yield share lost at full intensity", "Anhui 400 -> <200 jin/mu on trial fields; national effect calibrate")
    deep_plowing_loss: float = P(0.02, 0.0, 0.6, "yield share lost at full intensity",
                                 "CC standard >= 1 chi (~33 cm); trial fields ploughed to 1-2 m buried the topsoil and yielded less (Dikotter 2010; "
                                 "Becker 1996) (R); adoption partial, national effect unmeasured; calibrated")
    pest_loss_max: float = P(0.05, 0.0, 0.6, "yield share lost with no birds", "Four Pests locust swarms 1959-60; calibrate")
    bird_recovery_per_year: float = P(0.25, 0.0, 2.0, "per year toward full bird population",
                                      "no Chinese figure found; tree sparrows raise 2-3 broods of 4-6 a year, adult survival ~0.4-0.6 (R): a thinned "
                                      "population can double in a year; sparrows dropped from the Four Pests in 1960; estimate")
    sparrow_kill_per_month: float = P(0.12, 0.0, 1.0, "share of birds killed per month at full campaign",
                                      "210 M+ sparrows killed in 1958, Henan alone 139 M by late April 1958 (glf_campaign_quantities); near local "
                                      "extinction in places (Shapiro 2001) (R); no population estimate found, so the share is an estimate")
    incentive_loss: float = P(0.05, 0.0, 0.6, "yield share lost at full commune egalitarianism",
                              "household farming raised farm TFP ~20% in 1978-84 (Lin 1992, AER) (R), 78% of the productivity gain (McMillan, "
                              "Whalley & Zhu 1989); 1958's free supply was more egalitarian still (Lin 1990) (R); calibrated within 0.02-0.15")
    capital_elasticity: float = P(0.3, 0.0, 1.0, "yield elasticity to farm capital (tools x draught animals)",
                                  "Lin 1992 (AER 82:34-51, provinces 1970-87) (R): output elasticity of capital (machinery, draught animals) "
                                  "~0.07-0.10; capital cost shares ~0.1-0.2 in farm TFP accounts (Tang 1984; Wen 1993) (R); draught animals 0.185 in 1978 "
                                  "(Zhou, Ma & Li 2018, Sustainability 10:3015, provinces 1978-2012); default above; estimate")
    capital_furnace_loss: float = P(0.04, 0.0, 1.0, "share of farm tools melted per month at full furnace labor",
                                    "pots and tools melted for native steel in autumn 1958 (DESIGN item 3; Dikotter 2010 (R)); no national tonnage "
                                    "of scrap or tools found; estimate")
    capital_recovery_per_year: float = P(0.5, 0.0, 2.0, "per year toward the 1957 level of farm tools",
                                         "iron tools are forged again within a season or two once iron is allotted to farm tools (1961-62 readjustment); "
                                         "no national count of tools found; estimate")
    weather: dict[int, float] = Field(
        default_factory=lambda: {1957: 1.0, 1958: 1.12, 1959: 0.98, 1960: 0.92, 1961: 0.96, 1962: 1.0},
        description="national weather factor by harvest year (1 = normal; missing years = 1), of every harvest but a summer harvest that summer_weather names; calibrate (Houser et al.: ~31% nature)")
    summer_weather: dict[int, float] = Field(
        default_factory=dict,
        description="weather factor of the summer harvest (winter wheat, early rice; harvested in June) by harvest year, "
                    "where the season's weather differed from the year's (missing years = the year's weather): the "
                    "1959 drought came in July-September, after the wheat harvest; the 1961 drought hit the winter wheat")
    sown_area: dict[int, float] = Field(
        default_factory=dict,
        description="grain sown area by harvest year, share of 1957 (missing years = 1); the record: NBS grain sown area (data/grain_sown_area_1952_1966.csv)")
    chemical_fertiliser: dict[int, float] = Field(
        default_factory=dict,
        description="chemical fertiliser applied by harvest year, Mt of nutrients (N + P2O5 + K2O; missing years = 1957's, "
                    "no table = no change); the record from 1961: FAO per hectare of arable land x arable land "
                    "(data/sources/chemical_fertiliser_1961_1966.csv)")
    fertiliser_response: float = P(10.0, 5.0, 20.0, "kg grain per kg of nutrients applied",
                                   "N fertiliser gained 11.7, 10.8 and 12.2 kg of rice, wheat and maize per kg of N in China's "
                                   "2000-06 trials (Jin Jiyun 2012, J Sci Food Agric, doi:10.1002/jsfa.4700); the 1958-62 national trials found P and "
                                   "K wanting too, and part of the fertiliser went to cotton and other crops; calibrate within 5-15")
    marginal_yield: float = P(0.6, 0.2, 1.0, "yield of land leaving (or joining) grain relative to the average", "the land left unplanted first is the poorest (the 'three-three' system left 'moderately productive land' unplanted: Hinton 1984, pp. 236-245); sown area fell 13% 1957-59 while yield per sown hectare held (1.46 t in both years, NBS); calibrated")
    severe_hit_yield_loss: float = P(0.5, 0.0, 0.9, "share of yield lost on the severely hit sown area",
                                     "the record counts as severely hit (成灾) sown area whose harvest fell by 30% or more and as lost "
                                     "(绝收) by 80% or more (1995 disaster report); Guangdong's severely hit counties lost 60% on "
                                     "average in the 1955 drought (drought chronology, China Weather); calibrate within 0.3-0.8")
    weather_province_sd: float = P(0.05, 0.0, 0.5, "lognormal sd per province-year",
                                   "sd of log provincial/national grain output 1954-57: median 0.08 (0.07 detrended) over 22 provinces (Meng, Qian & "
                                   "Yared 2015 panel, official series; provincial_grain_panel.csv), flood years included; estimate")
    commune_yield_sd: float = P(0.2, 0.0, 1.0, "lognormal sd of commune yield within its province",
                                "no commune- or county-level yield dispersion found for the 1950s (the county data of Meng, Qian & Yared 2015 are "
                                "not in the project); provincial output shares moved with sd ~0.07-0.08 a year in 1954-57; estimate")
    seed_feed_share: float = P(0.12, 0.0, 0.4, "share of harvest kept for seed and feed",
                               "seed 5-8 jin/mu (Anyuan county gazetteer; ~3-4% of 195 jin/mu, ~5-6% with wheat's heavier seeding (R)) + feed ~5-9 "
                               "Mt (83.8 M large animals x ~20 kg, ~146 M pigs (R) x 25-50 kg), ~3-5% of 195 Mt: ~8-11% in all; estimate")
    storage_loss_per_month: float = P(0.003, 0.0, 0.05, "share of stock lost per month",
                                      "farm stores lost 4-5% in ~6 months in a Jiangxi survey (State Grain Administration, Xinhua 2006), ~8%/yr "
                                      "nationally around 2015 (NFSRA 2025); FAO: mould 3% + insects 5%/yr; state depots <1% in 3-5 years; estimate")
    initial_stock_cover: float = P(1.05, 0.0, 3.0, "share of need until the next harvest held at the start",
                                   "no figure for 1956-57 village reserves found; after the good 1956-57 harvests (307 and 302 kg/head) stocks just "
                                   "cover need to the next harvest, with the usual spring gap in poor villages; estimate")


class LivestockParams(_Section):
    """Draught animals and pigs, as shares of their 1957 year-end herds (large animals 83.82 M, pigs 145.90 M;
    data/sources/china_livestock_1957_1965.csv)."""
    draught_hunger_loss: float = P(0.3, 0.0, 2.0, "share of draught animals lost per month per unit of rural ration shortfall beyond the threshold (0.25)",
                                   "large animals 83.82 M (end 1957) -> 69.49 M (end 1961), -17%: eaten, worked to death, starved of fodder "
                                   "(NBS via daowen.com); calibrate")
    draught_recovery_per_year: float = P(0.45, 0.0, 2.0, "per year toward the 1957 level",
                                         "large animals 70.20 M (1962) -> 84.21 M (1965), back at the 1957 level in three years (NBS via daowen.com); calibrate")
    pig_hunger_loss: float = P(1.0, 0.0, 5.0, "share of pigs lost per month per unit of rural ration shortfall beyond the threshold (0.25)",
                               "pigs 145.90 M (end 1957) -> 75.52 M (end 1961), -48% (NBS via daowen.com); Hunan 12.7 M (1958) -> 3.4 M (1961) "
                               "(Dikotter 2010, Table 8); pigs eat grain and kitchen waste that hungry people eat first; calibrate")
    pig_commune_cull: float = P(0.15, 0.0, 0.6, "share of pigs slaughtered as the communes take them in (per unit of the commune lever)",
                                "a Zhejiang brigade's herd of ~150 lost 40-odd head slaughtered or sold by members rather than handed to the "
                                "commune in autumn 1958 and ~28 more at the 1959 Spring Festival (1961 work-team report, CCRD); the national herd "
                                "was 0.83 of 1957's at the end of 1959 (《当代中国的畜牧业》); calibrate")
    pig_growth_per_year: float = P(1.0, 0.0, 3.0, "per year, logistic rate of the herd's natural increase with private plots allowed",
                                   "pigs 99.97 M (1962) -> 166.93 M (1965), +67% in three years once feed and private pig raising returned "
                                   "(NBS via daowen.com); 97 M in spring 1957 to 105 M by June (People's Daily, 18 Jun 1957); calibrate")
    pig_capacity_growth_per_year: float = P(0.03, 0.0, 0.1, "share of the 1957 herd added to the herd's feed capacity per year",
                                            "the 1965 herd 14% above 1957's; 101 M (1954) and 84 M (mid-1956) before the 1956-57 drive (People's Daily, "
                                            "18 Jun 1957); estimate")
    manure_elasticity: float = P(0.1, 0.0, 0.2, "yield elasticity to the pig herd (its manure) at planting",
                                 "a pig raised to 75 kg gives 15-18 carts of manure, and a Shandong wheat trial gained 28 jin a cart (People's Daily, "
                                 "7 Dec 1956): 210-250 kg grain per pig-year, x 146 M pigs / 195 Mt = at most ~0.16-0.19; manure, pig manure "
                                 "foremost, was the main fertiliser (People's Daily editorial, 17 Dec 1959); calibrate")


class IndustryParams(_Section):
    furnace_steel_kg_per_labor_month: float = P(15.0, 0.0, 1000.0, "kg steel per furnace labor-month",
                                                "~3 Mt native steel (plus ~4 Mt native iron) (R) from ~90 M people over Sep-Dec 1958 (~315 M "
                                                "labor-months): ~10-25 kg per labor-month (glf_campaign_quantities); calibrated")
    furnace_unusable_share: float = P(0.8, 0.0, 1.0, "share of furnace steel unusable", ">3 Mt of 1958 output unusable (DESIGN item 3)")
    modern_steel_mt_1957: float = P(5.35, 0.0, 50.0, "Mt/year", "1957 steel output (glf_campaign_quantities)")


class ReportingParams(_Section):
    inflation_max: float = P(1.2, 0.0, 10.0, "max commune inflation (report/true - 1)", "national claims ~1.9-2.25x the 1958 harvest (450 Mt first reported, 375 Mt at Lushan, against 200 Mt), ~1.5-1.6x in 1959 (275 Mt against 170); Yang 2012; calibrated")
    k_target: float = P(1.5, 0.0, 10.0, "logit weight of target pressure",
                        "yield targets induced inflated output figures and excess procurement (2017 study quoted in Wikipedia GLF; Fan, Xiong & Zhou "
                        "2016); plans ratcheted 392 -> 432 bn jin in spring 1958 (Bo Yibo, recollection); calibrated")
    k_campaign: float = P(3.0, 0.0, 10.0, "logit weight of campaign climate",
                          "claims rose from ~1.0x (1957) to ~1.9x the harvest (end 1958) at the campaign's height (Yang 2012; Luo Pinghan 2015 on "
                          "the 'satellite' records); the largest weight; calibrated")
    k_peer: float = P(1.5, 0.0, 10.0, "logit weight of peer inflation",
                      "officials competed in inflating yields (Fan, Xiong & Zhou 2016); each Xinyang county's 1959 estimate outbid the last (Yang "
                      "2012 ch. 1); satellite records leapfrogged within days (Luo Pinghan 2015); calibrated")
    k_radicalism: float = P(1.5, 0.0, 10.0, "logit weight of provincial radicalism",
                            "zealous provinces pushed harder: leaders who were alternate CC members procured ~3 points more of output (Kung & Chen "
                            "2011, APSR 105:27-45); Henan claimed 1,200 vs ~600 jin/mu (Yang 2012); calibrated within 0.5-3")
    k_anti_right: float = P(1.5, 0.0, 10.0, "logit weight of Anti-Right climate",
                            "claims fell to ~1.3x by Apr 1959 (Li Xiannian) then rose to ~1.6x for the 1959 harvest after Lushan (Yang 2012); 8.07 M "
                            "criticised in the 1959-60 anti-right drives (Li Xianming & Dong Yexu); calibrated")
    bias: float = P(-4.0, -20.0, 5.0, "logit intercept",
                    "1957 output unrevised (195 Mt in old and revised NBS series), so pre-Leap inflation ~0; intercept set so that 1957 inflation "
                    "stays below ~2%; calibrated")
    noise_sd: float = P(0.5, 0.0, 5.0, "logit noise sd per commune report",
                        "report-to-report scatter: claims ran from near-honest to several times the harvest (30-40% typical, Dikotter 2010; up to "
                        "10x in meetings, via Wikipedia GLF); persistent dispersion is in cap_sd; estimate")
    cap_sd: float = P(0.6, 0.0, 2.0, "lognormal sd of communes' inflation ceilings", "claims ranged from near-honest to several times the harvest (Henan 1,200 vs ~600 jin/mu; satellite fields; Yang 2012); calibrated")
    k_hunger: float = P(-4.0, -20.0, 0.0, "logit weight of the commune's mean depletion", "as shortages showed, one province's claims fell from 1.87x to ~1.0x its 1957 output within six months (Lushan conference record); national 1.3x by April 1959 (Li Xiannian); calibrated")
    province_inflation_max: float = P(0.15, 0.0, 3.0, "extra inflation added by provinces", "provinces added to their prefectures' claims ('cengceng jiama'; Henan after Lushan, Yang 2012 ch. 1); provincial 1958 plans ran ~10% over the centre's (Bo Yibo); calibrated")
    k_province_radicalism: float = P(0.0, 0.0, 30.0, "logit weight of radicalism above neutral (0.5) in the provinces' own additions", "zealous provincial leaders took the largest tasks on their claims: 1959-60 procurement ~0.53 of output in Anhui and ~0.40 in Henan and Gansu against 0.28 in Shaanxi and 0.36 nationally (provincial_procurement_1957_1961.csv, archival); Anhui's province set 80 bn jin against the centre's 78; Kung & Chen 2011 (APSR); 0 at the calibrated point (a 300-trial refit to the procurement shares chose 2.8 and passed 2 more targets at its own seeds but not at fresh ones); the posterior explores it")


class PlanningParams(_Section):
    progressive_eta: float = P(0.5, 0.0, 3.0, "quota elasticity to believed output per head", "DESIGN.md section 8")
    commitment_cover: float = P(1.0, 0.0, 1.0, "share of the state's planned outlays (urban rations, exports net of imports, other use, less stocks above target) the national quota is at least set to cover", "under unified purchase and sale the procurement plan was drawn up from the state's sales plan: cities, army and exports came first (Walker 1984; Bernstein 1984)")
    flexible_quotas: bool = Field(False, description="counterfactual: quotas follow the true harvest (the plan drawn on true output, its rate x actual season output) instead of being fixed in January from believed output (and redrawn on the autumn's reports where the quota_redraw lever says so)")


class ProcurementParams(_Section):
    min_retention_kg: float = P(200.0, 0.0, 400.0, "kg food grain/person/year protected at zero enforcement", "Dikotter 2010: basic ration 13-15 kg a month (156-180 kg/yr) in the 'three fixes'; Anhui 1954 rural standard 245 kg raw grain; rural retention 273 kg (1957), 182 kg (1960) (china_grain_procurement_retention_1952_1966.csv)")
    radical_enforcement_gain: float = P(0.6, 0.0, 3.0, "enforcement x (1 + gain x (radicalism - 0.5))", "Kung & Chen 2011 (APSR): provinces led by alternate Central Committee members procured ~3 points more of output; calibrated")
    collection_share_per_month: float = P(0.5, 0.05, 1.0, "share of a season's outstanding quota collected each month from its harvest on",
                                          "the autumn quota was collected over the winter: by 9-10 December 1959 Anhui had 65 of its 78 yi jin "
                                          "(83% of the grain year's task, summer included), Shandong 70 of 74.7, Shaanxi more than its task "
                                          "(Jinan finance-trade secretaries' bulletins, CCRD 2/6/3/000113-119): about half of what was left each "
                                          "month; 1 = all in the harvest month")
    concealment_max: float = P(0.15, 0.0, 0.6, "share of stock hidden under full pressure",
                               "concealment real but small: peasants 'hid or privately divided a little grain, not as much or as widely as Tao Zhu "
                               "imagined' (Yang 2012, Guangdong); searches began with Mao's 22 Feb 1959 note on Zhao Ziyang's report; estimate")
    urban_levy_share: float = P(0.5, 0.0, 1.0, "share of a commune's stock the state may levy in a month for its province's cities when the granaries cannot supply them",
                                "cities first: urban shortfalls met by transfers from the countryside (grain transport command, 21 Feb 1960: "
                                "Bainianchao 2008(1)); registered CDR towns 9.2 -> 13.8, rural 12.5 -> 28.6 per mille 1958-60 (Lin & Yang 2000); "
                                "estimate")
    commitment_floor_kg: float = P(150.0, 0.0, 400.0, "kg raw grain/person/year the state left a commune to the next harvest when collecting for its commitments (cities, army, exports), whatever the political climate; the floor is the lower of this and the procurement floor", "plausible 100-182: the state fed the cities in every year 1952-66, in the retreat too: procurement never fell below 278 kg per urban resident nor 20% of output, and rural retention was pressed to 182 kg nationally in 1960 and 209 kg in 1961 (china_grain_procurement_retention_1952_1966.csv); the 'three fixes' basic ration 156-180 kg (Dikotter 2010); the procurement plan was drawn from the state's sales plan, cities first (Walker 1984; Bernstein 1984)")
    initial_state_stock_mt: float = P(30.0, 0.0, 100.0, "Mt (raw grain) in the centre's granaries in January 1957", "state stocks before the summer harvest 28.6 Mt (1959) and 19.1 Mt (1960) of trade grain (provincial_grain_panel.csv; Li Xiannian via Yang 2012), raw grain ~15-20% more; calibrated")
    state_stock_target_mt: float = P(22.0, 5.0, 60.0, "Mt (raw grain) the centre keeps before it helps provinces with resales", "Li Xiannian's 'minimum line' of 36 bn jin (18 Mt trade grain) could not be held by June 1959 (Yang 2012); stocks 28.6 Mt (1959), 19.1 Mt (1960) trade grain before the summer harvest; calibrated")
    resale_share: float = P(0.35, 0.0, 1.5, "share of procurement sold back to the province's rural communes", "Shandong resold 1.09, 1.16, 0.89, 1.54, 0.95 x its procurement in 1957-61 (a deficit province; provincial_grain_panel.csv); national share calibrate")
    planned_resale_share: float = P(0.5, 0.0, 1.0, "share of routine resales sold on the fixed plan to structurally deficit communes", "the 'three fixes' of 1955 (fixed sales to deficit areas on normal output); Shandong's resales 1958-60 (provincial_grain_panel.csv); calibrated")
    province_reserve_months: float = P(2.0, 0.0, 12.0, "months of urban rations a province keeps before resales and outflows",
                                       "normal stock not found (2-3 months of sales often quoted (R)); by Sep 1960 stocks of 82 cities < 1/3 of "
                                       "normal (glf_campaign_quantities), big cities down to days (Bainianchao 2008(1); Yang 2012 (R)); estimate")
    outflow_share_per_month: float = P(0.3, 0.0, 1.0, "share of a province's grain above its reserve sent to the centre per month", "calibrate: Sichuan sent 3.96 and 4.9 bn jin in 1958 and 1959 (provincial_grain_panel.csv)")
    radical_outflow_gain: float = P(1.0, 0.0, 3.0, "outflow share x (1 + gain x (radicalism - 0.5))", "zealous leaders met the centre's outflow tasks (Li Jingquan accepted 5.5-6 bn jin for 1959-60); calibrate")
    state_other_use_mt: float = P(6.0, 0.0, 50.0, "Mt/year (army, industry, feed)",
                                  "no breakdown found (Walker 1984 not reached); 1957: procurement 46 Mt less urban rations ~21, resales 9-16, net "
                                  "exports 2 leaves ~7-14 Mt for stocks, army, industry, feed (procurement csv; army ~0.7-0.8 Mt (R)); estimate")
    state_storage_loss_per_month: float = P(0.002, 0.0, 0.05, "share of the state granary lost per month",
                                            "no 1950s figure found; managed central storage loses ~1-3%/yr (FAO-type estimates) (R), state depots "
                                            "now <1% in 3-5 years (NFSRA 2025); grain rotted in transit 1959-60 (Dikotter 2010 ch. 19) (R); estimate")
    relief_share_per_month: float = P(0.3, 0.0, 1.0, "share of a granary's grain above its reserve (the centre: above its target) paid out in resales per month",
                                      "relief slow: ~22 Mt in public granaries at the famine's height, deaths at granary doors in Xinyang (Yang "
                                      "2012); central grain transport command set up 21 Feb 1960 (Bainianchao 2008(1)); calibrated within 0.05-0.6")


class CanteenParams(_Section):
    free_eating_ratio: float = P(1.25, 1.0, 3.0, "intake/need during free eating", "'eating freely' was reckoned at ~500 jin (250 kg) of grain per person-year (Luo Pinghan 2007), ~1.4-1.6x a 156-180 kg basic ration (Dikotter 2010); autumn 1958")
    household_max_ratio: float = P(1.15, 1.0, 3.0, "max intake/need in household eating",
                                   "no direct measure; rural retention was 284 kg (1956) and 273 kg (1957) raw grain a head incl. seed and feed "
                                   "(china_grain_procurement_retention csv), ~1.3-1.5x the 156-180 kg basic ration (Dikotter 2010); estimate")
    canteen_waste: float = P(0.05, 0.0, 0.5, "share of canteen grain wasted",
                             "no measured share; canteens 'wasted fuel and grain' (Mao's 1961 investigations, Luo Pinghan 2001); the over-eating of "
                             "autumn 1958 is in free_eating_ratio (Chang & Wen 1997, EDCC 46:1-34) (R); estimate")
    weight_cadre: float = P(1.3, 0.5, 3.0, "ration weight in canteens",
                            "cadre privilege: cadres, kin and cooks 'ate more'; in Bozhou (Anhui) ~1/3 of canteen grain went to cadres when peasants "
                            "got 2-3 liang a day (county record, attributed to Liang Zhiyuan); Dikotter 2010 ch. 22; Luo Pinghan 2001; estimate")
    weight_black_element: float = P(0.8, 0.1, 1.5, "ration weight in canteens",
                                    "black elements 'given the lowest priority in the allocation of food' and 'died in the greatest numbers' "
                                    "(Valentino 2004, via Wikipedia); meals docked as punishment (Bozhou record); no numeric figure found; estimate")
    weight_non_worker: float = P(0.85, 0.1, 1.5, "ration weight of adults not working",
                                 "rations graded by work: 'eat more when busy, less when idle' (saying attributed to Mao); meals docked for sick "
                                 "leave or less work (Bozhou record); a 0.5 jin/day labour supplement on 6-7 liang (memoir) implies ~0.6; estimate")
    household_weight_damping: float = P(0.0, 0.0, 1.0, "share of the canteen weight gap kept in household eating (0 = shared by need)",
                                        "no measure found; within households grain was shared by need with some priority to working adults (excess "
                                        "deaths concentrated in the old and young: Ashton et al. 1984 (R)); estimate")


class MigrationParams(_Section):
    escape_rate: float = P(0.02, 0.0, 0.5, "monthly attempts at full depletion", "~3 M rural workers left their villages in 2-3 months of early 1959 from 10 provinces, >25 M left the countryside 1958-60 (Dikotter 2010, ch. 27): ~0.2-0.3% of the rural population a month; calibrate")
    escape_success_free: float = P(0.9, 0.0, 1.0, "success probability with no hukou enforcement",
                                   "with controls brushed aside >15 M farmers moved to the cities in 1958 (Dikotter 2010 ch. 27); >25 M left the "
                                   "countryside 1958-60, >12 M of them recruited by the state (Zhao Rukun 2015); estimate")
    escape_success_enforced: float = P(0.1, 0.0, 1.0, "success probability under full hukou enforcement",
                                       "Shanghai sent back 250,000 farmers after the Feb-Mar 1959 State Council directives (Dikotter 2010 ch. 27), "
                                       "yet 'blind flow' was ~6 M person-times in 1960 (MPS/MIA report, Nov 1961); Pi Xuejun 2009; estimate")


class RegistrationParams(_Section):
    death_completeness: dict[int, float] = Field(
        default_factory=lambda: {1957: 0.597, 1958: 0.579, 1959: 0.66, 1960: 0.57, 1961: 0.619, 1962: 0.716,
                                 1963: 0.728, 1964: 0.92, 1965: 0.819, 1966: 0.795},
        description="share of deaths registered by year (1 - Banister 1984 implied under-registration)")
    birth_completeness: dict[int, float] = Field(
        default_factory=lambda: {1957: 0.786, 1958: 0.773, 1959: 0.869, 1960: 0.778, 1961: 0.804, 1962: 0.903,
                                 1963: 0.871, 1964: 0.971, 1965: 0.971, 1966: 0.881},
        description="share of births registered by year (1 - Banister 1984 implied under-registration)")
    famine_death_penalty: float = P(0.1, 0.0, 1.0, "completeness lost at full depletion", "Banister 1984, Table 5: death registration 0.60, 0.58, 0.66, 0.57, 0.62 complete in 1957-61, a famine dip of at most ~3 points; the UN reconstruction shows none; calibrated within 0-0.1")
    urban_death_completeness: float = P(0.95, 0.05, 1.0, "share of urban deaths registered (at least the year's rural completeness)",
                                        "urban registers nearly complete (Banister 1984; Coale 1984); registered CDR towns 9.2 -> 13.8, rural 12.5 "
                                        "-> 28.6 per mille 1958-60 (Xin Yi & Ge Ling 2008) fit 0.95; some hidden for rations (Becker 1996); estimate")
    urban_birth_completeness: float = P(0.95, 0.05, 1.0, "share of urban births registered (at least the year's rural completeness)",
                                        "no urban figure found; national birth under-registration 21-23% in 1957-60, 3% by 1964 (Banister 1984, "
                                        "Table 5); urban births brought hukou and a grain ration, an incentive to register (Dikotter 2010); estimate")
    ghost_removal_per_year: float = P(0.0, 0.0, 1.0, "share of ghosts (unregistered dead, absentees) struck off the register per year",
                                      "dead kept on registers to draw rations (Becker 1996), head counts inflated for rations (Wikipedia GLF); "
                                      "registers reset by the 1964 census; some purging after canteens closed in 1961 possible (R); estimate")
    late_registration_per_year: float = P(0.0, 0.0, 1.0, "share of the living missing from the register (births not registered, people who fled) put on it per year",
                                          "a child missed at birth went on the register later (a grain ration, work points, school), the 1964 census "
                                          "put the rest on (Banister 1984: 1964 births 0.97 registered); no rate found; calibrate")
    census: list[str] = Field(default_factory=list,
                              description="months (YYYY-MM) of a census that reconciles the registers with the count: every living person "
                                          "on the register where they live, every ghost struck off (the 2nd national census, 1 July 1964: '1964-07')")
    population_inflation: float = P(0.0, 0.0, 0.3, "share by which communes' reported head counts exceed truth (registered population and relief claims)", "ration-seeking inflation (DESIGN item 14); calibrate")

    @field_validator("census", mode="before")
    @classmethod
    def _census_months(cls, v: Any) -> Any:
        if not isinstance(v, list) or not all(isinstance(m, str) for m in v):
            raise PydanticCustomError("census_months", "not a list of months; allowed: a list such as [\"1964-07\"]")
        for month in v:
            if not parse_month(RUN_MONTHS[0]) <= parse_month(month) <= parse_month(RUN_MONTHS[1]):
                raise ValueError(f"census month {month!r} outside the data; allowed: {RUN_MONTHS[0]} .. {RUN_MONTHS[1]}")
        return v

    @field_validator("death_completeness", "birth_completeness")
    @classmethod
    def _shares(cls, v: dict[int, float]) -> dict[int, float]:
        for year, share in v.items():
            if not 0.05 <= share <= 1.0:
                raise ValueError(f"year {year}: completeness {share!r} outside allowed 0.05..1.0")
        return v


class Event(_Section):
    lever: str = Field(description="name of a policy lever (see greatleap.levers.LEVERS)")
    start: str = Field(description="YYYY-MM")
    end: str | None = Field(None, description="YYYY-MM inclusive; omitted = to the end of the run")
    value: float = Field(description="lever value while the event lasts")
    where: str | None = Field(None, description="a province (one of the provincial units: data/provinces_1958.csv); omitted = every province")
    note: str = ""
    source: str = ""

    @field_validator("lever")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in LEVERS:
            raise ValueError(f"unknown lever {v!r}; allowed: {', '.join(sorted(LEVERS))}")
        return v

    @field_validator("start", "end")
    @classmethod
    def _month(cls, v: str | None) -> str | None:
        if v is not None and parse_month(v) > parse_month(RUN_MONTHS[1]):
            raise ValueError(f"after the last month a run can reach; allowed: up to {RUN_MONTHS[1]}")
        return v

    @model_validator(mode="after")
    def _check(self) -> "Event":
        if self.end is not None and parse_month(self.end) < parse_month(self.start):
            raise ValueError(f"end {self.end!r} is before start {self.start!r}; allowed: end >= start")
        if self.where is not None:
            from greatleap.data import provinces
            names = list(provinces().province)
            if self.where not in names:
                raise ValueError(f"where = {self.where!r}: not a province; allowed: {', '.join(names)}")
            if LEVERS[self.lever].scope == "national":
                raise ValueError(f"lever {self.lever!r} is set by the centre for the whole country; allowed: no 'where'")
        lo, hi = LEVERS[self.lever].lo, LEVERS[self.lever].hi
        if not lo <= self.value <= hi:
            raise ValueError(f"value {self.value!r} for lever {self.lever!r} outside allowed {lo} .. {hi} ({LEVERS[self.lever].unit})")
        return self


class CalibrationParameter(_Section):
    key: str = Field(description="dotted parameter (section.name) or lever:NAME@YYYY-MM (an event's value)")
    low: float
    high: float
    log: bool = False
    note: str = Field("", description="the literature range or reasoning behind the bounds")

    @model_validator(mode="after")
    def _bounds(self) -> "CalibrationParameter":
        if not self.low < self.high:
            raise ValueError(f"low {self.low} must be below high {self.high}; allowed: low < high")
        if self.log and self.low <= 0:
            raise ValueError(f"log = true needs low > 0, got low {self.low}; allowed: positive bounds")
        return self


class CalibrationConfig(_Section):
    parameters: list[CalibrationParameter] = Field(default_factory=list)


class Scenario(_Section):
    name: str = "unnamed"
    description: str = ""
    extends: str | None = None
    run: RunConfig = Field(default_factory=RunConfig)
    population: PopulationParams = Field(default_factory=PopulationParams)
    nutrition: NutritionParams = Field(default_factory=NutritionParams)
    mortality: MortalityParams = Field(default_factory=MortalityParams)
    violence: ViolenceParams = Field(default_factory=ViolenceParams)
    fertility: FertilityParams = Field(default_factory=FertilityParams)
    agriculture: AgricultureParams = Field(default_factory=AgricultureParams)
    livestock: LivestockParams = Field(default_factory=LivestockParams)
    industry: IndustryParams = Field(default_factory=IndustryParams)
    reporting: ReportingParams = Field(default_factory=ReportingParams)
    planning: PlanningParams = Field(default_factory=PlanningParams)
    procurement: ProcurementParams = Field(default_factory=ProcurementParams)
    canteens: CanteenParams = Field(default_factory=CanteenParams)
    migration: MigrationParams = Field(default_factory=MigrationParams)
    registration: RegistrationParams = Field(default_factory=RegistrationParams)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    events: list[Event] = Field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
