"""Numba loops for the kernels' data movement (see compiled.py for when they run).

Each loop does what the numpy code it stands in for does, element for element: the same copies,
the same maxima with the same first-winner codes, the same sums added in the same order. Loops
index 1-D views from zero (`src[i]`, not `row[off + i]`): the offset form kept LLVM from
vectorizing the copies (4x slower in a prototype, on conv 16->32 columns).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def wide_im2col(q, taps, length, cols):
    """cols[s, c * T + t, :length] = q[s, c, phase_t, offset_t:][:length] (conv_wide.im2col);
    q (n, C, phases, Hq * Wq), cols (n, >= C * T, >= length), taps (T, 2) = (phase, offset)."""
    n, ch, nt = q.shape[0], q.shape[1], taps.shape[0]
    for s in range(n):
        for c in range(ch):
            for t in range(nt):
                src, dst = q[s, c, taps[t, 0], taps[t, 1] :], cols[s, c * nt + t]
                for i in range(length):
                    dst[i] = src[i]


@njit(cache=True, nogil=True)
def wide_col2im(dcols, taps, length, dq):
    """dq[s, c, phase_t, offset_t:][:length] += dcols[s, c * T + t] for t in order (conv_wide.col2im)."""
    n, ch, nt = dq.shape[0], dq.shape[1], taps.shape[0]
    for s in range(n):
        for c in range(ch):
            for t in range(nt):
                src, dst = dcols[s, c * nt + t], dq[s, c, taps[t, 0], taps[t, 1] :]
                for i in range(length):
                    dst[i] += src[i]


@njit(cache=True, nogil=True)
def im2col(xp, kernel, strides, dilations, out_hw, cols):
    """Plain columns: cols[s, (c, i, j), a * Wo + b] = xp[s, c, i dh + a sh, j dw + b sw]
    (conv._im2col); cols (n, >= C kh kw, Ho Wo)."""
    n, ch = xp.shape[0], xp.shape[1]
    kh, kw = kernel
    sh, sw = strides
    dh, dw = dilations
    ho, wo = out_hw
    for s in range(n):
        for c in range(ch):
            for i in range(kh):
                for j in range(kw):
                    dst = cols[s, (c * kh + i) * kw + j]
                    for a in range(ho):
                        src, row = xp[s, c, i * dh + a * sh, j * dw :], dst[a * wo :]
                        if sw == 1:  # a contiguous run: vectorized only when written so
                            for b in range(wo):
                                row[b] = src[b]
                        else:
                            for b in range(wo):
                                row[b] = src[b * sw]


@njit(cache=True, nogil=True)
def _relu_rows(y):
    """y <- max(y, 0) (activations.relu: np.maximum, so NaN stays NaN)."""
    n, ch, ho, wo = y.shape
    for s in range(n):
        for c in range(ch):
            for i in range(ho):
                out = y[s, c, i]
                for j in range(wo):
                    out[j] = np.maximum(out[j], 0)


@njit(cache=True, nogil=True)
def max_pool2_codes(xp, pitch, kh, strides, rows, hcode, y, vcode, relu):
    """A (kh, 2) max pool, kh 1 or 2, as max_pool.max_pool_into's two passes with codes: rows (n, C,
    Hp, Wo) <- each row's max over its 2 offsets, hcode 1 where the second strictly wins; y (n,
    C, Ho, Wo) <- the max of those over the kh rows, vcode likewise (np.maximum: NaN propagates
    as in the numpy passes; codes are the same strict comparisons); then relu(y) if `relu`. xp
    is (n, C, L): image row r starts at r * pitch (max_pool.py's `_as_rows`)."""
    sh, sw = strides
    n, ch, hp = xp.shape[0], xp.shape[1], rows.shape[2]
    for s in range(n):
        for c in range(ch):
            for r in range(hp):
                src, out, code = xp[s, c, r * pitch :], rows[s, c, r], hcode[s, c, r]
                for j in range(out.shape[0]):
                    a, b = src[j * sw], src[j * sw + 1]
                    out[j], code[j] = np.maximum(a, b), b > a
            for i in range(y.shape[2]):
                out, code, ra = y[s, c, i], vcode[s, c, i], rows[s, c, i * sh]
                rb = rows[s, c, i * sh + kh - 1]
                for j in range(out.shape[0]):
                    if kh == 1:
                        out[j], code[j] = ra[j], 0
                    else:
                        out[j], code[j] = np.maximum(ra[j], rb[j]), rb[j] > ra[j]
    if relu:
        _relu_rows(y)


@njit(cache=True, nogil=True)
def max_pool2(xp, pitch, wp, kh, strides, y, relu):
    """y (n, C, Ho, Wo) <- the max over each (kh, 2) window of xp (n, C, L; rows of wp values at
    a pitch, as in max_pool2_codes), kh 1 or 2 (inference: no codes): the max of the window's
    rows first, then of each pair along it; then relu(y) if `relu`."""
    n, ch = xp.shape[0], xp.shape[1]
    sh, sw = strides
    ho = y.shape[2]
    both = np.empty(wp, xp.dtype)
    for s in range(n):
        for c in range(ch):
            for i in range(ho):
                ra, rb, out = xp[s, c, i * sh * pitch :], xp[s, c, (i * sh + kh - 1) * pitch :], y[s, c, i]
                for t in range(wp):
                    both[t] = np.maximum(ra[t], rb[t])
                if sw == 2:
                    for j in range(out.shape[0]):
                        out[j] = np.maximum(both[2 * j], both[2 * j + 1])
                else:
                    for j in range(out.shape[0]):
                        out[j] = np.maximum(both[j * sw], both[j * sw + 1])
    if relu:
        _relu_rows(y)


@njit(cache=True, nogil=True)
def max_pool2x2_values(xp, pitch, kh, y, relu):
    """max_pool2x2 without codes (inference): y (n, C, Ho, Wo) <- the max of each window: the
    max of its two rows first, in one contiguous pass over the row pair, then of each pair with
    the stride literal (max_pool2's general `j * sw` loop ran ~2x slower). Rows-first ran 1.6x
    faster on cnn_mnist's first pool (14 windows a row) and 1.15x on its second (7) than the
    four-way max per window (AVX2, in one process). The same maxima: np.maximum is exact, NaN
    propagates either way."""
    n, ch, ho, wo = y.shape
    both = np.empty(2 * wo, xp.dtype)
    for s in range(n):
        for c in range(ch):
            for i in range(ho):
                ra, rb = xp[s, c, kh * i * pitch :], xp[s, c, (kh * i + kh - 1) * pitch :]
                out = y[s, c, i]
                for t in range(2 * wo):
                    both[t] = np.maximum(ra[t], rb[t])
                for j in range(wo):
                    m = np.maximum(both[2 * j], both[2 * j + 1])
                    out[j] = np.maximum(m, 0) if relu else m


@njit(cache=True, nogil=True, inline="always")
def _live(g, lv, masked):
    """g, or g * 0 (what numpy's g * False gives, NaN and inf included) where the relu behind
    the pool cut its output (lv <= 0)."""
    return g * np.float32(lv > 0) if masked else g


@njit(cache=True, nogil=True)
def max_pool2x2(xp, pitch, kh, y, code, relu):
    """The (kh, 2) max pool at strides (kh, 2), kh 2 (2x2) or 1 (a 1-D pool of 2), in one pass:
    y (n, C, Ho, Wo) <- the max of each window of xp (n, C, L; rows at a pitch, as in
    max_pool2_codes), relu'd if `relu`; code (uint8, y's shape) <- the numpy passes' three
    comparisons packed: bit 0 the bottom row's max strictly beats the top's, bit 1 (2) the top
    row's right input beats its left, bit 2 (4) the same in the bottom row (at kh 1 the bottom
    row is the top one). The same values and winners as the two passes, a third of the codes."""
    n, ch, ho, wo = y.shape
    for s in range(n):
        for c in range(ch):
            for i in range(ho):
                ra, rb = xp[s, c, kh * i * pitch :], xp[s, c, (kh * i + kh - 1) * pitch :]
                out, cd = y[s, c, i], code[s, c, i]
                for j in range(wo):  # the stride literal: LLVM vectorizes the pairs
                    a0, a1, b0, b1 = ra[2 * j], ra[2 * j + 1], rb[2 * j], rb[2 * j + 1]
                    top, bottom = np.maximum(a0, a1), np.maximum(b0, b1)
                    m = np.maximum(top, bottom)
                    out[j] = np.maximum(m, 0) if relu else m
                    cd[j] = (bottom > top) + 2 * (a1 > a0) + 4 * (b1 > b0)


@njit(cache=True, nogil=True, inline="always")
def _spread_pairs(share, cd, bit, d, wo, wp):
    """One input row of max_unpool2x2: each window's share to its right input * the code's
    `bit`, the rest to its left; inputs past the last window get 0."""
    for j in range(wo):
        right = share[j] * np.float32((cd[j] & bit) != 0)
        d[2 * j + 1] = right
        d[2 * j] = share[j] - right
    for j in range(2 * wo, wp):  # a loop: a slice assignment cost ~40 ns a row, as much as the row
        d[j] = 0


@njit(cache=True, nogil=True)
def max_unpool2x2(dy, live, masked, code, kh, dxp, pitch, hp, wp):
    """The gradient of max_pool2x2 (kernel (kh, 2)) into dxp (n, C, L; rows of wp values at a pitch), with the
    numpy passes' arithmetic (max_pool._unpass): the bottom row gets g * bit 0, the top g - that;
    in each row the right input gets its share * its bit, the left the share - that. If
    `masked`, dy counts only where live > 0 (the relu behind the pool). One loop per
    destination row: with both rows in one loop LLVM cannot rule out that they overlap and does
    not vectorize (1.6x slower in a prototype). Rows are 7 to 14 windows, so what a row costs
    besides its values counts: the two rows written without a loop over a tuple of them and
    without slice assignments ran 1.9x faster (cnn_mnist's pools, AVX2)."""
    n, ch, ho, wo = dy.shape
    top, bottom = np.empty(wo, dy.dtype), np.empty(wo, dy.dtype)
    for s in range(n):
        for c in range(ch):
            for i in range(ho):
                gr, lv, cd = dy[s, c, i], live[s, c, i], code[s, c, i]
                for j in range(wo):
                    g = _live(gr[j], lv[j], masked)
                    bottom[j] = g * np.float32(cd[j] & 1)
                    top[j] = g - bottom[j]
                r = kh * i
                _spread_pairs(top, cd, 2, dxp[s, c, r * pitch : r * pitch + wp], wo, wp)
                if kh == 2:  # a 1-D pool has no bottom row
                    _spread_pairs(bottom, cd, 4, dxp[s, c, (r + 1) * pitch : (r + 1) * pitch + wp], wo, wp)
            for r in range(kh * ho, hp):  # rows no window covers
                d = dxp[s, c, r * pitch : r * pitch + wp]
                for j in range(wp):
                    d[j] = 0


@njit(cache=True, nogil=True)
def max_unpool2(dy, live, masked, hcode, vcode, kh, strides, dxp, pitch, hp, wp):
    """The gradient of max_pool2_codes for windows that do not overlap (strides >= kernel): dxp
    (n, C, L; rows of wp values at a pitch, as max_pool2_codes reads them) <- dy (n, C, Ho, Wo)
    at each window's winner, 0 at every other input. If `masked` (a relu behind the pool, whose
    output is `live`), dy counts only where live > 0, as max_pool.relu_masked makes it."""
    n, ch, ho, wo = dy.shape
    sh, sw = strides
    for s in range(n):
        for c in range(ch):
            for r in range(hp):
                dxp[s, c, r * pitch : r * pitch + wp] = 0
            for i in range(ho):
                gr, lv, vc = dy[s, c, i], live[s, c, i], vcode[s, c, i]
                for a in range(kh):  # each window offset gets g * (code == offset), as numpy's passes
                    r = i * sh + a
                    hc, d = hcode[s, c, r], dxp[s, c, r * pitch :]
                    for j in range(wo):
                        g = _live(gr[j], lv[j], masked) * np.float32(vc[j] == a)
                        d[j * sw] = g * np.float32(hc[j] == 0)
                        d[j * sw + 1] = g * np.float32(hc[j] == 1)


@njit(cache=True, nogil=True)
def pad(x, top, left, value, out):
    """out (n, C, Hp, Wp) <- x (n, C, H, W) at (top, left), `value` everywhere else (Window.pad).
    The fills are loops: slice assignments cost more a row than 14 to 28 values do (conv 16
    channels at 14x14, batch 256: 0.44 vs 0.35 ms in one process)."""
    n, ch, h, w = x.shape
    wp = out.shape[3]
    for s in range(n):
        for c in range(ch):
            for r in range(out.shape[2]):
                row = out[s, c, r]
                if r < top or r >= top + h:
                    for t in range(wp):
                        row[t] = value
                    continue
                src, dst = x[s, c, r - top], row[left:]
                for t in range(left):
                    row[t] = value
                for t in range(w):
                    dst[t] = src[t]
                for t in range(left + w, wp):
                    row[t] = value
