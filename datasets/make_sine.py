"""Generate datasets/sine.csv: the universal-approximation demo (a 1-D function to fit).

    python datasets/make_sine.py

y = sin(2x) + 0.3 x for x uniform on [-3, 3], plus Gaussian noise (std 0.05); 600 rows, seed 0.
"""

from pathlib import Path

import numpy as np

rng = np.random.default_rng(0)
x = rng.uniform(-3, 3, 600)
y = np.sin(2 * x) + 0.3 * x + rng.normal(0, 0.05, x.shape)
out = Path(__file__).with_name("sine.csv")
out.write_text("x,y\n" + "".join(f"{a:.6f},{b:.6f}\n" for a, b in zip(x, y)))
