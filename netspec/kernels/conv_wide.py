"""Wide-row columns for conv.py, at any stride.

numpy's cost in an im2col copy or a col2im add is per inner row, not per element (conv 16->32
at 14x14 has 14-float rows), so the conv kernels lay a kernel offset's inputs out as ONE
contiguous run instead of Ho short rows ("wide rows"): output positions sit on the input's row
pitch, and offset (i, j) reads input_flat[off(i, j):][:L]. The pitch - Wo extra positions per
row are garbage in the forward (never read: the valid ones are a strided view, `valid`) and get
a zero dy in the backward, so they add nothing to dW or dX. At stride 1 the padded input is
laid out with its left and right padding shared between neighbouring rows (`shared_pad`), so
the pitch, and with it the garbage, is as small as the padding allows.

A stride s > 1 first splits the padded input into its s_h x s_w phases (phase (a, b) holds rows
a, a + s_h, ... and columns b, b + s_w, ...: one strided copy of the input in all). Kernel offset
(i, j) of a strided conv reads phase ((i d_h) mod s_h, (j d_w) mod s_w) with stride 1 from row
(i d_h) div s_h and column (j d_w) div s_w, so it too is one contiguous run, on the phase's
pitch. The backward adds column gradients into the phases and interleaves them back. Stride 1 is
the single phase: the padded input itself, no copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import compiled
from .windows import Window


def shared_pad(win: Window) -> Window:
    """The padded layout wide rows run on at stride 1, with left and right padding SHARED:
    a run that passes a row's right end reads on into the next row's left padding, which is
    zeros too. So a row needs fewer padding columns than left + right, and the pitch, hence
    the wide rows' garbage positions, shrinks: cnn_mnist's second conv (3x3 'same' at 14x14)
    has pitch 15, 209 positions a channel for 196 valid, where pitch 16 gave 222, 6% fewer
    GEMM columns. At most min(left, right) columns are shared (the right end of a run reads
    no further into the next row than that), and at most the kernel's reach minus one, so the
    pitch stays at least the output width (output rows must not overlap: their dy positions
    would). One extra zero row at the bottom is what the last run reads past the last row.
    Same taps, same values: only the layout of the padded input changes."""
    t, left, b, right = win.pads
    shared = min(left, right, win.dilations[1] * (win.kernel[1] - 1))
    if win.strides != (1, 1) or shared == 0 or win.out_hw[0] == 1:  # one output row: no garbage to save
        return win
    return Window(win.kernel, win.strides, win.dilations, (t, left, b + 1, right - shared), win.in_hw, win.out_hw)


@dataclass(frozen=True)
class Wide:
    grid: tuple[int, int]  # the strides: phases per axis
    phase_hw: tuple[int, int]  # (Hq, Wq) of every phase (the last rows/columns may be padding)
    taps: tuple[tuple[int, int], ...]  # (phase, offset in the flat phase) per kernel offset (i, j)
    length: int  # L: positions per channel
    out_hw: tuple[int, int]

    @property
    def phases(self) -> int:
        return self.grid[0] * self.grid[1]


def geometry(win: Window) -> Wide:
    (sh, sw), (dh, dw), (hp, wp) = win.strides, win.dilations, win.padded_hw
    hq, wq = -(-hp // sh), -(-wp // sw)
    taps = []
    for i in range(win.kernel[0]):
        for j in range(win.kernel[1]):
            r, c = i * dh, j * dw
            taps.append(((r % sh) * sw + c % sw, (r // sh) * wq + c // sw))
    ho, wo = win.out_hw
    # the last offset's run ends inside its phase: rows (r div s) + Ho - 1 < Hq, (c div s) + Wo <= Wq
    return Wide((sh, sw), (hq, wq), tuple(taps), (ho - 1) * wq + wo, win.out_hw)


def phases(xp: np.ndarray, g: Wide, out_flat: np.ndarray | None) -> np.ndarray:
    """(n, C, Hp, Wp) contiguous padded input -> (n, C, phases, Hq * Wq); `out_flat` (any array
    of n * C * phases * Hq * Wq elements) backs it when strided, stride 1 is a view of xp."""
    n, c = xp.shape[:2]
    if g.grid == (1, 1):
        return xp.reshape(n, c, 1, -1)
    (sh, sw), (hq, wq) = g.grid, g.phase_hw
    p = out_flat.reshape(n, c, sh, sw, hq, wq)
    for a in range(sh):
        for b in range(sw):
            src = xp[:, :, a::sh, b::sw]
            ha, wb = src.shape[2:]
            p[:, :, a, b, :ha, :wb] = src
            # never a valid position's input, but garbage positions read them: keep them
            # finite (0 * NaN would reach dW)
            if ha < hq:
                p[:, :, a, b, ha:] = 0
            if wb < wq:
                p[:, :, a, b, :ha, wb:] = 0
    return p.reshape(n, c, sh * sw, hq * wq)


def unphase(dq: np.ndarray, g: Wide, dxp: np.ndarray) -> None:
    """dxp (n, C, Hp, Wp) <- the phases dq (n, C, phases, Hq * Wq) interleaved (strided only)."""
    n, c = dxp.shape[:2]
    (sh, sw), (hq, wq) = g.grid, g.phase_hw
    p = dq.reshape(n, c, sh, sw, hq, wq)
    for a in range(sh):
        for b in range(sw):
            dst = dxp[:, :, a::sh, b::sw]
            dst[...] = p[:, :, a, b, : dst.shape[2], : dst.shape[3]]


def im2col(q: np.ndarray, g: Wide, out: np.ndarray) -> np.ndarray:
    """Phases q (n, C, phases, Hq * Wq) -> the first C * kh * kw rows of out (n, rows, L): wide-row
    columns, rows ordered (c, i, j) as the weight's (C, kh, kw); later rows are left alone."""
    n, c = q.shape[:2]
    if compiled.enabled():
        compiled.loops().wide_im2col(q, _tap_array(g), g.length, out)
        return out
    cols = out[:, : c * len(g.taps)].view()
    cols.shape = (n, c, len(g.taps), g.length)  # a view even of a row slice (raises rather than copy)
    for t, (ph, off) in enumerate(g.taps):
        cols[:, :, t] = q[:, :, ph, off : off + g.length]
    return out


