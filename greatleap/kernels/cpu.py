"""CPU backend: the compiled person-level kernels (Numba) and the counter-based random numbers.

All backend-specific code lives here; the mechanism modules compute place-level quantities
with NumPy and hand the per-person work to these kernels. A GPU backend provides the same
functions with the same signatures.

Random numbers are counter-based: ``uniform(seed, stream, step, uid)`` hashes its four
arguments (SplitMix64 finaliser), so a draw depends only on who (the person's unique id), when
(step), why (the named stream) and the run seed - never on thread count or processing order.
Elementwise passes run in parallel (``prange``); passes that sum floats or allocate slots run
serially in index order, so results are bit-identical for any ``NUMBA_NUM_THREADS``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# ---------------------------------------------------------------- random streams
STREAM_LABOR, STREAM_RECRUIT, STREAM_DEST = 1, 2, 3
STREAM_DEATH, STREAM_CAUSE, STREAM_REG_DEATH = 4, 5, 6
STREAM_CONCEIVE, STREAM_FETAL, STREAM_REG_BIRTH, STREAM_SEX = 7, 8, 9, 10
STREAM_ESCAPE, STREAM_ESCAPE_OK, STREAM_ESCAPE_DEST = 11, 12, 13

_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xBF58476D1CE4E5B9)
_K3 = np.uint64(0x94D049BB133111EB)
_K4 = np.uint64(0xD6E8FEB86659FD93)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0

# activity codes
NONE, FARM, FURNACE, WATERWORKS, URBAN_WORK = 0, 1, 2, 3, 4
# status bits written by person_month
DIED_NATURAL, DIED_FAMINE, DIED_VIOLENCE = 1, 2, 3
DEATH_MASK, REGISTERED_DEATH, GIVES_BIRTH, ESCAPED = 3, 4, 8, 16
N_AGE_GROUPS = 5  # 0, 1-4, 5-14, 15-59, 60+


@njit(inline="always", cache=True)
def _mix(x):
    x = (x ^ (x >> _S30)) * _K2
    x = (x ^ (x >> _S27)) * _K3
    return x ^ (x >> _S31)


@njit(inline="always", cache=True)
def uniform(seed, stream, step, uid):
    """A uniform number in [0, 1) from (seed, stream, step, uid)."""
    x = _mix(np.uint64(seed) * _K1 + np.uint64(stream) * _K4)
    x = _mix(x ^ (np.uint64(step) * _K2))
    x = _mix(x ^ (np.uint64(uid) * _K3))
    return float(x >> _S11) * _INV53


@njit(cache=True)
def uniform_array(seed, stream, step, uids):
    out = np.empty(uids.shape[0])
    for i in range(uids.shape[0]):
        out[i] = uniform(seed, stream, step, uids[i])
    return out


@njit(inline="always", cache=True)
def age_group(age_years):
    if age_years < 1:
        return 0
    if age_years < 5:
        return 1
    if age_years < 15:
        return 2
    if age_years < 60:
        return 3
    return 4


# ---------------------------------------------------------------- per-person rules (inlined)
@njit(inline="always", cache=True)
def person_need(sex, age_y, activity, need_table, extra_by_activity):
    return need_table[sex, min(age_y, 110)] + extra_by_activity[activity]


@njit(inline="always", cache=True)
def ration_weight(klass, age_y, activity, canteen_share, w_cadre, w_black, w_non_worker, damping):
    """Relative ration weight: canteen rules weighted by the canteen share, household rules otherwise."""
    w = 1.0
    if klass == 1:
        w = w_cadre
    elif klass == 2:
        w = w_black
    if age_y >= 15 and activity == NONE:
        w *= w_non_worker
    return canteen_share * w + (1.0 - canteen_share) * (1.0 + damping * (w - 1.0))


@njit(inline="always", cache=True)
def assign_activity(i, age_y, hukou, place, activity, uid, seed, step, furnace_share, water_share,
                    recruit_rate, senddown_rate, place_province, province_city, province_first_commune,
                    province_n_communes):
    """A person's activity this month; recruitment to the province's city or send-down to a commune.

    Rural working-age (15-59) people farm, or are drawn to furnaces / water works by the month's
    shares; a share ``recruit_rate`` is recruited to town (urban hukou). Urban working-age people
    work in town, or are sent down (``senddown_rate``) to a random commune of their province.
    """
    if age_y < 15 or age_y >= 60:
        activity[i] = NONE
        return
    p = place_province[place[i]]
    if hukou[i] == 0:
        if recruit_rate > 0.0 and uniform(seed, STREAM_RECRUIT, step, uid[i]) < recruit_rate:
            place[i] = province_city[p]
            hukou[i] = 1
            activity[i] = URBAN_WORK
            return
        u = uniform(seed, STREAM_LABOR, step, uid[i])
        if u < furnace_share:
            activity[i] = FURNACE
        elif u < furnace_share + water_share:
            activity[i] = WATERWORKS
        else:
            activity[i] = FARM
    elif senddown_rate > 0.0 and uniform(seed, STREAM_RECRUIT, step, uid[i]) < senddown_rate:
        k = int(uniform(seed, STREAM_DEST, step, uid[i]) * province_n_communes[p])
        place[i] = province_first_commune[p] + min(k, province_n_communes[p] - 1)
        hukou[i] = 0
        activity[i] = FARM
    else:
        activity[i] = URBAN_WORK


@njit(inline="always", cache=True)
def famine_hazard(natural, beta, gamma, depletion, starvation_hazard, starvation_threshold):
    """Monthly hazard added by hunger: natural x beta x depletion^gamma, plus starvation near exhaustion."""
    dg = depletion * depletion if gamma == 2.0 else depletion ** gamma
    h = natural * beta * dg
    if depletion > starvation_threshold:
        x = (depletion - starvation_threshold) / (1.0 - starvation_threshold)
        h += starvation_hazard * x * x
    return h


@njit(inline="always", cache=True)
def fertility_factor(depletion, zero_depletion, exponent):
    """Share of normal conception probability left at a given depletion (famine amenorrhoea)."""
    return max(0.0, 1.0 - depletion / zero_depletion) ** exponent


TABLE_SIZE = 1024  # resolution of the lookup tables of smooth functions of a 0..1 argument


def lookup_table(fn) -> np.ndarray:
    """Tabulate ``fn`` on [0, 1] (TABLE_SIZE + 1 points) for cheap interpolation in the kernels."""
    return np.array([fn(k / TABLE_SIZE) for k in range(TABLE_SIZE + 1)], dtype=np.float64)


@njit(inline="always", cache=True)
def interpolate(table, x):
    """Linear interpolation in a table made by ``lookup_table``; x is clipped to [0, 1]."""
    x = min(1.0, max(0.0, x)) * TABLE_SIZE
    k = min(int(x), TABLE_SIZE - 1)
    return table[k] + (x - k) * (table[k + 1] - table[k])


@njit(inline="always", cache=True)
def death_probability(total):
    """1 - exp(-total), with a series for the small hazards of most people (error < 1e-10)."""
    if total < 1e-3:
        return total * (1.0 - total * (0.5 - total / 6.0))
    return 1.0 - math.exp(-total)


@njit(cache=True)
def famine_hazard_array(natural, beta, gamma, depletion, starvation_hazard, starvation_threshold):
    out = np.empty(depletion.shape[0])
    for i in range(depletion.shape[0]):
        out[i] = famine_hazard(natural, beta, gamma, depletion[i], starvation_hazard, starvation_threshold)
    return out


@njit(cache=True)
def fertility_factor_array(depletion, zero_depletion, exponent):
    out = np.empty(depletion.shape[0])
    for i in range(depletion.shape[0]):
        out[i] = fertility_factor(depletion[i], zero_depletion, exponent)
    return out


# Reductions run in parallel over a FIXED number of chunks (not threads); each chunk sums
# into its own row and rows are added in chunk order, so float sums do not depend on threads.
N_CHUNKS = 16


@njit(inline="always", cache=True)
def _chunk(c, n):
    return (c * n) // N_CHUNKS, ((c + 1) * n) // N_CHUNKS


@njit(cache=True)
def sum_chunks(per_chunk):
    """Add the per-chunk rows (first axis) in chunk order: the same float sums on any thread count."""
    total = per_chunk[0].copy()
    for c in range(1, per_chunk.shape[0]):
        total += per_chunk[c]
    return total


@njit(parallel=True, cache=True, error_model="numpy")
def labor_and_census(alive, age_m, sex, place, hukou, klass, activity, intake_ratio, reserve, uid, seed, step,
                     furnace_share, water_share, recruit_rate, senddown_rate, place_province, province_city,
                     province_first_commune, province_n_communes, n_places,
                     need_table, extra_by_activity, nongrain_share, canteen_share_by_place,
                     w_cadre, w_black, w_non_worker, damping, work_capacity_table, want_pyramid):
    """Assign the month's activities and moves, then count people, labor and needs per place.

    Returns per place: population, working people, effective farm/furnace/water-works labor
    (work capacity e = min(1, intake/need)^theta, from a lookup table), weighted daily grain need (kcal/day), people
    who moved in and out, summed reserve; and the national age-sex pyramid (0..100) if requested.
    """
    n = alive.shape[0]
    ints = np.zeros((N_CHUNKS, 4, n_places), np.int64)     # pop, working, moved in, moved out
    floats = np.zeros((N_CHUNKS, 5, n_places))             # farm, furnace, water, weighted need, reserve
    pyr = np.zeros((N_CHUNKS, 2, 101), np.int64)
    for c in prange(N_CHUNKS):
        lo, hi = _chunk(c, n)
        for i in range(lo, hi):
            if alive[i] == 0:
                continue
            age_y = age_m[i] // 12
            before = place[i]
            assign_activity(i, age_y, hukou, place, activity, uid, seed, step, furnace_share, water_share,
                            recruit_rate, senddown_rate, place_province, province_city, province_first_commune,
                            province_n_communes)
            pl = place[i]
            ints[c, 0, pl] += 1
            if before != pl:
                ints[c, 2, pl] += 1
                ints[c, 3, before] += 1
            if want_pyramid:
                pyr[c, sex[i], min(age_y, 100)] += 1
            act = activity[i]
            if act != NONE:
                ints[c, 1, pl] += 1
                if act != URBAN_WORK:
                    floats[c, act - 1, pl] += interpolate(work_capacity_table, intake_ratio[i])  # FARM=1, FURNACE=2, WATERWORKS=3
            need = person_need(sex[i], age_y, act, need_table, extra_by_activity)
            w = ration_weight(klass[i], age_y, act, canteen_share_by_place[pl], w_cadre, w_black, w_non_worker, damping)
            floats[c, 3, pl] += w * need * (1.0 - nongrain_share[pl])
            floats[c, 4, pl] += reserve[i]
    ti, tf, tp = sum_chunks(ints), sum_chunks(floats), sum_chunks(pyr)
    return ti[0], ti[1], tf[0], tf[1], tf[2], tf[3], ti[2], ti[3], tf[4], tp


@njit(parallel=True, cache=True, error_model="numpy")
def person_month(alive, age_m, sex, place, hukou, klass, activity, reserve, reserve_start, intake_ratio,
                 preg, mother, mother_uid, uid, status, seed, step, n_places,
                 ration_ratio, nongrain_share, canteen_share_by_place, place_is_city, violence_pressure,
                 need_table, extra_by_activity, capacity_table, base_hazard, conception_table,
                 kcal_per_kg, famine_substitute_kcal, recovery_efficiency, metabolic_adaptation,
                 w_cadre, w_black, w_non_worker, damping,
                 beta_by_group, gamma, starvation_hazard, starvation_threshold, orphan_multiplier,
                 violence_rate, black_violence_factor, urban_mortality_factor, urban_fertility_factor,
                 fertility_multiplier,
                 death_completeness, famine_death_penalty,
                 fertility_table, fertility_intake_weight, postpartum_months, fetal_loss_hunger,
                 escape_rate, escape_success, n_communes):
    """One month of every person's life, with the month's tallies per place.

    Each person eats, gains or loses reserve, may die, conceive, give birth, flee, and ages.
    Intake (kcal/day) = non-grain share of need + weight x grain need x the place's ration ratio
    + famine substitutes. Reserve (share of capacity) changes by
    30 x (intake - need x (1 - adaptation x depletion)) / capacity, surplus stored with
    ``recovery_efficiency`` (a depleted body needs less, so mild deficits settle at a lower reserve).
    Monthly death hazard h = m0/12 x (1 + beta_age x depletion^gamma) + starvation + violence;
    a nursing child (< 2) shares its mother's depletion. Writes ``status`` bits (death cause,
    registered, gives birth, escaped); ``alive`` is left for ``finish_month`` so that a mother's
    state is read consistently. Returns per place: grain eaten (kg per agent), deaths, registered
    deaths, deaths by cause, escapes in and out; and national deaths by age group, class, sector, cause.
    """
    n = alive.shape[0]
    ints = np.zeros((N_CHUNKS, 7, n_places), np.int64)  # deaths, registered, 3 causes, escapes in, out
    eaten_c = np.zeros((N_CHUNKS, n_places))
    detail_c = np.zeros((N_CHUNKS, N_AGE_GROUPS, 3, 2, 3), np.int64)
    for ch in prange(N_CHUNKS):
        lo, hi = _chunk(ch, n)
        for i in range(lo, hi):
            status[i] = 0
            if alive[i] == 0:
                continue
            c = place[i]
            age_y = age_m[i] // 12
            a = min(age_y, 110)
            s = sex[i]
            act = activity[i]
            need = person_need(s, age_y, act, need_table, extra_by_activity)
            w = ration_weight(klass[i], age_y, act, canteen_share_by_place[c], w_cadre, w_black, w_non_worker, damping)
            grain_kcal = w * need * (1.0 - nongrain_share[c]) * ration_ratio[c]
            eaten_c[ch, c] += grain_kcal * 30.0 / kcal_per_kg
            depletion0 = 1.0 - reserve_start[i]
            intake = need * nongrain_share[c] + grain_kcal + famine_substitute_kcal * depletion0 * (1.0 - place_is_city[c])
            intake_ratio[i] = intake / need
            delta = 30.0 * (intake - need * (1.0 - metabolic_adaptation * depletion0)) / capacity_table[s, a]
            if delta > 0.0:
                delta *= recovery_efficiency
            r = min(1.0, max(0.0, reserve_start[i] + delta))
            reserve[i] = r
            d = 1.0 - r
            m0 = base_hazard[s, a]
            if place_is_city[c] == 1:
                m0 *= urban_mortality_factor
            g = age_group(age_y)
            if age_y < 2 and mother[i] >= 0:
                m = mother[i]
                if alive[m] == 1 and uid[m] == mother_uid[i]:
                    d = max(d, 1.0 - reserve_start[m])  # a nursing child shares its mother's hunger
                else:
                    m0 *= orphan_multiplier
            natural = m0 / 12.0
            famine = famine_hazard(natural, beta_by_group[g], gamma, d, starvation_hazard, starvation_threshold)
            violent = 0.0
            if hukou[i] == 0 and age_y >= 15 and age_y < 60:
                violent = violence_rate * violence_pressure[c]
                if klass[i] == 2:
                    violent *= black_violence_factor
            total = natural + famine + violent
            if uniform(seed, STREAM_DEATH, step, uid[i]) < death_probability(total):
                u = uniform(seed, STREAM_CAUSE, step, uid[i]) * total
                cause = DIED_NATURAL if u < natural else (DIED_FAMINE if u < natural + famine else DIED_VIOLENCE)
                st = cause
                ints[ch, 0, c] += 1
                ints[ch, 1 + cause, c] += 1
                if uniform(seed, STREAM_REG_DEATH, step, uid[i]) < death_completeness * (1.0 - famine_death_penalty * d):
                    st |= REGISTERED_DEATH
                    ints[ch, 1, c] += 1
                detail_c[ch, g, klass[i], hukou[i], cause - 1] += 1
                status[i] = st
                continue
            st = 0
            if preg[i] > 0:  # pregnancy; famine raises fetal loss
                if uniform(seed, STREAM_FETAL, step, uid[i]) < fetal_loss_hunger * d * d:
                    preg[i] = 0
                else:
                    preg[i] += 1
                    if preg[i] >= 10:
                        st |= GIVES_BIRTH
                        preg[i] = -postpartum_months
            elif preg[i] < 0:
                preg[i] += 1
            elif s == 1:
                p = conception_table[a] * fertility_multiplier
                if p > 0.0:
                    if place_is_city[c] == 1:
                        p *= urban_fertility_factor
                    # amenorrhoea follows the energy balance: the deeper of depletion and the current deficit
                    df = max(d, fertility_intake_weight * (1.0 - intake_ratio[i]))
                    if uniform(seed, STREAM_CONCEIVE, step, uid[i]) < p * interpolate(fertility_table, df):
                        preg[i] = 1
            # flight from hunger to a better-fed commune; hukou enforcement makes most attempts fail
            if hukou[i] == 0 and d > 0.2 and escape_rate > 0.0:
                if uniform(seed, STREAM_ESCAPE, step, uid[i]) < escape_rate * d * d:
                    if uniform(seed, STREAM_ESCAPE_OK, step, uid[i]) < escape_success:
                        best = c
                        best_ratio = ration_ratio[c]
                        for k in range(3):
                            v = uniform(seed, STREAM_ESCAPE_DEST + 16 * k, step, uid[i])
                            cand = min(int(v * n_communes), n_communes - 1)
                            if ration_ratio[cand] > best_ratio:
                                best = cand
                                best_ratio = ration_ratio[cand]
                        if best != c:
                            place[i] = best
                            st |= ESCAPED
                            ints[ch, 5, best] += 1
                            ints[ch, 6, c] += 1
            status[i] = st
            age_m[i] += 1
    ti, eaten, detail = sum_chunks(ints), sum_chunks(eaten_c), sum_chunks(detail_c)
    deaths_cause = np.empty((n_places, 3), np.int64)
    for j in range(3):
        deaths_cause[:, j] = ti[2 + j]
    return eaten, ti[0], ti[1], deaths_cause, ti[5], ti[6], detail


@njit(cache=True)
def finish_month(alive, status):
    """Mark the dead and list the mothers giving birth, in index order (serial: thread-independent)."""
    n_mothers = 0
    for i in range(alive.shape[0]):
        st = status[i]
        if st & DEATH_MASK:
            alive[i] = 0
        elif st & GIVES_BIRTH:
            n_mothers += 1
    mothers = np.empty(n_mothers, np.int64)
    k = 0
    for i in range(alive.shape[0]):
        if status[i] & GIVES_BIRTH:
            mothers[k] = i
            k += 1
    return mothers


@njit(cache=True)
def give_births(mothers, alive, age_m, sex, place, hukou, klass, household, reserve, intake_ratio, preg,
                activity, mother, mother_uid, uid, next_uid, seed, step, male_probability,
                birth_completeness, n_places):
    """Place each newborn in the lowest free slot (serial, so slots and ids do not depend on threads).

    The child takes its mother's place, hukou (it follows the mother), class label and household.
    Returns births and registered births per place, and the next unused id.
    """
    births = np.zeros(n_places, np.int64)
    births_reg = np.zeros(n_places, np.int64)
    slot = 0
    for k in range(mothers.shape[0]):
        m = mothers[k]
        while alive[slot] == 1:
            slot += 1
        new_id = next_uid + k
        alive[slot] = 1
        age_m[slot] = 0
        sex[slot] = 0 if uniform(seed, STREAM_SEX, step, new_id) < male_probability else 1
        place[slot] = place[m]
        hukou[slot] = hukou[m]
        klass[slot] = 2 if klass[m] == 2 else 0
        household[slot] = household[m]
        reserve[slot] = 1.0
        intake_ratio[slot] = 1.0
        preg[slot] = 0
        activity[slot] = NONE
        mother[slot] = m
        mother_uid[slot] = uid[m]
        uid[slot] = new_id
        births[place[m]] += 1
        if uniform(seed, STREAM_REG_BIRTH, step, new_id) < birth_completeness:
            births_reg[place[m]] += 1
    return births, births_reg, next_uid + mothers.shape[0]


# ---------------------------------------------------------------- place-level random draws
STREAM_WEATHER, STREAM_COMMUNE_YIELD, STREAM_REPORT = 20, 21, 22
STREAM_INIT_AGE, STREAM_INIT_CLASS, STREAM_INIT_PREG, STREAM_INIT_PLACE = 30, 31, 32, 33


@njit(cache=True)
def normal_array(seed, stream, step, ids):
    """Standard normal draws (Box-Muller on two counter-based uniforms) for the given ids."""
    out = np.empty(ids.shape[0])
    for i in range(ids.shape[0]):
        u1 = max(uniform(seed, stream, step, ids[i]), 1e-300)
        u2 = uniform(seed, stream + 1000, step, ids[i])
        out[i] = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
    return out
