"""The mechanism families of the model, one module each (place-level NumPy; per-person work in kernels).

- demography: baseline mortality and fertility schedules, the initial population, registration
- nutrition: needs, reserve capacity, non-grain food
- labor: labor diversion shares and steel
- agriculture: harvests, weather, techniques, pests, incentives
- hierarchy: reports at each level, the centre's belief, targets and quotas
- procurement: collection, state granaries, urban supply, trade, relief
- canteens: distribution of grain within communes
"""
