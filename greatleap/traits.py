"""A person's small codes, packed in one byte of the people frame (``traits``).

Bits 0: sex (0 male, 1 female; demography) · 1: hukou (0 rural, 1 urban; migration) ·
2: on the household register of their place (registration) · 3-4: class (0 ordinary, 1 cadre,
2 black element; classes) · 5-7: the month's activity (0 none .. 4 urban work; labor).
Five one-byte columns took 5 bytes a person; this takes 1. The rules and the setup read a code
with ``sex_of(t)``, ``hukou_of(t)``, ... and set one with ``with_hukou(t, value)``, ...; these
work on one person's byte in the compiled passes and on arrays in the setup alike.
"""
from __future__ import annotations

from greatleap.rules import rule


@rule(inline=True)
def sex_of(traits):
    return traits & 1


@rule(inline=True)
def hukou_of(traits):
    return (traits >> 1) & 1


@rule(inline=True)
def registered_of(traits):
    return (traits >> 2) & 1


@rule(inline=True)
def klass_of(traits):
    return (traits >> 3) & 3


@rule(inline=True)
def activity_of(traits):
    return (traits >> 5) & 7


@rule(inline=True)
def with_sex(traits, sex):
    return (traits & 0b11111110) | sex


@rule(inline=True)
def with_hukou(traits, hukou):
    return (traits & 0b11111101) | (hukou << 1)


@rule(inline=True)
def with_registered(traits, registered):
    return (traits & 0b11111011) | (registered << 2)


@rule(inline=True)
def with_klass(traits, klass):
    return (traits & 0b11100111) | (klass << 3)


@rule(inline=True)
def with_activity(traits, activity):
    return (traits & 0b00011111) | (activity << 5)


@rule(inline=True)
def traits_of(sex, hukou, registered, klass, activity):
    """The byte of a person with these codes."""
    return sex | (hukou << 1) | (registered << 2) | (klass << 3) | (activity << 5)
