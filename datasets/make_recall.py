"""Generate datasets/recall.npz: recall the token seen 49 steps earlier (the long-term memory
task on which a simple RNN fails and an LSTM succeeds: specs/recall_rnn.toml, recall_lstm.toml).

    python datasets/make_recall.py

Each sequence has 50 steps, each a one-hot token out of 4 (features 0-3). The target is the
first step's token; the 49 steps after it are random distractor tokens from the same
vocabulary, so the network must keep the first one in its state through all of them.
1,000 sequences, seed 0. x: (1000, 50, 4) float32, y: (1000,) int64.
"""

from pathlib import Path

import numpy as np

N, T, K = 1000, 50, 4
rng = np.random.default_rng(0)
tokens = rng.integers(0, K, size=(N, T))
x = np.zeros((N, T, K), dtype=np.float32)
x[np.arange(N)[:, None], np.arange(T)[None, :], tokens] = 1.0
y = tokens[:, 0].astype(np.int64)
np.savez_compressed(Path(__file__).with_name("recall.npz"), x=x, y=y)
