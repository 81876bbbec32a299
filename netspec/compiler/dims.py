"""The smallest size each symbolic input dimension may take: below it some window (conv, pool)
would not fit. Found from the shape rules alone, by search over the size."""

from __future__ import annotations

from ..ir.graph import Graph
from ..kernels.shapes import dim_size

LARGE = 1 << 20


def _fits(graph: Graph, sizes: dict[str, int]) -> bool:
    return all(dim_size(d, sizes) >= 1 for n in graph.nodes for d in n.shape[1:])


def min_sizes(graph: Graph) -> dict[str, int]:
    """{symbol: smallest valid size} for every symbolic per-sample input dim (others held large)."""
    names = [d for d in graph.input_shape[1:] if isinstance(d, str)]
    out = {}
    for name in names:
        sizes = {n: LARGE for n in names}
        lo, hi = 1, LARGE
        while lo < hi:  # validity is monotone in the size
            mid = (lo + hi) // 2
            sizes[name] = mid
            if _fits(graph, sizes):
                hi = mid
            else:
                lo = mid + 1
        out[name] = lo
    return out
