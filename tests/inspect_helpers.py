"""Small specs and trained runs shared by the inspection tests (kept tiny: a few epochs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import netspec
from netspec.executor import ParamStore
from netspec.training.loop import rng_tree

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "datasets" / "digits.csv"

CNN_LAYERS = """
[[model.layers]]
type = "conv2d"
name = "conv1"
filters = 4
kernel_size = 3
padding = "same"
activation = "tanh"
[[model.layers]]
type = "batch_norm"
name = "bn"
[[model.layers]]
type = "max_pool2d"
name = "pool1"
pool_size = 2
[[model.layers]]
type = "conv2d"
name = "conv2"
filters = 6
kernel_size = 3
activation = "tanh"
[[model.layers]]
type = "flatten"
[[model.layers]]
type = "dropout"
rate = 0.3
[[model.layers]]
type = "dense"
name = "output"
units = 10
activation = "softmax"
"""


def write_spec(folder: Path, body: str, name: str = "t", dtype: str = "float32", epochs: int = 2,
               data: str | None = None, train_extra: str = "") -> Path:  # fmt: skip
    data = data if data is not None else f'[data]\npath = "{DIGITS.as_posix()}"\ntarget = "digit"\nreshape = [1, 8, 8]\nstandardize = true\n'
    text = (f'name = "{name}"\nseed = 0\n{data}\n[model]\ninput_shape = [1, 8, 8]\n{body}\n'
            f'[train]\nepochs = {epochs}\nloss = "cross_entropy"\ndtype = "{dtype}"\n'
            'optimizer = { type = "adam", learning_rate = 0.01 }\n' + train_extra)  # fmt: skip
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def random_model(spec_path: Path, seed: int = 0) -> netspec.Model:
    """A model with freshly initialized weights (no training), non-trivial batch-norm stats."""
    spec = netspec.load(spec_path)
    compiled = netspec.compile(spec)
    dtype = np.float64 if spec.train.dtype == "float64" else np.float32
    store = ParamStore.create(compiled.graph, dtype, rng_tree(seed)["init"])
    rng = np.random.default_rng(seed + 1)
    for name, v in store.values.items():
        if name.endswith("running_var"):
            v[...] = rng.uniform(0.5, 2.0, v.shape)
        elif name.endswith("running_mean") or name.endswith((".bias", ".beta", ".gamma")):
            v[...] = rng.normal(0, 0.2, v.shape)
    return netspec.Model(spec, compiled, store)
