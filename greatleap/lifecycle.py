"""One person's month, as the mechanisms' rules compose it: written once, run by every backend.

The backends loop over people (in parallel chunks on the CPU, one thread per person on a GPU),
draw nothing and decide nothing themselves: for each person they call
:func:`census_person` (activity, recruitment or send-down, need and ration weight) and later
:func:`live_person` (eating, reserve, death, pregnancy, flight, ageing), and add up what these
return. Births into free slots call :func:`newborn`. Every decision draws from the person's own
counter-based stream (:mod:`greatleap.streams`), so the outcome does not depend on the backend,
the thread count or the processing order.

Inputs travel in a few named tuples: the people's columns (``People``), the month's place and
province inputs of each pass (``CensusInputs``, ``LiveInputs``), per-member tables (``Tables``)
and the parameter record of the member (``par``, see :mod:`greatleap.params`).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from greatleap.curves import interpolate
from greatleap.mechanisms.canteens import ration_weight, weighted_grain_need
from greatleap.mechanisms.classes import newborn_class
from greatleap.mechanisms.demography import age_group, mother_present, newborn_sex, newborn_uid, person_uid
from greatleap.mechanisms.fertility import GESTATION, conception_probability, fetal_loss_probability
from greatleap.mechanisms.labor import FARM, NONE, URBAN_WORK, rural_activity, working_age
from greatleap.mechanisms.migration import (FLIGHT_CANDIDATES, flight_probability, moves_this_month, newborn_hukou,
                                            send_down_place)
from greatleap.mechanisms.mortality import NURSING_AGE, cause_of_death, death_probability, famine_hazard, frailty
from greatleap.mechanisms.nutrition import (NEWBORN_RESERVE, intake, intake_ratio_of, need, reserve_after, reserve_share,
                                            stored_intake, stored_reserve)
from greatleap.mechanisms.registration import GHOST, REGISTERED, death_on_register, registered_late
from greatleap.mechanisms.violence import violence_hazard
from greatleap.rules import person_step
from greatleap.streams import (ESCAPE_CANDIDATE_STRIDE, STREAM_BIRTH_REGISTERED, STREAM_CONCEPTION, STREAM_DEATH,
                               STREAM_DEATH_CAUSE, STREAM_DEATH_REGISTERED, STREAM_DESTINATION, STREAM_ESCAPE,
                               STREAM_ESCAPE_DESTINATION, STREAM_ESCAPE_SUCCESS, STREAM_FETAL_LOSS, STREAM_LABOR,
                               uniform)
from greatleap.traits import ACTIVITY, HUKOU, KLASS, ON_REGISTER, SEX, code_of, traits_of, with_code

# status bits a person's month leaves for the births pass and the tallies
DEATH_MASK, REGISTERED_DEATH, GIVES_BIRTH, ESCAPED, GHOST_DEATH, ABSENTEE = 3, 4, 8, 16, 32, 64

People = namedtuple("People", "alive age_m traits place reserve reserve_start intake_ratio preg mother status")
CensusInputs = namedtuple("CensusInputs", "seed step place_province province_city province_first_commune "
                                          "province_n_communes furnace_share water_share recruitment senddown "
                                          "nongrain_share canteen_share late_registration")
LiveInputs = namedtuple("LiveInputs", "seed step n_communes place_province place_is_city nongrain_share canteen_share "
                                      "ration_ratio violence_pressure hazard_decline fertility_multiplier "
                                      "death_completeness escape_success mortality_level")
BirthInputs = namedtuple("BirthInputs", "seed step birth_completeness")
Tables = namedtuple("Tables", "need activity_extra capacity base_hazard conception amenorrhoea work_capacity hunger_beta "
                               "frailty")
# The scalars a pass reads for every person, copied once per chunk out of the parameter record and
# the month's inputs: kept in registers, not reloaded from memory after every write to a column.
CensusScalars = namedtuple("CensusScalars", "seed step weight_cadre weight_black_element weight_non_worker "
                                            "household_damping late_registration")
LiveScalars = namedtuple("LiveScalars", "seed step kcal_per_kg substitute_kcal adaptation recovery urban_mortality "
                                        "orphan_multiplier gamma starvation_hazard starvation_threshold violence_rate "
                                        "black_element_factor famine_death_penalty fetal_loss_hunger postpartum_months "
                                        "urban_fertility intake_weight escape_rate weight_cadre weight_black_element "
                                        "weight_non_worker household_damping hazard_decline")


@person_step
def census_scalars(m, C, par):
    """The census pass's per-member scalars (see ``CensusScalars``)."""
    return CensusScalars(C.seed[m], C.step, par.canteens_weight_cadre, par.canteens_weight_black_element,
                         par.canteens_weight_non_worker, par.canteens_household_weight_damping, C.late_registration[m])


