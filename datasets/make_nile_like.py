"""Write datasets/nile_like.csv: a generated stand-in for the Nile's yearly flow (the real
series, 1871-1970, is not bundled here): values around 900 with a std near 168, a level drop
(as the Nile's after 1898) and AR(1) year-to-year persistence. 300 years, seed 0.

    python datasets/make_nile_like.py
"""

from pathlib import Path

import numpy as np

rng = np.random.default_rng(0)
n = 300
level = np.where(np.arange(n) < 90, 1100.0, 850.0)  # the level drop
level += 60 * np.sin(2 * np.pi * np.arange(n) / 37)  # a slow wet/dry cycle
noise = np.zeros(n)
for t in range(1, n):
    noise[t] = 0.6 * noise[t - 1] + rng.normal(0, 80)
flow = np.round(level + noise)
out = Path(__file__).resolve().parent / "nile_like.csv"
out.write_text("year,flow\n" + "".join(f"{1671 + t},{int(v)}\n" for t, v in enumerate(flow)))
print(f"{out.name}: {n} values, mean {flow.mean():.0f}, std {flow.std():.0f}")
