"""The training loop: minibatches, loss, backward, penalties, clipping, optimizer step,
validation, early stopping and checkpoints. It emits Events and never prints.

Determinism: one SeedSequence(seed) spawns the generators for initialization, shuffling and
dropout/noise; their states are saved with every epoch's checkpoint, so a resumed run continues
the same sequence and ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import CheckpointError, TrainingDiverged
from ..executor import NonFiniteError, ParamStore, Plan
from ..inspect.gradnorms import GradientRecorder
from .early_stopping import EarlyStopper, EarlyStopState
from ..data.batches import iterate_batches
from .evaluate import evaluate_arrays, metrics_of
from .events import Event, StopTraining
from .losses import LOSSES
from .optimizers import make_optimizer
from .regularize import add_penalty_grads, clip
from .run_files import RunFiles
from .schedules import learning_rate


def rng_tree(seed: int) -> dict[str, np.random.Generator]:
    init, shuffle, noise = np.random.SeedSequence(seed).spawn(3)
    return {
        "init": np.random.default_rng(init),
        "shuffle": np.random.default_rng(shuffle),
        "noise": np.random.default_rng(noise),
    }


@dataclass
class TrainOutcome:
    history: list[dict]
    stopped_early: bool
    best_epoch: int
    epochs_run: int


class Trainer:
    def __init__(self, plan: Plan, cfg, *, seed: int, epochs: int, task: str,
                 callback: Callable[[Event], None] | None = None, files: RunFiles | None = None,
                 rngs: dict | None = None, record_gradients: bool = True, target_scaler=None,
                 augment=None):  # fmt: skip
        self.plan, self.cfg, self.epochs, self.task = plan, cfg, epochs, task
        # Regression targets trained as (y - mean) / std; metrics are in the data's units.
        self.target_scaler = target_scaler
        # Training-batch augmentation (images): a callable (x, rng) -> x with a generator of its own.
        self.augment = augment
        self.store: ParamStore = plan.store
        self.emit = callback or (lambda e: None)
        self.files = files
        self.rngs = rngs or rng_tree(seed)
        if augment is not None and "augment" not in self.rngs:  # a 4th child: the others stay as they were
            self.rngs["augment"] = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[3])
        self.loss_fn = LOSSES[cfg.loss]
        self.opt = make_optimizer(cfg.optimizer, self.store.flat.size, self.store.flat.dtype)
        self.stopper = EarlyStopper(cfg.early_stopping) if cfg.early_stopping else None
        self.history: list[dict] = []
        self.start_epoch = 0
        self.best_params: dict | None = None
        self._tmp = np.empty_like(self.store.flat)
        # gradients.csv: reads the gradient buffer only, so the weights are the same without it
        self.grad_norms = GradientRecorder(plan.graph, self.store) if record_gradients else None

    # -- one epoch ---------------------------------------------------------------------------
    def _step(self, xb, yb, lr: float, epoch: int, k: int, lengths=None, outputs: list | None = None,
              target_lengths=None) -> float:  # fmt: skip
        plan, store = self.plan, self.store
        z = plan.forward_train(xb, self.rngs["noise"], lengths)
        if self.target_scaler is not None:
            yb = self.target_scaler.scale(yb)
        mask = plan.loss_mask(lengths, z.shape[1] if z.ndim > 1 else 0, target_lengths)
        loss, dz = self.loss_fn(z, yb, mask=mask)
        if not math.isfinite(loss):
            self._diverged(xb, epoch, k, lengths, "the loss")
        if outputs is not None:  # training-mode outputs give the epoch's train metrics for free
            outputs.append(z)
        plan.backward(dz)
        add_penalty_grads(store.flat, store.grad, store.l1, store.l2, self._tmp)
        if self.grad_norms is not None:
            self._warn(self.grad_norms.record())
        clip(store.grad, self.cfg.clip_value, self.cfg.clip_norm)
        self.opt.step(store.flat, store.grad, lr)
        return loss

    def _warn(self, message: str | None) -> None:
        if message:
            self.emit(Event("warning", data={"message": message}))

    def _diverged(self, xb, epoch: int, k: int, lengths, what: str):
        bad = [n for n, v in self.store.values.items() if not np.isfinite(v).all()]
        if bad:
            what = f"the parameter `{bad[0]}`"
        else:
            try:
                self.plan.forward_train(xb, np.random.default_rng(0), lengths, check_finite=True)
            except NonFiniteError as exc:
                what = f"the output of `{exc.tensor}`"
        if self.files is None:
            kept = ""
        elif epoch > 1:
            kept = f" The checkpoint of epoch {epoch - 1} in {self.files.folder} was kept."
        else:
            kept = " No epoch had completed, so no checkpoint was written."
        raise TrainingDiverged(
            f"training diverged at epoch {epoch}, batch {k}: {what} became NaN or infinite. "
            f"Try a smaller learning rate, gradient clipping (train.clip_norm) or standardize = true.{kept}"
        )

    def _epoch(self, epoch: int, data) -> dict:
        x, y, lengths, tlens = data.x, data.y, data.lengths, data.target_lengths
        lr = learning_rate(self.cfg.optimizer.learning_rate, self.cfg.schedule, epoch - 1, self.epochs)
        batches = list(iterate_batches(len(x), self.cfg.batch_size, self.rngs["shuffle"] if self.cfg.shuffle else None))
        self.emit(Event("epoch_start", epoch, 0, len(batches), {"lr": lr}))
        total, count, t0 = 0.0, 0, time.perf_counter()
        outputs: list = []
        for k, idx in enumerate(batches, 1):
            lb = lengths[idx] if lengths is not None else None
            tb = tlens[idx] if tlens is not None else None
            xb = x[idx] if self.augment is None else self.augment(x[idx], self.rngs["augment"])
            loss = self._step(xb, y[idx], lr, epoch, k, lb, outputs, tb)
            total += loss * len(idx)
            count += len(idx)
            self.emit(Event("batch", epoch, k, len(batches), {"loss": total / count}))
        row = {"epoch": epoch, "lr": lr, "loss": total / count, "seconds": time.perf_counter() - t0}
        # Train metrics as Keras reports them: from this epoch's training-mode outputs (so with
        # dropout active), not from a second pass over the data.
        order = np.concatenate(batches)
        seen = type(data)(x[:0], y[order], None if lengths is None else lengths[order],
                          None if tlens is None else tlens[order])  # fmt: skip
        row.update(metrics_of(self.plan, self.cfg, np.concatenate(outputs), seen, prefix="",
                              target_scaler=self.target_scaler))
        if self.grad_norms is not None:
            self._warn(self.grad_norms.end_epoch(epoch))
        return row

    def _check_finite(self, row: dict, epoch: int) -> None:
        bad = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            kept = f" The checkpoint of epoch {epoch - 1} was kept." if self.files and epoch > 1 else ""
            raise TrainingDiverged(
                f"training diverged at epoch {epoch}: {', '.join(bad)} became NaN or infinite. "
                f"Try a smaller learning rate, gradient clipping (train.clip_norm) or standardize = true.{kept}"
            )

    # -- the run ------------------------------------------------------------------------------
    def fit(self, train, val=None) -> TrainOutcome:
        # A run restored after it had already stopped early stays stopped.
        es = self.stopper
        stopped = bool(es and es.state.best_epoch and es.state.wait >= es.cfg.patience)
        # Overflow shows up as a non-finite loss, reported with its epoch and batch; numpy's own
        # warnings would only repeat it without the location.
        with np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(self.start_epoch + 1, self.epochs + 1):
                if stopped:
                    break
                row = self._epoch(epoch, train)
                if val is not None and len(val.x):
                    row.update(evaluate_arrays(self.plan, self.cfg, val, prefix="val_", target_scaler=self.target_scaler))
                self._check_finite(row, epoch)
                improved = False  # best.safetensors exists only when early stopping monitors
                if es is not None:
                    monitor = es.cfg.monitor if es.cfg.monitor in row else es.cfg.monitor.removeprefix("val_")
                    improved, stopped = es.update(row[monitor], epoch)
                    if improved and es.cfg.restore_best:
                        self.best_params = self.store.snapshot()
                self.history.append(row)
                if self.files is not None:
                    self.files.save_epoch(self, epoch, improved)
                try:
                    self.emit(Event("epoch_end", epoch, data=row))
                except StopTraining:  # asked to stop by the callback (e.g. a pruned sweep trial)
                    self.emit(Event("stop_requested", epoch))
                    break
                if stopped:
                    self.emit(Event("early_stop", epoch, data={"best_epoch": es.state.best_epoch}))
        best_epoch = es.state.best_epoch if es else len(self.history)
        if es and es.cfg.restore_best and self.best_params is not None:
            self.store.load(self.best_params)
            self.emit(Event("restore_best", best_epoch, data={"best_epoch": best_epoch}))
        return TrainOutcome(self.history, stopped, best_epoch, len(self.history))

    # -- checkpoint state ---------------------------------------------------------------------
    def state_meta(self, epoch: int) -> dict:
        return {
            "epoch": epoch,
            "epochs": self.epochs,
            "optimizer_t": self.opt.t,
            "rng": {k: g.bit_generator.state for k, g in self.rngs.items()},
            "history": self.history,
            "gradients": self.grad_norms.history if self.grad_norms else [],
            "early_stopping": self.stopper.to_dict() if self.stopper else None,
        }

    def state_arrays(self) -> dict[str, np.ndarray]:
        arrays = dict(self.store.state_dict())
        arrays.update({f"optimizer/{k}": v for k, v in self.opt.state.items()})
        return arrays

    def restore(self, arrays: dict[str, np.ndarray], meta: dict, best: dict | None) -> None:
        try:
            self.store.load({k: v for k, v in arrays.items() if not k.startswith("optimizer/")})
            for k, v in arrays.items():
                if k.startswith("optimizer/"):
                    self.opt.slot(k.removeprefix("optimizer/"))[...] = v
            self.opt.t = meta["optimizer_t"]
            for k, g in self.rngs.items():
                g.bit_generator.state = meta["rng"][k]
            self.history = list(meta["history"])
            if self.grad_norms is not None:
                self.grad_norms.history = list(meta.get("gradients", []))
            self.start_epoch = meta["epoch"]
            if self.stopper is not None and meta.get("early_stopping"):
                self.stopper.state = EarlyStopState(**meta["early_stopping"])
            self.best_params = best
        except (KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(f"the checkpoint does not match this spec's model ({exc})") from None