@person_step
def live_scalars(m, L, par):
    """The person pass's per-member scalars (see ``LiveScalars``)."""
    return LiveScalars(L.seed[m], L.step, par.nutrition_kcal_per_kg_grain, par.nutrition_famine_substitute_kcal,
                       par.nutrition_metabolic_adaptation, par.nutrition_recovery_efficiency,
                       par.population_urban_mortality_factor, par.mortality_orphan_infant_multiplier,
                       par.mortality_hunger_gamma, par.mortality_starvation_hazard, par.mortality_starvation_threshold,
                       par.violence_rate, par.violence_black_element_factor, par.registration_famine_death_penalty,
                       par.fertility_fetal_loss_hunger, par.fertility_postpartum_months,
                       par.population_urban_fertility_factor, par.fertility_intake_weight, par.migration_escape_rate,
                       par.canteens_weight_cadre, par.canteens_weight_black_element, par.canteens_weight_non_worker,
                       par.canteens_household_weight_damping, L.hazard_decline[m])


@person_step
def census_person(m, i, P, C, q, T):
    """Assign the month's activity (and any move) to person ``i`` of member ``m``.

    Returns (place before, place after, activity, work capacity, weighted grain need kcal/day).
    """
    seed, step, uid = q.seed, q.step, person_uid(i, P.mother[m, i], P.age_m[m, i], q.step)
    age_y = P.age_m[m, i] // 12
    before = P.place[m, i]
    t = P.traits[m, i]  # sex, hukou, registered, class, activity (greatleap.traits)
    if registered_late(code_of(t, ON_REGISTER), q.late_registration, seed, step, uid):
        t = with_code(t, ON_REGISTER, 1)
    if not working_age(age_y):
        t = with_code(t, ACTIVITY, NONE)
    else:
        p = np.uint64(C.place_province[before])  # unsigned indices: no negative-index wraparound
        if code_of(t, HUKOU) == 0:
            if moves_this_month(C.recruitment[m, p], seed, step, uid):
                P.place[m, i] = C.province_city[p]
                t = with_code(with_code(t, HUKOU, 1), ACTIVITY, URBAN_WORK)
            else:
                furnace, water = C.furnace_share[m, p], C.water_share[m, p]
                # no campaign this month: everyone farms, and the draw (which could not change that) is skipped
                work = rural_activity(uniform(seed, STREAM_LABOR, step, uid), furnace, water) if furnace + water > 0.0 \
                    else FARM
                t = with_code(t, ACTIVITY, work)
        elif moves_this_month(C.senddown[m, p], seed, step, uid):
            P.place[m, i] = send_down_place(uniform(seed, STREAM_DESTINATION, step, uid),
                                            C.province_first_commune[p], C.province_n_communes[p])
            t = with_code(with_code(t, HUKOU, 0), ACTIVITY, FARM)
        else:
            t = with_code(t, ACTIVITY, URBAN_WORK)
    P.traits[m, i] = t
    after = P.place[m, i]
    act = code_of(t, ACTIVITY)
    capacity = 0.0
    if act != NONE and act != URBAN_WORK:
        capacity = interpolate(T.work_capacity, m, intake_ratio_of(P.intake_ratio[m, i]))
    need_kcal = need(code_of(t, SEX), age_y, T.need, T.activity_extra[m, act])
    w = ration_weight(code_of(t, KLASS), age_y, act, C.canteen_share[m, after], q.weight_cadre, q.weight_black_element,
                      q.weight_non_worker, q.household_damping)
    return before, after, act, capacity, weighted_grain_need(w, need_kcal, C.nongrain_share[m, after])


