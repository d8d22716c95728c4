"""The mechanism families of the model, one module each, and the default registry.

A mechanism is a class with a fixed life cycle (:mod:`greatleap.mechanisms.base`). ``DEFAULT``
lists the historical model's mechanisms in registration order: their ``init`` runs in this order,
and within each phase of the month they act in this order. To add a mechanism, write a module
with a ``Mechanism`` subclass and register it: ``Sim(scenario, mechanisms=DEFAULT + (MyMechanism,))``.
"""
from greatleap.mechanisms.agriculture import Agriculture
from greatleap.mechanisms.canteens import Canteens
from greatleap.mechanisms.classes import Classes
from greatleap.mechanisms.communes import Communes
from greatleap.mechanisms.demography import Demography
from greatleap.mechanisms.fertility import Fertility
from greatleap.mechanisms.granaries import Granaries
from greatleap.mechanisms.hierarchy import Hierarchy
from greatleap.mechanisms.labor import Labor
from greatleap.mechanisms.livestock import Livestock
from greatleap.mechanisms.migration import Migration
from greatleap.mechanisms.mortality import Mortality
from greatleap.mechanisms.nutrition import Nutrition
from greatleap.mechanisms.procurement import Procurement
from greatleap.mechanisms.registration import Registration
from greatleap.mechanisms.violence import Violence

DEFAULT = (Demography, Migration, Classes, Labor, Nutrition, Canteens, Communes, Livestock, Agriculture, Hierarchy, Procurement,
           Granaries, Violence, Mortality, Fertility, Registration)

__all__ = ["DEFAULT"] + [cls.__name__ for cls in DEFAULT]
