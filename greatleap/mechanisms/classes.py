"""Class labels and their priority: cadres, ordinary peasants, and "black elements".

At the start a share ``population.cadre_share`` of rural people are cadres (team, brigade and
commune cadres with their families) and a share ``population.black_element_share`` of everyone
carries a bad-class label (landlord, rich peasant, counter-revolutionary, bad element, rightist).
Labels set ration priority in canteens (cadres most, black elements least: see
:func:`class_weight`) and exposure to violence; a black element's children inherit the label.
"""
from __future__ import annotations

import numpy as np

from greatleap.mechanisms.base import Mechanism
from greatleap.rules import rule
from greatleap.streams import STREAM_INITIAL_CLASS, uniform_array
from greatleap.traits import HUKOU, KLASS, code_of, with_code
from greatleap.world import map_slices

ORDINARY, CADRE, BLACK_ELEMENT = 0, 1, 2
CLASSES = ("ordinary", "cadre", "black_element")


@rule
def class_weight(klass, weight_cadre, weight_black_element):
    """Canteen ration weight of a class label (ordinary = 1)."""
    if klass == CADRE:
        return weight_cadre
    if klass == BLACK_ELEMENT:
        return weight_black_element
    return 1.0


@rule
def newborn_class(mother_class):
    """Bad-class labels were inherited; a cadre's child is an ordinary person."""
    return BLACK_ELEMENT if mother_class == BLACK_ELEMENT else ORDINARY


class Classes(Mechanism):
    """Class labels of every person (drawn at the start, inherited at birth)."""
    name = "classes"
    phases = ()

    def init(self, sim) -> None:
        w = sim.world
        for m, scen in enumerate(sim.scenarios):  # setup only: once per member and slice of agents
            def draw(s: slice, m=m, scen=scen) -> None:
                u = uniform_array(scen.run.seed, STREAM_INITIAL_CLASS, 0, np.arange(s.start, s.stop, dtype=np.int64))
                rural = code_of(w.people.traits[m, s], HUKOU) == 0
                klass = np.zeros(u.shape[0], np.uint8)
                klass[rural & (u < scen.population.cadre_share)] = CADRE
                klass[u >= 1.0 - scen.population.black_element_share] = BLACK_ELEMENT
                w.people.traits[m, s] = with_code(w.people.traits[m, s], KLASS, klass)
            map_slices(sim.layout.n_agents, draw)
