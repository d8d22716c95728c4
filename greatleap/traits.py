"""A person's small codes, packed in one byte of the people frame (``traits``).

Each code is a field of the byte, ``(first bit, mask)``: ``SEX`` (0 male, 1 female; demography),
``HUKOU`` (0 rural, 1 urban; migration), ``ON_REGISTER`` (1 on the household register of their
place; registration), ``KLASS`` (0 ordinary, 1 cadre, 2 black element; classes), ``ACTIVITY``
(the month's activity, 0 none .. 4 urban work; labor). Five one-byte columns took 5 bytes a
person; this takes 1. The rules and the setup read a code with ``code_of(t, HUKOU)`` and set one
with ``with_code(t, HUKOU, 1)``: on one person's byte in the compiled passes, on arrays in the
setup alike.
"""
from __future__ import annotations

from greatleap.rules import rule

SEX, HUKOU, ON_REGISTER, KLASS, ACTIVITY = (0, 1), (1, 1), (2, 1), (3, 3), (5, 7)


@rule(inline=True)
def code_of(traits, field):
    """The code ``field`` (SEX, HUKOU, ...) of a person's traits byte."""
    return (traits >> field[0]) & field[1]


@rule(inline=True)
def with_code(traits, field, value):
    """The traits byte with the code ``field`` set to ``value``."""
    return (traits & (255 - (field[1] << field[0]))) | (value << field[0])


@rule(inline=True)
def traits_of(sex, hukou, registered, klass, activity):
    """The byte of a person with these codes."""
    return (sex << SEX[0]) | (hukou << HUKOU[0]) | (registered << ON_REGISTER[0]) | (klass << KLASS[0]) \
        | (activity << ACTIVITY[0])