def col2im(dcols: np.ndarray, g: Wide, dq: np.ndarray) -> None:
    """dq (n, C, phases, Hq * Wq) += the column gradients (n, C * kh * kw, L), one add per offset."""
    n, c = dq.shape[:2]
    if compiled.enabled():
        compiled.loops().wide_col2im(dcols, _tap_array(g), g.length, dq)
        return
    d4 = dcols.reshape(n, c, len(g.taps), g.length)
    for t, (ph, off) in enumerate(g.taps):
        dq[:, :, ph, off : off + g.length] += d4[:, :, t]


@lru_cache(maxsize=64)
def _tap_array(g: Wide) -> np.ndarray:
    """g.taps as the (T, 2) int64 array the compiled loops take."""
    return np.array(g.taps, dtype=np.int64).reshape(-1, 2)


def valid(wide: np.ndarray, g: Wide) -> np.ndarray:
    """The (n, F, Ho, Wo) valid positions of a (n, F, L) wide-row array, as a strided view."""
    n, f, _ = wide.shape
    s = wide.strides
    shape, strides = (n, f, *g.out_hw), (s[0], s[1], g.phase_hw[1] * s[2], s[2])
    if wide.flags.c_contiguous:  # a view on its buffer: ~0.7 us, as_strided ~4.6 (a dozen a step)
        return np.ndarray(shape, wide.dtype, wide, 0, strides)
    return np.lib.stride_tricks.as_strided(wide, shape, strides)