@person_step
def live_person(m, i, P, L, q, T):
    """One month of person ``i``'s life: eat, gain or lose reserve, maybe die, conceive, give birth, flee; age.

    Returns (place at the start, grain eaten kg, status bits, age group, place after any flight).
    ``alive`` is left for the births pass, so a mother's state is read consistently.
    """
    seed, step, uid = q.seed, q.step, person_uid(i, P.mother[m, i], P.age_m[m, i], q.step)
    c = P.place[m, i]
    age_y = P.age_m[m, i] // 12
    a = np.uint64(min(age_y, 110))  # unsigned indices: no negative-index wraparound
    t = P.traits[m, i]
    s, act, klass, hukou = np.uint64(code_of(t, SEX)), code_of(t, ACTIVITY), code_of(t, KLASS), code_of(t, HUKOU)
    is_city = L.place_is_city[c]
    need_kcal = need(s, age_y, T.need, T.activity_extra[m, act])
    w = ration_weight(klass, age_y, act, L.canteen_share[m, c], q.weight_cadre, q.weight_black_element,
                      q.weight_non_worker, q.household_damping)
    grain_kcal = weighted_grain_need(w, need_kcal, L.nongrain_share[m, c]) * L.ration_ratio[m, c]
    eaten_kg = grain_kcal * 30.0 / q.kcal_per_kg
    reserve0 = reserve_share(P.reserve_start[m, i])
    kcal = intake(need_kcal, L.nongrain_share[m, c], grain_kcal, q.substitute_kcal, 1.0 - reserve0,
                  is_city)
    P.intake_ratio[m, i] = stored_intake(kcal / need_kcal)
    r = reserve_after(reserve0, kcal, need_kcal, T.capacity[m, s, a], q.adaptation, q.recovery)
    P.reserve[m, i] = stored_reserve(r)
    d = 1.0 - r
    m0 = T.base_hazard[m, s, a] * q.hazard_decline
    if is_city == 1:
        m0 *= q.urban_mortality
    g = age_group(age_y)
    if age_y < NURSING_AGE and P.mother[m, i] >= 0:
        mo = P.mother[m, i]
        if mother_present(P.alive[m, mo], P.age_m[m, mo], P.age_m[m, i]):
            d = max(d, 1.0 - reserve_share(P.reserve_start[m, mo]))  # a nursing child shares its mother's hunger
        else:
            m0 *= q.orphan_multiplier
    natural = m0 / 12.0
    z = frailty(seed, uid, T.frailty[m])
    famine = famine_hazard(natural, T.hunger_beta[m, g], q.gamma, d, q.starvation_hazard,
                           q.starvation_threshold) * z
    natural *= L.mortality_level[m, c] * z  # the province's ordinary causes; hunger's hazard follows the nation's
    violent = violence_hazard(hukou, age_y, klass, L.violence_pressure[m, c], q.violence_rate,
                              q.black_element_factor)
    total = natural + famine + violent
    # death_probability(total) <= total, so a draw at or above the hazard survives without the exp:
    # the same decision, and most people (hazard ~1e-3 a month) skip the exact probability
    u = uniform(seed, STREAM_DEATH, step, uid)
    if u < total and u < death_probability(total):
        status = cause_of_death(uniform(seed, STREAM_DEATH_CAUSE, step, uid) * total, natural, famine)
        book = death_on_register(code_of(t, ON_REGISTER), uniform(seed, STREAM_DEATH_REGISTERED, step, uid),
                                 L.death_completeness[m, c], q.famine_death_penalty, d)
        if book == REGISTERED:
            status |= REGISTERED_DEATH
        elif book == GHOST:
            status |= GHOST_DEATH
        return c, eaten_kg, status, g, c
    status = 0
    preg = P.preg[m, i]
    if preg > 0:  # pregnancy; famine raises fetal loss
        if uniform(seed, STREAM_FETAL_LOSS, step, uid) < fetal_loss_probability(q.fetal_loss_hunger, d):
            P.preg[m, i] = 0
        else:
            P.preg[m, i] = preg + 1
            if preg + 1 > GESTATION:
                status |= GIVES_BIRTH
                P.preg[m, i] = -q.postpartum_months
    elif preg < 0:
        P.preg[m, i] = preg + 1
    elif s == 1:
        p = conception_probability(T.conception[m, a], L.fertility_multiplier[m, c], is_city,
                                   q.urban_fertility, d, q.intake_weight,
                                   intake_ratio_of(P.intake_ratio[m, i]), T.amenorrhoea, m)
        if p > 0.0 and uniform(seed, STREAM_CONCEPTION, step, uid) < p:
            P.preg[m, i] = 1
    dest = c
    attempt = flight_probability(hukou, d, q.escape_rate)
    if attempt > 0.0 and uniform(seed, STREAM_ESCAPE, step, uid) < attempt:
        if uniform(seed, STREAM_ESCAPE_SUCCESS, step, uid) < L.escape_success[m, L.place_province[c]]:
            best_ratio = L.ration_ratio[m, c]
            for k in range(FLIGHT_CANDIDATES):
                v = uniform(seed, STREAM_ESCAPE_DESTINATION + ESCAPE_CANDIDATE_STRIDE * k, step, uid)
                cand = min(int(v * L.n_communes), L.n_communes - 1)
                if L.ration_ratio[m, cand] > best_ratio:
                    dest = cand
                    best_ratio = L.ration_ratio[m, cand]
            if dest != c:
                P.place[m, i] = dest
                status |= ESCAPED
                if code_of(t, ON_REGISTER) == 1:  # still counted at home, on no register where they went
                    P.traits[m, i] = with_code(t, ON_REGISTER, 0)
                    status |= ABSENTEE
    P.age_m[m, i] += 1
    return c, eaten_kg, status, g, dest


@person_step
def newborn(m, slot, mother, P, B, male_probability):
    """Fill a free ``slot`` with the child of ``mother``; returns 1 if the birth is registered."""
    uid = newborn_uid(mother, B.step)
    P.alive[m, slot] = 1
    P.age_m[m, slot] = 0
    P.place[m, slot] = P.place[m, mother]
    P.reserve[m, slot] = stored_reserve(NEWBORN_RESERVE)
    P.intake_ratio[m, slot] = stored_intake(1.0)
    P.preg[m, slot] = 0
    P.mother[m, slot] = mother
    registered = 1 if uniform(B.seed[m], STREAM_BIRTH_REGISTERED, B.step, uid) < B.birth_completeness[m, P.place[m, mother]] \
        else 0
    mt = P.traits[m, mother]
    P.traits[m, slot] = traits_of(newborn_sex(B.seed[m], B.step, uid, male_probability), newborn_hukou(code_of(mt, HUKOU)),
                                  registered, newborn_class(code_of(mt, KLASS)), NONE)
    return registered
