"""Demography: the initial population (ages and sexes), ageing, newborns, and each person's id.

The initial age-sex structure is the UN WPP 2017 estimate interpolated to the start month
(:func:`greatleap.data.initial_age_sex`); each agent's cell is drawn from its own counter-based
stream. Baseline mortality and fertility are in :mod:`mortality` and :mod:`fertility`; the birth
itself (a free slot for the newborn) is the engine's births pass, which applies :func:`newborn`.
"""
from __future__ import annotations

import numpy as np

from greatleap import data
from greatleap.levers import parse_month
from greatleap.mechanisms.base import Mechanism, Series
from greatleap.rules import rule
from greatleap.streams import STREAM_INITIAL_AGE, STREAM_SEX, uniform, uniform_array
from greatleap.traits import SEX, with_code
from greatleap.world import map_slices

# 5-9 and 10-14 apart: the demographic reconstructions count the famine's excess deaths under and over age 10
AGE_GROUPS = ("0", "1-4", "5-9", "10-14", "15-59", "60+")


@rule
def age_group(age_years):
    """Index of the age group (0, 1-4, 5-9, 10-14, 15-59, 60+) of an age in whole years."""
    if age_years < 1:
        return 0
    if age_years < 5:
        return 1
    if age_years < 10:
        return 2
    if age_years < 15:
        return 3
    if age_years < 60:
        return 4
    return 5


UID_STRIDE = 2 ** 40  # ids of the initial population are below this; a newborn's id encodes its birth month


@rule
def newborn_uid(mother_slot, step):
    """A newborn's id, keyed to its mother's slot and its birth month (one birth per mother per month).

    Two scenarios that differ only later, or elsewhere, give the same child the same id, so its
    random streams (and common random numbers between scenarios) do not depend on how many other
    children were born that month. The ids of the initial population are their slots, below
    UID_STRIDE, so a newborn's id (at least UID_STRIDE) is nobody else's.
    """
    return (step + 1) * UID_STRIDE + mother_slot


@rule
def person_uid(slot, mother, age_m, step):
    """The id of the person in ``slot`` during month ``step``: derived, not stored (8 bytes a person).

    People never change slots and a slot is reused only by a newborn, so a person of the initial
    population (no known mother) has the id of their slot; a newborn was born ``age_m + 1`` months
    before ``step`` (it ages once a month after the births pass of its birth month), and its id is
    :func:`newborn_uid` of its mother's slot and that month.
    """
    if mother < 0:
        return np.int64(slot)
    return newborn_uid(np.int64(mother), np.int64(step) - 1 - age_m)  # 64-bit: ids exceed 2^40


@rule
def mother_present(slot_alive, slot_age_m, child_age_m):
    """Whether a child's mother still holds her slot: it is alive and older than the child.

    A slot is reused only by a newborn, born after the mother died, so after the child: anyone
    else in the slot is younger than the child (also when read while that person ages this month).
    """
    return slot_alive == 1 and slot_age_m > child_age_m


@rule
def newborn_sex(seed, step, uid, male_probability):
    """0 (male) or 1 (female), drawn from the newborn's own stream."""
    return 0 if uniform(seed, STREAM_SEX, step, uid) < male_probability else 1


def initial_pyramid(scenario) -> np.ndarray:
    """Population shares by sex (rows M, F) and age 0..100 at the run's start month."""
    start = parse_month(scenario.run.start)
    return data.initial_age_sex(float(start // 12) + (start % 12) / 12.0)


class Demography(Mechanism):
    """Who is alive, their age, sex and mother (ids are derived: :func:`person_uid`); the age-sex pyramid
    each July."""
    name = "demography"
    phases = ()

    def init(self, sim) -> None:
        w = sim.world
        pe = w.people
        pe.add("alive", np.uint8, 0, "flag", "1 if the slot holds a living person", self.name)
        pe.add("age_m", np.int16, 0, "months", "age", self.name)
        pe.add("traits", np.uint8, 0, "bits", "sex, hukou, registered, class and activity, packed (greatleap.traits)",
               self.name)
        pe.add("mother", np.int32, -1, "slot", "mother's slot (-1: a person of the initial population)", self.name)
        self.pyramid = initial_pyramid(sim.scenarios[0])
        cdf = np.cumsum(self.pyramid.ravel())
        for m, scen in enumerate(sim.scenarios):  # setup only: once per member and slice of agents
            seed = scen.run.seed

            def draw(s: slice, m=m, seed=seed) -> None:
                ids = np.arange(s.start, s.stop, dtype=np.int64)
                u = uniform_array(seed, STREAM_INITIAL_AGE, 0, ids)
                cell = np.minimum(np.searchsorted(cdf, u * cdf[-1], side="right"), cdf.size - 1)
                sex, age_y = np.divmod(cell, 101)
                frac = uniform_array(seed, STREAM_INITIAL_AGE, 1, ids)
                pe.alive[m, s] = 1
                pe.traits[m, s] = with_code(pe.traits[m, s], SEX, sex)
                pe.age_m[m, s] = age_y * 12 + np.floor(frac * 12).astype(np.int64)
            map_slices(sim.layout.n_agents, draw)
        w.national.add("pyramid", np.int64, 0, "agents", "population by sex and age 0..100 (July census)",
                       self.name, extra=(2, 101))

    def series(self) -> list[Series]:
        return []
