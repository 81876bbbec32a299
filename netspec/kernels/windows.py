"""Sliding-window geometry shared by the conv and pool kernels.

Both families run one 2-D code path: a 1-D input (batch, C, L) is viewed as (batch, C, 1, L)
with kernel (1, k), so every kernel below indexes (N, C, H, W) arrays. A `Window` holds the
normalized geometry; `tap(i, j)` is the strided slice of the padded input that kernel offset
(i, j) reads for every output position at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import compiled


@dataclass(frozen=True)
class Window:
    kernel: tuple[int, int]
    strides: tuple[int, int]
    dilations: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, left, bottom, right (ONNX order for 2-D)
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]

    @property
    def padded_hw(self) -> tuple[int, int]:
        t, l, b, r = self.pads
        return self.in_hw[0] + t + b, self.in_hw[1] + l + r

    def tap(self, i: int, j: int) -> tuple[slice, slice]:
        """Rows and columns of the padded input read by kernel offset (i, j)."""
        (sh, sw), (dh, dw), (ho, wo) = self.strides, self.dilations, self.out_hw
        h0, w0 = i * dh, j * dw
        return slice(h0, h0 + sh * (ho - 1) + 1, sh), slice(w0, w0 + sw * (wo - 1) + 1, sw)

    def taps(self):
        """(i, j, rows, cols) for every kernel offset, row-major (the tie order of max pools)."""
        for i in range(self.kernel[0]):
            for j in range(self.kernel[1]):
                yield (i, j, *self.tap(i, j))

    def pad(self, x: np.ndarray, value: float = 0.0, out: np.ndarray | None = None) -> np.ndarray:
        """x with the padding applied (x itself when there is none), into `out` if given."""
        if not any(self.pads):
            return x
        t, l = self.pads[0], self.pads[1]
        hp, wp = self.padded_hw
        if out is None:
            out = np.empty((*x.shape[:2], hp, wp), dtype=x.dtype)
        if compiled.enabled():  # numpy copies the interior one short row per call
            compiled.loops().pad(x, t, l, value, out)
            return out
        h, w = x.shape[2], x.shape[3]
        # only the border is filled: the interior is overwritten by x anyway
        out[:, :, :t], out[:, :, t + h :] = value, value
        out[:, :, t : t + h, :l], out[:, :, t : t + h, l + w :] = value, value
        out[:, :, t : t + h, l : l + w] = x
        return out

    def crop(self, xp: np.ndarray) -> np.ndarray:
        """The unpadded part of a padded-layout array (a view)."""
        t, l = self.pads[0], self.pads[1]
        return xp[:, :, t : t + self.in_hw[0], l : l + self.in_hw[1]]


def window_2d(attrs: dict, x: np.ndarray, dilated: bool = True) -> tuple[Window, np.ndarray]:
    """The 2-D geometry for a conv/pool node and x as a 4-D (N, C, H, W) view."""
    nd = attrs["nd"]
    kernel, strides, pads = attrs["kernel"], attrs["strides"], attrs["pads"]
    dil = attrs["dilations"] if dilated else (1,) * nd
    if nd == 1:
        x = x[:, :, None, :]
        kernel, strides, dil = (1, kernel[0]), (1, strides[0]), (1, dil[0])
        pads = (0, pads[0], 0, pads[1])
    elif nd != 2:
        raise ValueError(f"conv/pool kernels support 1-D and 2-D windows, got nd={nd}")
    h, w = x.shape[2], x.shape[3]
    out = tuple(
        (size + pads[a] + pads[a + 2] - dil[a] * (kernel[a] - 1) - 1) // strides[a] + 1
        for a, size in enumerate((h, w))
    )
    win = Window(tuple(kernel), tuple(strides), tuple(dil), tuple(pads), (h, w), out)
    return win, x


def from_2d(y: np.ndarray, nd: int) -> np.ndarray:
    """Undo the 1-D -> 2-D view of `window_2d` on an (N, C, 1, L) result."""
    return y[:, :, 0, :] if nd == 1 else y
