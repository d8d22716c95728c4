"""Counter-based random numbers and the named streams that use them.

``uniform(seed, stream, step, key)`` hashes its four arguments (SplitMix64 finaliser), so a
draw depends only on who (a person's or place's key), when (the step), why (the named stream)
and the run seed: never on thread count, processing order, backend, or on what other streams
drew. Switching a policy off therefore changes only what that policy touches, and scenario
comparisons share their random numbers (common random numbers).

Each random decision has its own stream, named in ``STREAMS``; the ids are fixed forever
(changing one changes every result that uses it).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from greatleap.rules import rule

# person-level
STREAM_LABOR, STREAM_RECRUITMENT, STREAM_DESTINATION = 1, 2, 3
STREAM_DEATH, STREAM_DEATH_CAUSE, STREAM_DEATH_REGISTERED = 4, 5, 6
STREAM_CONCEPTION, STREAM_FETAL_LOSS, STREAM_BIRTH_REGISTERED, STREAM_SEX = 7, 8, 9, 10
STREAM_ESCAPE, STREAM_ESCAPE_SUCCESS, STREAM_ESCAPE_DESTINATION = 11, 12, 13
STREAM_LATE_REGISTRATION = 14
STREAM_FRAILTY = 15  # step 0 always: a person's frailty is drawn once, for life
# place-level
STREAM_WEATHER, STREAM_COMMUNE_YIELD, STREAM_REPORT_NOISE, STREAM_REPORT_CAP = 20, 21, 22, 23
STREAM_CLAIM_NOISE = 24
# the initial population
STREAM_INITIAL_AGE, STREAM_INITIAL_CLASS, STREAM_INITIAL_PREGNANCY, STREAM_INITIAL_PLACE = 30, 31, 32, 33
STREAMS: dict[str, int] = {name[7:].lower(): value for name, value in globals().items()
                           if name.startswith("STREAM_") and isinstance(value, int)}
ESCAPE_CANDIDATE_STRIDE = 16  # candidate k of a flight draws from stream escape_destination + 16 k
NORMAL_PAIR_OFFSET = 1000     # the second uniform of a normal draw uses stream + 1000

_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xBF58476D1CE4E5B9)
_K3 = np.uint64(0x94D049BB133111EB)
_K4 = np.uint64(0xD6E8FEB86659FD93)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0


@rule(inline=True)
def _mix(x):
    x = (x ^ (x >> _S30)) * _K2
    x = (x ^ (x >> _S27)) * _K3
    return x ^ (x >> _S31)


@rule(inline=True)
def uniform(seed, stream, step, key):
    """A uniform number in [0, 1) from (seed, stream, step, key)."""
    x = _mix(np.uint64(seed) * _K1 + np.uint64(stream) * _K4)
    x = _mix(x ^ (np.uint64(step) * _K2))
    x = _mix(x ^ (np.uint64(key) * _K3))
    return float(x >> _S11) * _INV53


@rule
def normal(seed, stream, step, key):
    """A standard normal draw (Box-Muller on two counter-based uniforms)."""
    u1 = max(uniform(seed, stream, step, key), 1e-300)
    u2 = uniform(seed, stream + NORMAL_PAIR_OFFSET, step, key)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True, nogil=True)
def uniform_array(seed, stream, step, keys):
    """Uniform draws for an array of keys (place-level or initial-population draws; releases the GIL)."""
    out = np.empty(keys.shape[0])
    for i in range(keys.shape[0]):
        out[i] = uniform(seed, stream, step, keys[i])
    return out


@njit(cache=True, nogil=True)
def normal_array(seed, stream, step, keys):
    """Standard normal draws for an array of keys."""
    out = np.empty(keys.shape[0])
    for i in range(keys.shape[0]):
        out[i] = normal(seed, stream, step, keys[i])
    return out
