"""Optimizers over the flat parameter buffer (PyTorch's update rules, so runs are comparable).

Each keeps its state as named flat arrays (saved in checkpoints) and updates in place.
"""

from __future__ import annotations

import numpy as np

from ..spec.models import SGD, Adam, RMSprop


class Optimizer:
    def __init__(self, size: int, dtype):
        self.state: dict[str, np.ndarray] = {}
        self.t = 0  # steps taken
        self.size, self.dtype = size, dtype

    def slot(self, name: str) -> np.ndarray:
        if name not in self.state:
            self.state[name] = np.zeros(self.size, dtype=self.dtype)
        return self.state[name]

    def step(self, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        raise NotImplementedError


class SGDOptimizer(Optimizer):
    def __init__(self, cfg: SGD, size: int, dtype):
        super().__init__(size, dtype)
        self.momentum, self.nesterov = cfg.momentum, cfg.nesterov
        self._tmp = np.empty(size, dtype=dtype)

    def step(self, w, g, lr):
        self.t += 1
        if not self.momentum:
            np.multiply(g, lr, out=self._tmp)
            w -= self._tmp
            return
        v = self.slot("momentum")
        if self.t == 1:
            v[...] = g
        else:
            v *= self.momentum
            v += g
        if self.nesterov:
            np.multiply(v, self.momentum, out=self._tmp)
            self._tmp += g
            self._tmp *= lr
        else:
            np.multiply(v, lr, out=self._tmp)
        w -= self._tmp


class AdamOptimizer(Optimizer):
    def __init__(self, cfg: Adam, size: int, dtype):
        super().__init__(size, dtype)
        self.b1, self.b2, self.eps = cfg.beta1, cfg.beta2, cfg.epsilon
        self._tmp = np.empty(size, dtype=dtype)

    def step(self, w, g, lr):
        self.t += 1
        m, v, tmp = self.slot("m"), self.slot("v"), self._tmp
        m *= self.b1
        np.multiply(g, 1 - self.b1, out=tmp)
        m += tmp
        v *= self.b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - self.b2
        v += tmp
        c1 = 1 - self.b1**self.t
        c2 = 1 - self.b2**self.t
        np.sqrt(v, out=tmp)
        tmp /= np.sqrt(c2)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= lr / c1
        w -= tmp


class RMSpropOptimizer(Optimizer):
    def __init__(self, cfg: RMSprop, size: int, dtype):
        super().__init__(size, dtype)
        self.rho, self.eps, self.momentum = cfg.rho, cfg.epsilon, cfg.momentum
        self._tmp = np.empty(size, dtype=dtype)

    def step(self, w, g, lr):
        self.t += 1
        sq, tmp = self.slot("square_avg"), self._tmp
        sq *= self.rho
        np.multiply(g, g, out=tmp)
        tmp *= 1 - self.rho
        sq += tmp
        np.sqrt(sq, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        if self.momentum:
            buf = self.slot("momentum")
            buf *= self.momentum
            buf += tmp
            np.multiply(buf, lr, out=tmp)
        else:
            tmp *= lr
        w -= tmp


def make_optimizer(cfg, size: int, dtype) -> Optimizer:
    kinds = {"sgd": SGDOptimizer, "adam": AdamOptimizer, "rmsprop": RMSpropOptimizer}
    return kinds[cfg.type](cfg, size, dtype)
