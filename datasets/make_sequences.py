"""Generate the sequence-task files (NPZ) used by the sequence example specs:

    python datasets/make_sequences.py

- reverse_truncate.npz (specs/reverse_truncate.toml, many-to-many with another length):
  token ids x (N, 7) in 1..4, 0 at padded steps, `lengths` 2..7; target y (N, 4) = the real
  tokens reversed and truncated to 4 steps (0 where the target is shorter), `target_lengths`
  = min(length, 4).
- wave_from_vector.npz (specs/wave_from_vector.toml, one-to-many): x (N, 2) = (amplitude,
  frequency); target y (N, 12, 1) = amplitude * sin(frequency * (t + 1)), t = 0..11.
- tagger.npz (specs/bidirectional_tagger.toml): x (N, 12, 1) floats, `lengths` 4..12; tag
  y (N, 12) = 1 where the next real value is larger than the previous one (0 past the ends),
  which needs both directions; padded steps hold garbage (9.0) and tag 0.
Seed 0; 1200 / 800 / 1000 examples.
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def reverse_truncate(rng, n=1200, t=7, out=4):
    lengths = rng.integers(2, t + 1, n)
    x = rng.integers(1, 5, (n, t))
    x[np.arange(t)[None, :] >= lengths[:, None]] = 0
    y = np.zeros((n, out), dtype=np.int64)
    for i, ln in enumerate(lengths):
        rev = x[i, :ln][::-1][:out]
        y[i, : len(rev)] = rev - 1  # classes 0..3 are tokens 1..4
    np.savez_compressed(HERE / "reverse_truncate.npz", x=x, y=y, lengths=lengths, target_lengths=np.minimum(lengths, out))


def wave_from_vector(rng, n=800, t=12):
    amp = rng.uniform(0.5, 1.5, n)
    freq = rng.uniform(0.3, 0.9, n)
    steps = np.arange(1, t + 1)
    y = amp[:, None] * np.sin(freq[:, None] * steps[None, :])
    np.savez_compressed(HERE / "wave_from_vector.npz", x=np.stack([amp, freq], 1), y=y[..., None])


def tagger(rng, n=1000, t=12):
    lengths = rng.integers(4, t + 1, n)
    x = rng.normal(size=(n, t))
    real = np.arange(t)[None, :] < lengths[:, None]
    x[~real] = 0
    nxt = np.concatenate([x[:, 1:], np.zeros((n, 1))], axis=1)
    prev = np.concatenate([np.zeros((n, 1)), x[:, :-1]], axis=1)
    nxt[np.arange(t)[None, :] >= lengths[:, None] - 1] = 0  # past the last real step
    y = ((nxt > prev) & real).astype(np.int64)
    x[~real] = 9.0  # garbage: padded steps must never matter
    np.savez_compressed(HERE / "tagger.npz", x=x[..., None], y=y, lengths=lengths)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    reverse_truncate(rng)
    wave_from_vector(rng)
    tagger(rng)
