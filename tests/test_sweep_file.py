"""Sweep files: strict, located errors like specs; the space is checked against the base spec
(key paths, ranges, compiling at the corners) before any trial runs. No trial runs here."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sweep_helpers import write_sweep

from netspec.errors import SpecError
from netspec.sweep import check_sweep, load_sweep


def errors_of(path) -> list[str]:
    with pytest.raises(SpecError) as info:
        check_sweep(load_sweep(path))
    return [d.render() for d in info.value.diagnostics]


def test_bad_keys_and_ranges_are_located_in_the_sweep_file(tmp_path):
    write_sweep(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'spec = "tiny.toml"\n'  # 1
        "[objective]\n"  # 2
        'metric = "val_acc"\n'  # 3
        "[space]\n"  # 4
        '"train.optimizer.learning_rat" = { log_uniform = [1e-3, 1e-1] }\n'  # 5
        '"model.layers[5].units" = { choice = [8, 16] }\n'  # 6
        '"model.layers[0].units" = { uniform = [8, 16] }\n'  # 7
        '"train.epochs" = { int = [0, 3] }\n'  # 8
        '"model.layers[0].activation" = { choice = ["relu", "softmx"] }\n'  # 9
        '"model.input_shape" = { choice = [4] }\n'  # 10
    )
    f = str(bad)
    assert errors_of(bad) == [
        f"{f}:3:1: error[value]: objective.metric: unknown objective metric 'val_acc'; the base spec's runs record: "
        "val_loss, val_accuracy, train_loss, train_accuracy",
        f'{f}:5:1: error[unknown-key]: space."train.optimizer.learning_rat": train.optimizer has no key '
        "`learning_rat`; did you mean `learning_rate`?",
        f'{f}:6:1: error[unknown-key]: space."model.layers[5].units": model.layers has 2 items (indices 0-1), not [5]',
        f'{f}:7:1: error[type]: space."model.layers[0].units": 8.0 is not valid here: expected a whole number, got '
        "`8.0`; write 8 (no decimal point); model.layers[0].units takes whole numbers: search it with int = [lo, hi] or choice",
        f'{f}:8:1: error[value]: space."train.epochs": 0 is not valid here: must be > 0, got `0`; epochs is the number '
        "of passes over the training data, e.g. epochs = 30",
        f'{f}:9:1: error[value]: space."model.layers[0].activation": \'softmx\' is not valid here: unknown activation '
        'function "softmx"; did you mean "softmax"? (one of: identity, relu, leaky_relu, sigmoid, tanh, softmax)',
        f'{f}:10:1: error[unknown-key]: space."model.input_shape": model.input_shape is a list: search one of the values inside it',
    ]


def test_schema_errors_are_strict_and_located(tmp_path):
    write_sweep(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{\n "spec": "tiny.toml",\n "trials": 0,\n "sampler": "grd",\n "space": {\n'
                   '  "train.epochs": {"int": [1, 4], "choice": [2]},\n  "train.batch_size": {"int": [4, 2]},\n'
                   '  "train.l2": {"log_uniform": [0.0, 0.1]},\n  "train.l1": {"uniform": [0.0, 0.1], "stp": 0.1}\n }\n}\n')  # fmt: skip
    f = str(bad)
    assert errors_of(bad) == [
        f"{f}:3:2: error[value]: trials: must be > 0, got `0`",
        f'{f}:4:2: error[value]: sampler: unknown value "grd"; did you mean "grid"? (one of: tpe, random, grid)',
        f'{f}:6:3: error[value]: space."train.epochs": give exactly one of uniform = [lo, hi], log_uniform = [lo, hi], '
        "int = [lo, hi] or choice = [...], got int and choice",
        f'{f}:7:3: error[value]: space."train.batch_size": int = [4, 2]: the low end must be below the high end',
        f'{f}:8:3: error[value]: space."train.l2": log_uniform = [0.0, 0.1]: both ends must be > 0 (use uniform for 0)',
        f'{f}:9:39: error[unknown-key]: space."train.l1".stp: unknown key `stp` in this table; did you mean `step`?',
    ]


def test_spec_must_compile_at_the_corners_of_the_space(tmp_path):
    (tmp_path / "cnn.toml").write_text(
        'name = "c"\n[model]\ninput_shape = [1, 8, 8]\n'
        '[[model.layers]]\ntype = "conv2d"\nfilters = 4\nkernel_size = 3\n'
        '[[model.layers]]\ntype = "flatten"\n[[model.layers]]\ntype = "dense"\nunits = 2\nactivation = "softmax"\n'
        '[train]\nepochs = 1\nloss = "cross_entropy"\n'
    )
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('spec = "cnn.toml"\n[space]\n"model.layers[0].kernel_size" = { choice = [3, 9] }\n'
                     '"model.layers[0].filters" = { int = [2, 8] }\n')  # fmt: skip
    (msg,) = errors_of(sweep)
    assert msg.startswith(f"{sweep}:2:1: error[shape]: space: the spec does not compile at the corner "
                          "model.layers[0].kernel_size = 9, model.layers[0].filters = 2 of the space: ")  # fmt: skip
    assert "kernel" in msg and msg.endswith("; narrow the ranges")


def test_grid_needs_finite_values_and_checks_pass_on_a_good_file(tmp_path):
    path = write_sweep(tmp_path, sampler="grid")
    (msg,) = errors_of(path)
    assert 'space."train.optimizer.learning_rate": the grid sampler needs a finite set of values' in msg
    plan = check_sweep(load_sweep(write_sweep(tmp_path / "ok")))
    assert (plan.direction, plan.split, plan.name, [p.extremes() for p in plan.params]) == (
        "minimize", "val", "loss", [[0.001, 0.1], [4, 8, 16]])
    spec = plan.spec_for({"train.optimizer.learning_rate": 0.05, "model.layers[0].units": 16})
    assert (spec.train.optimizer.learning_rate, spec.model.layers[0].units) == (0.05, 16)


def test_import_netspec_stays_free_of_optuna_and_names_the_extra():
    code = (
        "import sys; import netspec, netspec.sweep, netspec_cli.main\n"
        "assert 'optuna' not in sys.modules, 'optuna imported'\n"
        "sys.modules['optuna'] = None  # as if the extra were not installed\n"
        "from netspec.sweep.storage import require_optuna\n"
        "try:\n    require_optuna()\nexcept Exception as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "netspec sweep needs Optuna: pip install 'netspec[sweep]'"
