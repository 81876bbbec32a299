"""Test-wide settings: one BLAS thread (two processes sharing 2 cores with 2-thread BLAS slow
GEMMs by orders of magnitude), and paths to the repo's folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
DATASETS = ROOT / "datasets"

_limits = threadpool_limits(limits=1)


@pytest.fixture
def root() -> Path:
    return ROOT
