"""The bench workloads written as a PyTorch user would write them (nn.Sequential, conv padding
inside the layer, nn.LSTM): the same architectures as the specs in bench/workloads/."""

from __future__ import annotations

import torch
from torch import nn


class LastStep(nn.Module):
    """nn.LSTM (batch_first) -> its output at the last step (many-to-one)."""

    def __init__(self, n_in: int, units: int):
        super().__init__()
        self.lstm = nn.LSTM(n_in, units, batch_first=True)

    def forward(self, x):
        y, _ = self.lstm(x)
        return y[:, -1]


def build(name: str) -> nn.Module:
    """The model of workload `name`; classification models return logits."""
    if name == "mlp_digits":
        return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    if name == "mlp_mnist":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    if name == "cnn_mnist":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
        )  # fmt: skip
    if name == "lstm_seq":
        return nn.Sequential(LastStep(8, 64), nn.Linear(64, 1))
    raise KeyError(name)


def loss_fn(name: str):
    return nn.MSELoss() if name == "lstm_seq" else nn.CrossEntropyLoss()


def outputs(name: str, z: torch.Tensor) -> torch.Tensor:
    """What netspec's predict returns: probabilities for the classifiers."""
    return z if name == "lstm_seq" else torch.softmax(z, dim=-1)
