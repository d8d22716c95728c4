"""The GPU's copy of the people frame, kept in step with the host's, and the bytes that cross.

The host's people frame stays the truth that every mechanism, the recorder and ``snapshot``
read; the CUDA backend works on a device copy of its columns:

- after each kernel, the columns it wrote are copied back (births: only the new slots);
- before each kernel, a column is uploaded whole when its host array is not the one last
  synchronised (a new world, ``Frame.grow`` or ``World.restore`` replaced it) or when the host
  writes it during the month (``HOST_WRITTEN``: the person pass's ``reserve_start``).

A mechanism that writes a people column during a run must name it in ``HOST_WRITTEN``;
``DeviceFrame.stale()`` lists every column whose device copy differs from the host's, and the
tests check after every kernel that it lists none.

Transfers are counted in ``copied`` (bytes; people columns apart from the passes' inputs and
tallies, which do not grow with the population); the benchmark reports them.
"""
from __future__ import annotations

from typing import Iterable, NamedTuple, Sequence

import numpy as np
from numba import cuda

# people columns the host writes between the backend's kernels, by the kernel that reads them next
HOST_WRITTEN = {"live": ("reserve_start",)}


def aligned_record(record: np.ndarray) -> np.ndarray:
    """The parameter record with every field at an offset that is a multiple of its size.

    The packed record (greatleap.params) puts float64 fields at odd offsets after uint8 flags,
    which the CUDA target refuses; the aligned copy holds the same values.
    """
    dtype = np.dtype([(name, record.dtype.fields[name][0]) for name in record.dtype.names], align=True)
    out = np.zeros(record.shape, dtype)
    for name in record.dtype.names:
        out[name] = record[name]
    return out


class DeviceFrame:
    """Device copies of the people columns (see the module docstring)."""

    def __init__(self) -> None:
        self._host: dict[str, np.ndarray] = {}  # the host array each device copy mirrors (held: identity is safe)
        self._dev: dict[str, object] = {}
        self.copied = dict.fromkeys(("people_to_device", "people_to_host", "other_to_device", "other_to_host"), 0)

    def _upload(self, name: str, arr: np.ndarray) -> None:
        dev = self._dev.get(name)
        if dev is not None and dev.shape == arr.shape and dev.dtype == arr.dtype:
            dev.copy_to_device(arr)
        else:
            self._dev[name] = cuda.to_device(arr)
        self._host[name] = arr
        self.copied["people_to_device"] += arr.nbytes

    def column(self, name: str, arr: np.ndarray, fresh: bool = False):
        """The device copy of host column ``arr``; uploaded if replaced on the host or ``fresh``."""
        if fresh or self._host.get(name) is not arr:
            self._upload(name, arr)
        return self._dev[name]

    def people(self, P: NamedTuple, fresh: Iterable[str] = ()) -> NamedTuple:
        """``P`` with each host column replaced by its device copy (see :meth:`column`)."""
        fresh = set(fresh)
        return type(P)(*(self.column(name, arr, name in fresh) for name, arr in zip(P._fields, P)))

    def download(self, names: Sequence[str]) -> None:
        """Copy the device columns ``names`` back into their host arrays."""
        for name in names:
            self._dev[name].copy_to_host(self._host[name])
            self.copied["people_to_host"] += self._host[name].nbytes

    def download_slots(self, names: Sequence[str], slots: np.ndarray, counts: np.ndarray, gather) -> None:
        """Copy back only slots ``slots[m, :counts[m]]`` of the columns ``names``.

        ``gather(device_column, device_slots, device_out)`` packs the slots' values on the device.
        """
        if counts.max(initial=0) == 0:
            return
        d_slots = self.upload(slots)
        for name in names:
            host = self._host[name]
            d_out = cuda.device_array(slots.shape, host.dtype)
            gather(self._dev[name], d_slots, d_out)
            values = d_out.copy_to_host()
            self.copied["people_to_host"] += values.nbytes
            for m in range(host.shape[0]):  # members, not people
                host[m, slots[m, : counts[m]]] = values[m, : counts[m]]

    def upload(self, arr: np.ndarray):
        """A device copy of a small host array (inputs, tables), counted."""
        arr = np.ascontiguousarray(arr)
        self.copied["other_to_device"] += arr.nbytes
        return cuda.to_device(arr)

    def fetch(self, dev) -> np.ndarray:
        """A host copy of a (small) device array, counted."""
        out = dev.copy_to_host()
        self.copied["other_to_host"] += out.nbytes
        return out

    def stale(self) -> list[str]:
        """Columns whose device copy differs from their host array (should be none between kernels)."""
        return [name for name, host in self._host.items()
                if not np.array_equal(self._dev[name].copy_to_host(), host, equal_nan=True)]

    def nbytes(self) -> int:
        """Device bytes held for people columns."""
        return sum(a.nbytes for a in self._host.values())


class HostFrame(DeviceFrame):
    """A stand-in for :class:`DeviceFrame` that leaves every array on the host: the kernels'
    arguments with their real types, for compiling ahead without a GPU. Copies nothing."""

    def column(self, name: str, arr: np.ndarray, fresh: bool = False):
        self._host[name] = arr
        return arr

    def download(self, names: Sequence[str]) -> None:
        pass

    def download_slots(self, names: Sequence[str], slots: np.ndarray, counts: np.ndarray, gather) -> None:
        pass

    def upload(self, arr: np.ndarray):
        return np.ascontiguousarray(arr)

    def fetch(self, dev) -> np.ndarray:
        return np.array(dev)
