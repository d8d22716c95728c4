"""The state of the simulated world: people as a structure of arrays, places, stocks.

People (one agent = ``scale`` real persons) live in a place: a commune (rural, synthetic) or
the city of a province (one urban place per province). Places are indexed communes first
(0..n_communes-1), then cities (n_communes + province index).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np


@dataclass
class People:
    """Structure of arrays with spare capacity; dead or unused slots have alive == 0."""
    alive: np.ndarray        # uint8
    age_m: np.ndarray        # int16, age in months
    sex: np.ndarray          # uint8, 0 male, 1 female
    place: np.ndarray        # int32, commune or city index
    hukou: np.ndarray        # uint8, 0 rural, 1 urban
    klass: np.ndarray        # uint8, 0 ordinary, 1 cadre, 2 "black element"
    household: np.ndarray    # int32, synthetic household id
    reserve: np.ndarray      # float32, nutritional reserve as share of capacity (0..1)
    intake_ratio: np.ndarray # float32, last month's intake / need
    activity: np.ndarray     # uint8, see kernels.cpu activity codes
    preg: np.ndarray         # int8, >0 months pregnant, <0 months postpartum-infecund, 0 at risk
    mother: np.ndarray       # int32, mother's slot (-1 unknown)
    mother_uid: np.ndarray   # int64, mother's unique id (guards reused slots)
    uid: np.ndarray          # int64, unique person id (keys the random streams)
    next_uid: int = 0

    DTYPES = {"alive": np.uint8, "age_m": np.int16, "sex": np.uint8, "place": np.int32, "hukou": np.uint8,
              "klass": np.uint8, "household": np.int32, "reserve": np.float32, "intake_ratio": np.float32,
              "activity": np.uint8, "preg": np.int8, "mother": np.int32, "mother_uid": np.int64,
              "uid": np.int64}

    @property
    def capacity(self) -> int:
        return int(self.alive.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "next_uid"}

    @classmethod
    def empty(cls, capacity: int) -> "People":
        """All slots empty. Arrays are filled explicitly (np.full), not calloc'ed: lazily mapped
        zero pages made the parallel kernels ~20x slower."""
        people = cls(**{name: np.full(capacity, 0, dt) for name, dt in cls.DTYPES.items()})
        people.mother[:] = -1
        return people

    def grow(self, new_capacity: int) -> None:
        """Enlarge every array to ``new_capacity`` slots (new slots empty)."""
        for name, arr in self.arrays().items():
            bigger = np.full(new_capacity, 0, arr.dtype)
            bigger[: arr.shape[0]] = arr
            if name == "mother":
                bigger[arr.shape[0]:] = -1
            setattr(self, name, bigger)

    @property
    def n_alive(self) -> int:
        return int(self.alive.sum(dtype=np.int64))


@dataclass
class Places:
    """Provinces, communes and cities, with the grain they hold (kg, real units)."""
    province_names: list[str]
    n_communes: int
    place_province: np.ndarray      # int32 [n_places]
    place_is_city: np.ndarray       # uint8 [n_places]
    province_city: np.ndarray       # int32 [n_provinces]
    province_first_commune: np.ndarray
    province_n_communes: np.ndarray
    radicalism: np.ndarray          # [n_provinces]
    summer_share: np.ndarray        # [n_provinces]
    potential_kg: np.ndarray        # [n_places], grain per year in 1957 conditions (0 for cities)
    farm_norm: np.ndarray           # [n_places], effective farm labor at the start (agents)
    stock_kg: np.ndarray            # [n_places]
    extras: dict = field(default_factory=dict)

    @property
    def n_provinces(self) -> int:
        return len(self.province_names)

    @property
    def n_places(self) -> int:
        return int(self.place_province.shape[0])

    @property
    def communes(self) -> slice:
        return slice(0, self.n_communes)
