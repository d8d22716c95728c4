"""The world: frames of people and places and the national accounts, all with a leading member axis.

A *frame* is a set of named columns of equal length with a leading member axis: ``people.reserve``
has shape (members, capacity), ``places.stock`` (members, places), ``provinces.capital``
(members, provinces); ``national`` holds per-member accounts of shape (members, ...). Mechanisms
register the columns they own in their ``init`` (name, dtype, fill, unit, meaning), and read and
write them in their steps. A run has one member by default; an ensemble batched into one world
(seeds or parameter sets stepped together) has several.

``World.snapshot()`` copies everything that changes during a run (every column, the month and
the records); ``World.restore()`` puts it back, so a run can be continued or branched at a month.
"""
from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, TypeVar

import numba
import numpy as np

T = TypeVar("T")
SETUP_CHUNK = 1 << 22  # initial agents per slice of the setup's array math
MAX_SETUP_WORKERS = 4  # slices set up at once, at most (their temporaries add up; memory bandwidth caps the gain)


def setup_slices(n: int) -> list[slice]:
    """Slices of the initial agents 0..n, ``SETUP_CHUNK`` each: mechanisms set up the initial
    population slice by slice, so the temporaries of that array math stay small at any scale
    (whole-population temporaries took ~50 bytes an agent, more than the people frame); at most
    :func:`setup_workers` slices at once."""
    return [slice(lo, min(lo + SETUP_CHUNK, n)) for lo in range(0, n, SETUP_CHUNK)]


def setup_workers(n: int) -> int:
    """How many setup slices of agents 0..n run at once: Numba's thread count, at most ``MAX_SETUP_WORKERS``."""
    return max(1, min(-(-n // SETUP_CHUNK), numba.get_num_threads(), MAX_SETUP_WORKERS))


def map_slices(n: int, fn: Callable[[slice], T]) -> list[T]:
    """``fn`` over the setup slices of agents 0..n; the results in slice order.

    Slices run on :func:`setup_workers` Python threads (NumPy's array math and the counter-based
    draws release the GIL). ``fn`` must write only its own slice's agents; what it returns is
    combined by the caller in slice order, so the setup is the same on any thread count.
    """
    slices = setup_slices(n)
    workers = setup_workers(n)
    if workers <= 1:
        return [fn(s) for s in slices]
    pool = ThreadPoolExecutor(workers, thread_name_prefix="setup")
    try:
        return list(pool.map(fn, slices))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on Ctrl-C: finish the slices running, start no more


@dataclass(frozen=True)
class Column:
    name: str
    dtype: np.dtype
    fill: float
    unit: str
    meaning: str
    owner: str


class Frame:
    """Named columns of shape (members, size, *extra) (or (members, *extra) when ``size`` is None)."""

    def __init__(self, kind: str, members: int, size: int | None):
        self.kind, self.members, self.size = kind, members, size
        self.columns: dict[str, Column] = {}
        self._data: dict[str, np.ndarray] = {}

    def add(self, name: str, dtype=np.float64, fill: float = 0.0, unit: str = "", meaning: str = "",
            owner: str = "", extra: tuple[int, ...] = ()) -> np.ndarray:
        """Register a column (once) and return its array, filled with ``fill``."""
        if name in self.columns:
            raise ValueError(f"{self.kind} column {name!r} registered twice ({self.columns[name].owner} and {owner})")
        shape = (self.members,) + (() if self.size is None else (self.size,)) + tuple(extra)
        # filled explicitly, not calloc'ed: lazily mapped zero pages made the parallel kernels ~20x slower
        self._data[name] = np.full(shape, fill, dtype)
        self.columns[name] = Column(name, np.dtype(dtype), fill, unit, meaning, owner)
        return self._data[name]

    def __getattr__(self, name: str) -> np.ndarray:
        data = self.__dict__.get("_data")
        if data is not None and name in data:
            return data[name]
        raise AttributeError(f"{self.__dict__.get('kind', 'frame')} has no column {name!r}")

    def __setattr__(self, name: str, value) -> None:
        data = self.__dict__.get("_data")
        if data is not None and name in data:
            raise AttributeError(f"assign into the column ({self.kind}.{name}[...] = ...), don't rebind it")
        super().__setattr__(name, value)

    def __contains__(self, name: str) -> bool:
        return name in self._data

    def arrays(self) -> dict[str, np.ndarray]:
        return dict(self._data)

    def grow(self, new_size: int) -> None:
        """Enlarge every column to ``new_size`` (new rows take the column's fill value)."""
        for name, arr in self._data.items():
            bigger = np.full((self.members, new_size) + arr.shape[2:], self.columns[name].fill, arr.dtype)
            bigger[:, : arr.shape[1]] = arr
            self._data[name] = bigger
        self.size = new_size

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._data.values())


@dataclass
class Geography:
    """What does not change during a run and is the same for every member: provinces and places.

    Places are indexed communes first (0..n_communes-1), then one city per province
    (n_communes + province index).
    """
    province_names: list[str]
    n_communes: int
    place_province: np.ndarray        # int32 [place]
    place_is_city: np.ndarray         # uint8 [place]
    province_city: np.ndarray         # int32 [province]
    province_first_commune: np.ndarray  # int32 [province]
    province_n_communes: np.ndarray   # int32 [province]
    sector_key: np.ndarray = field(init=False)  # province x 2 + is_city, for roll-ups by province and sector

    def __post_init__(self) -> None:
        self.sector_key = (self.place_province.astype(np.int64) * 2 + self.place_is_city).astype(np.int64)

    @property
    def n_provinces(self) -> int:
        return len(self.province_names)

    @property
    def n_places(self) -> int:
        return int(self.place_province.shape[0])

    @property
    def commune_province(self) -> np.ndarray:
        return self.place_province[: self.n_communes]


class World:
    """Frames (people, places, provinces), national accounts, records and the month counter."""

    def __init__(self, geography: Geography, members: int, capacity: int, n_months: int, start_month: int,
                 scale: float):
        self.geo = geography
        self.members, self.n_months, self.start_month, self.scale = members, n_months, start_month, scale
        self.people = Frame("people", members, capacity)
        self.places = Frame("places", members, geography.n_places)
        self.provinces = Frame("provinces", members, geography.n_provinces)
        self.national = Frame("national", members, None)
        self.t = 0  # months done
        self.records = None  # set by the recorder

    @property
    def frames(self) -> tuple[Frame, ...]:
        return self.people, self.places, self.provinces, self.national

    def nbytes(self) -> int:
        return sum(f.nbytes() for f in self.frames)

    def snapshot(self) -> dict:
        """Everything that changes during a run, copied: restore it to continue or branch from here."""
        return {"t": self.t, "capacity": self.people.size,
                "frames": {f.kind: {k: v.copy() for k, v in f.arrays().items()} for f in self.frames},
                "records": copy.deepcopy(self.records)}

    def restore(self, snap: dict) -> None:
        """Put back a snapshot taken from a world built the same way (same scale, seeds, structure)."""
        self.people.size = snap["capacity"]  # every column is replaced below (a branch may have grown the frame)
        for f in self.frames:
            saved = snap["frames"][f.kind]
            if set(saved) != set(f.arrays()):
                raise ValueError(f"snapshot {f.kind} columns {sorted(saved)} differ from this world's {sorted(f.arrays())}")
            for k, v in saved.items():
                f._data[k] = v.copy()
        self.t = snap["t"]
        self.records = copy.deepcopy(snap["records"])
