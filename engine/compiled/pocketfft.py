"""numpy's real FFT (pocketfft ``rfftp``) ported to numba, operation for operation, and numpy's z / |z|.

RTISI-LA is chaotic in the last bit (a rounding difference of 1e-16 grows to O(1) within a few hundred
frames), so its compiled kernel must repeat numpy's arithmetic exactly to keep the numpy processor's
figures: factors 4, 2, 3, 5 in pocketfft's order, the same twiddles (from long-double literals) and |z| as
numpy's SIMD modulus (larger * sqrt(fma(ratio, ratio, 1))). The compiled RTPGHI uses the same transform.
n_fft must be a product of 2, 3 and 5 (``fft_supported``). The unfolded, ADMM and GLA steps, which are not
chaotic, use FFTW instead (``fftw``), the faster binding.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba.core import types
from numba.extending import intrinsic
from phasefold.engine.compiled.jit import kernel
from phasefold.engine.errors import BackendError


def _ld(literal: str) -> float:
    """A C++ long double literal converted to double, as pocketfft's T0(...L) does."""
    return float(np.longdouble(literal))


_PI_LD = np.longdouble("3.141592653589793238462643383279502884197")
_HSQT2 = _ld("0.707106781186547524400844362104849")
_SQRT2 = _ld("1.414213562373095048801688724209698")
_TAUI = _ld("0.8660254037844386467637231707529362")
_TR11 = _ld("0.3090169943749474241022934171828191")
_TI11 = _ld("0.9510565162951535721164393333793821")
_TR12 = _ld("-0.8090169943749474241022934171828191")
_TI12 = _ld("0.5877852522924731291687059546390728")


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma), as numpy's SIMD loops compute it."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return sig, codegen


def _element_pointer(context, builder, signature, args):
    """Pointer to element args[1] of the 1-D contiguous array args[0], without negative-index wrapping."""
    data = context.make_array(signature.args[0])(context, builder, args[0]).data
    return builder.gep(data, [args[1]], inbounds=True)


@intrinsic
def _get(typingctx, arr, i):
    """arr[i] for 0 <= i < len(arr), unchecked (no wraparound test: the hot FFT loops vectorise)."""
    sig = arr.dtype(arr, types.intp)
    return sig, lambda context, builder, signature, args: builder.load(
        _element_pointer(context, builder, signature, args)
    )


@intrinsic
def _put(typingctx, arr, i, value):
    """arr[i] = value for 0 <= i < len(arr), unchecked."""
    sig = types.void(arr, types.intp, arr.dtype)

    def codegen(context, builder, signature, args):
        builder.store(args[2], _element_pointer(context, builder, signature, args))
        return context.get_dummy_value()

    return sig, codegen


class FftPlan(NamedTuple):
    """pocketfft's ``rfftp`` plan of one length: factors, twiddle offsets, twiddles, orthonormal scale."""

    factors: np.ndarray
    offsets: np.ndarray
    twiddles: np.ndarray
    fct: float


def _factorize(n: int) -> list[int]:
    """rfftp::factorize: fours first, a two moved to the front, then odd factors."""
    fact = []
    while n % 4 == 0:
        fact.append(4)
        n //= 4
    if n % 2 == 0:
        n //= 2
        fact.append(2)
        fact[0], fact[-1] = fact[-1], fact[0]
    d = 3
    while d * d <= n:
        while n % d == 0:
            fact.append(d)
            n //= d
        d += 2
    if n > 1:
        fact.append(n)
    return fact


def fft_supported(n: int) -> bool:
    """Whether the ported real FFT handles length n (radix 2, 3, 4 and 5 only)."""
    return n >= 2 and all(f <= 5 for f in _factorize(n))


def _sincos_2pibyn(n: int) -> list[tuple[float, float]]:
    """pocketfft's sincos_2pibyn table: exp(2 pi i k / n) for k < n, from two tables of cos / sin."""
    ang = float(np.longdouble(0.25) * _PI_LD / np.longdouble(n))

    def calc(x: int) -> tuple[float, float]:
        x <<= 3
        if x < 4 * n:
            if x < 2 * n:
                if x < n:
                    return math.cos(x * ang), math.sin(x * ang)
                return math.sin((2 * n - x) * ang), math.cos((2 * n - x) * ang)
            x -= 2 * n
            if x < n:
                return -math.sin(x * ang), math.cos(x * ang)
            return -math.cos((2 * n - x) * ang), math.sin((2 * n - x) * ang)
        x = 8 * n - x
        if x < 2 * n:
            if x < n:
                return math.cos(x * ang), -math.sin(x * ang)
            return math.sin((2 * n - x) * ang), -math.cos((2 * n - x) * ang)
        x -= 2 * n
        if x < n:
            return -math.sin(x * ang), -math.cos(x * ang)
        return -math.cos((2 * n - x) * ang), -math.sin((2 * n - x) * ang)

    nval = (n + 2) // 2
    shift = 1
    while (1 << shift) * (1 << shift) < nval:
        shift += 1
    mask = (1 << shift) - 1
    v1 = [(1.0, 0.0)] + [calc(i) for i in range(1, mask + 1)]
    v2 = [(1.0, 0.0)] + [calc(i * (mask + 1)) for i in range(1, (nval + mask) // (mask + 1))]
    table = []
    for idx in range(n):
        conj = 2 * idx > n
        j = n - idx if conj else idx
        (ar, ai), (br, bi) = v1[j & mask], v2[j >> shift]
        im = ar * bi + ai * br
        table.append((ar * br - ai * bi, -im if conj else im))
    return table


def fft_plan(n: int) -> FftPlan:
    """The plan numpy's pocketfft builds for a real FFT of length n (rfftp::comp_twiddle)."""
    if not fft_supported(n):
        raise BackendError(f"the compiled FFT needs an n_fft with prime factors 2, 3 and 5 only, not {n}")
    fact = _factorize(n)
    twid = _sincos_2pibyn(n)
    offsets, tw, l1 = [], [], 1
    for ip in fact:
        ido = n // (l1 * ip)
        offsets.append(len(tw))
        block = [0.0] * ((ip - 1) * (ido - 1))
        for j in range(1, ip):
            for i in range(1, (ido - 1) // 2 + 1):
                block[(j - 1) * (ido - 1) + 2 * i - 2] = twid[j * l1 * i][0]
                block[(j - 1) * (ido - 1) + 2 * i - 1] = twid[j * l1 * i][1]
        tw.extend(block)
        l1 *= ip
    return FftPlan(
        np.array(fact, dtype=np.int64),
        np.array(offsets, dtype=np.int64),
        np.array(tw + [0.0]),
        1.0 / math.sqrt(n),
    )


# pocketfft's radix passes, transcribed: CC / CH index lambdas written out, PM(a, b, c, d) is
# a = c + d, b = c - d and MULPM(a, b, c, d, e, f) is a = c e + d f, b = c f - d e.


@kernel
def _radf2(ido, l1, cc, ch, wa, w0):
    for k in range(l1):
        a, b = _get(cc, ido * k), _get(cc, ido * (k + l1))
        _put(ch, 2 * ido * k, a + b)
        _put(ch, ido - 1 + ido * (1 + 2 * k), a - b)
    if ido % 2 == 0:
        for k in range(l1):
            _put(ch, ido * (1 + 2 * k), -_get(cc, ido - 1 + ido * (k + l1)))
            _put(ch, ido - 1 + 2 * ido * k, _get(cc, ido - 1 + ido * k))
    if ido <= 2:
        return
    w1 = w0 - 2
    for k in range(l1):
        b0, b1, o0, o1 = ido * k - 1, ido * (k + l1) - 1, 2 * ido * k - 1, ido * (1 + 2 * k) - 1
        for i in range(2, ido, 2):
            ic = ido - i
            wr, wi = _get(wa, w1 + i), _get(wa, w1 + i + 1)
            cr, ci = _get(cc, b1 + i), _get(cc, b1 + i + 1)
            tr2 = wr * cr + wi * ci
            ti2 = wr * ci - wi * cr
            c0r, c0i = _get(cc, b0 + i), _get(cc, b0 + i + 1)
            _put(ch, o0 + i, c0r + tr2)
            _put(ch, o1 + ic, c0r - tr2)
            _put(ch, o0 + i + 1, ti2 + c0i)
            _put(ch, o1 + ic + 1, ti2 - c0i)


@kernel
def _radf3(ido, l1, cc, ch, wa, w0):
    taur, taui = -0.5, _TAUI
    for k in range(l1):
        c0, c1, c2 = cc[ido * k], cc[ido * (k + l1)], cc[ido * (k + 2 * l1)]
        cr2 = c1 + c2
        ch[3 * ido * k] = c0 + cr2
        ch[ido * (2 + 3 * k)] = taui * (c2 - c1)
        ch[ido - 1 + ido * (1 + 3 * k)] = c0 + taur * cr2
    if ido == 1:
        return
    for k in range(l1):
        for i in range(2, ido, 2):
            ic = ido - i
            w1r, w1i = wa[w0 + i - 2], wa[w0 + i - 1]
            w2r, w2i = wa[w0 + (ido - 1) + i - 2], wa[w0 + (ido - 1) + i - 1]
            c1r, c1i = cc[i - 1 + ido * (k + l1)], cc[i + ido * (k + l1)]
            c2r, c2i = cc[i - 1 + ido * (k + 2 * l1)], cc[i + ido * (k + 2 * l1)]
            dr2 = w1r * c1r + w1i * c1i
            di2 = w1r * c1i - w1i * c1r
            dr3 = w2r * c2r + w2i * c2i
            di3 = w2r * c2i - w2i * c2r
            # POCKETFFT_REARRANGE(dr2, di2, dr3, di3)
            dr2, di2, dr3, di3 = dr2 + dr3, di2 + di3, di2 - di3, dr3 - dr2
            c0r, c0i = cc[i - 1 + ido * k], cc[i + ido * k]
            ch[i - 1 + 3 * ido * k] = c0r + dr2
            ch[i + 3 * ido * k] = c0i + di2
            tr2 = c0r + taur * dr2
            ti2 = c0i + taur * di2
            tr3 = taui * dr3
            ti3 = taui * di3
            ch[i - 1 + ido * (2 + 3 * k)] = tr2 + tr3
            ch[ic - 1 + ido * (1 + 3 * k)] = tr2 - tr3
            ch[i + ido * (2 + 3 * k)] = ti3 + ti2
            ch[ic + ido * (1 + 3 * k)] = ti3 - ti2


@kernel
def _radf4(ido, l1, cc, ch, wa, w0):
    hsqt2 = _HSQT2
    if ido == 1:  # the first forward pass: unit strides (vectorised)
        for k in range(l1):
            c0, c1, c2, c3 = _get(cc, k), _get(cc, k + l1), _get(cc, k + 2 * l1), _get(cc, k + 3 * l1)
            tr1, tr2 = c3 + c1, c0 + c2
            _put(ch, 4 * k + 2, c3 - c1)
            _put(ch, 4 * k + 1, c0 - c2)
            _put(ch, 4 * k, tr2 + tr1)
            _put(ch, 4 * k + 3, tr2 - tr1)
        return
    for k in range(l1):
        c0, c1 = _get(cc, ido * k), _get(cc, ido * (k + l1))
        c2, c3 = _get(cc, ido * (k + 2 * l1)), _get(cc, ido * (k + 3 * l1))
        tr1 = c3 + c1
        _put(ch, ido * (2 + 4 * k), c3 - c1)
        tr2 = c0 + c2
        _put(ch, ido - 1 + ido * (1 + 4 * k), c0 - c2)
        _put(ch, 4 * ido * k, tr2 + tr1)
        _put(ch, ido - 1 + ido * (3 + 4 * k), tr2 - tr1)
    if ido % 2 == 0:
        for k in range(l1):
            c0, c1 = _get(cc, ido - 1 + ido * k), _get(cc, ido - 1 + ido * (k + l1))
            c2, c3 = _get(cc, ido - 1 + ido * (k + 2 * l1)), _get(cc, ido - 1 + ido * (k + 3 * l1))
            ti1 = -hsqt2 * (c1 + c3)
            tr1 = hsqt2 * (c1 - c3)
            _put(ch, ido - 1 + 4 * ido * k, c0 + tr1)
            _put(ch, ido - 1 + ido * (2 + 4 * k), c0 - tr1)
            _put(ch, ido * (3 + 4 * k), ti1 + c2)
            _put(ch, ido * (1 + 4 * k), ti1 - c2)
    if ido <= 2:
        return
    w1, w2, w3 = w0 - 2, w0 + ido - 3, w0 + 2 * ido - 4
    for k in range(l1):
        b0, b1, b2, b3 = ido * k - 1, ido * (k + l1) - 1, ido * (k + 2 * l1) - 1, ido * (k + 3 * l1) - 1
        o0, o1, o2, o3 = 4 * ido * k - 1, ido * (1 + 4 * k) - 1, ido * (2 + 4 * k) - 1, ido * (3 + 4 * k) - 1
        for i in range(2, ido, 2):
            ic = ido - i
            w1r, w1i = _get(wa, w1 + i), _get(wa, w1 + i + 1)
            w2r, w2i = _get(wa, w2 + i), _get(wa, w2 + i + 1)
            w3r, w3i = _get(wa, w3 + i), _get(wa, w3 + i + 1)
            c1r, c1i = _get(cc, b1 + i), _get(cc, b1 + i + 1)
            c2r, c2i = _get(cc, b2 + i), _get(cc, b2 + i + 1)
            c3r, c3i = _get(cc, b3 + i), _get(cc, b3 + i + 1)
            cr2 = w1r * c1r + w1i * c1i
            ci2 = w1r * c1i - w1i * c1r
            cr3 = w2r * c2r + w2i * c2i
            ci3 = w2r * c2i - w2i * c2r
            cr4 = w3r * c3r + w3i * c3i
            ci4 = w3r * c3i - w3i * c3r
            tr1, tr4 = cr4 + cr2, cr4 - cr2
            ti1, ti4 = ci2 + ci4, ci2 - ci4
            c0r, c0i = _get(cc, b0 + i), _get(cc, b0 + i + 1)
            tr2, tr3 = c0r + cr3, c0r - cr3
            ti2, ti3 = c0i + ci3, c0i - ci3
            _put(ch, o0 + i, tr2 + tr1)
            _put(ch, o3 + ic, tr2 - tr1)
            _put(ch, o0 + i + 1, ti1 + ti2)
            _put(ch, o3 + ic + 1, ti1 - ti2)
            _put(ch, o2 + i, tr3 + ti4)
            _put(ch, o1 + ic, tr3 - ti4)
            _put(ch, o2 + i + 1, tr4 + ti3)
            _put(ch, o1 + ic + 1, tr4 - ti3)


@kernel
def _mulpm(wa, w0, i, cr, ci):
    """conj(twiddle i of the row at w0) * (cr + i ci), as MULPM."""
    wr, wi = wa[w0 + i - 2], wa[w0 + i - 1]
    return wr * cr + wi * ci, wr * ci - wi * cr


@kernel
def _radf5(ido, l1, cc, ch, wa, w0):
    tr11, ti11, tr12, ti12 = _TR11, _TI11, _TR12, _TI12
    for k in range(l1):
        c0, c1, c2 = cc[ido * k], cc[ido * (k + l1)], cc[ido * (k + 2 * l1)]
        c3, c4 = cc[ido * (k + 3 * l1)], cc[ido * (k + 4 * l1)]
        cr2, ci5 = c4 + c1, c4 - c1
        cr3, ci4 = c3 + c2, c3 - c2
        ch[5 * ido * k] = c0 + cr2 + cr3
        ch[ido - 1 + ido * (1 + 5 * k)] = c0 + tr11 * cr2 + tr12 * cr3
        ch[ido * (2 + 5 * k)] = ti11 * ci5 + ti12 * ci4
        ch[ido - 1 + ido * (3 + 5 * k)] = c0 + tr12 * cr2 + tr11 * cr3
        ch[ido * (4 + 5 * k)] = ti12 * ci5 - ti11 * ci4
    if ido == 1:
        return
    for k in range(l1):
        for i in range(2, ido, 2):
            ic = ido - i
            dr2, di2 = _mulpm(wa, w0, i, cc[i - 1 + ido * (k + l1)], cc[i + ido * (k + l1)])
            dr3, di3 = _mulpm(wa, w0 + ido - 1, i, cc[i - 1 + ido * (k + 2 * l1)], cc[i + ido * (k + 2 * l1)])
            dr4, di4 = _mulpm(
                wa, w0 + 2 * (ido - 1), i, cc[i - 1 + ido * (k + 3 * l1)], cc[i + ido * (k + 3 * l1)]
            )
            dr5, di5 = _mulpm(
                wa, w0 + 3 * (ido - 1), i, cc[i - 1 + ido * (k + 4 * l1)], cc[i + ido * (k + 4 * l1)]
            )
            dr2, di2, dr5, di5 = dr2 + dr5, di2 + di5, di2 - di5, dr5 - dr2
            dr3, di3, dr4, di4 = dr3 + dr4, di3 + di4, di3 - di4, dr4 - dr3
            c0r, c0i = cc[i - 1 + ido * k], cc[i + ido * k]
            ch[i - 1 + 5 * ido * k] = c0r + dr2 + dr3
            ch[i + 5 * ido * k] = c0i + di2 + di3
            tr2 = c0r + tr11 * dr2 + tr12 * dr3
            ti2 = c0i + tr11 * di2 + tr12 * di3
            tr3 = c0r + tr12 * dr2 + tr11 * dr3
            ti3 = c0i + tr12 * di2 + tr11 * di3
            tr5 = ti11 * dr5 + ti12 * dr4
            ti5 = ti11 * di5 + ti12 * di4
            tr4 = ti12 * dr5 - ti11 * dr4
            ti4 = ti12 * di5 - ti11 * di4
            ch[i - 1 + ido * (2 + 5 * k)] = tr2 + tr5
            ch[ic - 1 + ido * (1 + 5 * k)] = tr2 - tr5
            ch[i + ido * (2 + 5 * k)] = ti5 + ti2
            ch[ic + ido * (1 + 5 * k)] = ti5 - ti2
            ch[i - 1 + ido * (4 + 5 * k)] = tr3 + tr4
            ch[ic - 1 + ido * (3 + 5 * k)] = tr3 - tr4
            ch[i + ido * (4 + 5 * k)] = ti4 + ti3
            ch[ic + ido * (3 + 5 * k)] = ti4 - ti3


@kernel
def _radb2(ido, l1, cc, ch, wa, w0):
    for k in range(l1):
        a, b = _get(cc, 2 * ido * k), _get(cc, ido - 1 + ido * (1 + 2 * k))
        _put(ch, ido * k, a + b)
        _put(ch, ido * (k + l1), a - b)
    if ido % 2 == 0:
        for k in range(l1):
            _put(ch, ido - 1 + ido * k, 2 * _get(cc, ido - 1 + 2 * ido * k))
            _put(ch, ido - 1 + ido * (k + l1), -2 * _get(cc, ido * (1 + 2 * k)))
    if ido <= 2:
        return
    w1 = w0 - 2
    for k in range(l1):
        b0, b1, o0, o1 = 2 * ido * k - 1, ido * (1 + 2 * k) - 1, ido * k - 1, ido * (k + l1) - 1
        for i in range(2, ido, 2):
            ic = ido - i
            a, b = _get(cc, b0 + i), _get(cc, b1 + ic)
            _put(ch, o0 + i, a + b)
            tr2 = a - b
            a, b = _get(cc, b0 + i + 1), _get(cc, b1 + ic + 1)
            ti2 = a + b
            _put(ch, o0 + i + 1, a - b)
            wr, wi = _get(wa, w1 + i), _get(wa, w1 + i + 1)
            _put(ch, o1 + i + 1, wr * ti2 + wi * tr2)
            _put(ch, o1 + i, wr * tr2 - wi * ti2)


@kernel
def _radb3(ido, l1, cc, ch, wa, w0):
    taur, taui = -0.5, _TAUI
    for k in range(l1):
        tr2 = 2 * cc[ido - 1 + ido * (1 + 3 * k)]
        c0 = cc[3 * ido * k]
        cr2 = c0 + taur * tr2
        ch[ido * k] = c0 + tr2
        ci3 = 2 * taui * cc[ido * (2 + 3 * k)]
        ch[ido * (k + 2 * l1)] = cr2 + ci3
        ch[ido * (k + l1)] = cr2 - ci3
    if ido == 1:
        return
    for k in range(l1):
        for i in range(2, ido, 2):
            ic = ido - i
            a2r, a2i = cc[i - 1 + ido * (2 + 3 * k)], cc[i + ido * (2 + 3 * k)]
            a1r, a1i = cc[ic - 1 + ido * (1 + 3 * k)], cc[ic + ido * (1 + 3 * k)]
            c0r, c0i = cc[i - 1 + 3 * ido * k], cc[i + 3 * ido * k]
            tr2 = a2r + a1r
            ti2 = a2i - a1i
            cr2 = c0r + taur * tr2
            ci2 = c0i + taur * ti2
            ch[i - 1 + ido * k] = c0r + tr2
            ch[i + ido * k] = c0i + ti2
            cr3 = taui * (a2r - a1r)
            ci3 = taui * (a2i + a1i)
            dr3, dr2 = cr2 + ci3, cr2 - ci3
            di2, di3 = ci2 + cr3, ci2 - cr3
            w1r, w1i = wa[w0 + i - 2], wa[w0 + i - 1]
            w2r, w2i = wa[w0 + (ido - 1) + i - 2], wa[w0 + (ido - 1) + i - 1]
            ch[i + ido * (k + l1)] = w1r * di2 + w1i * dr2
            ch[i - 1 + ido * (k + l1)] = w1r * dr2 - w1i * di2
            ch[i + ido * (k + 2 * l1)] = w2r * di3 + w2i * dr3
            ch[i - 1 + ido * (k + 2 * l1)] = w2r * dr3 - w2i * di3


@kernel
def _radb4(ido, l1, cc, ch, wa, w0):
    sqrt2 = _SQRT2
    if ido == 1:  # the last backward pass: unit strides (vectorised)
        for k in range(l1):
            c0, c1, c2, c3 = _get(cc, 4 * k), _get(cc, 4 * k + 1), _get(cc, 4 * k + 2), _get(cc, 4 * k + 3)
            tr2, tr1 = c0 + c3, c0 - c3
            tr3, tr4 = 2 * c1, 2 * c2
            _put(ch, k, tr2 + tr3)
            _put(ch, k + 2 * l1, tr2 - tr3)
            _put(ch, k + 3 * l1, tr1 + tr4)
            _put(ch, k + l1, tr1 - tr4)
        return
    for k in range(l1):
        a, b = _get(cc, 4 * ido * k), _get(cc, ido - 1 + ido * (3 + 4 * k))
        tr2, tr1 = a + b, a - b
        tr3 = 2 * _get(cc, ido - 1 + ido * (1 + 4 * k))
        tr4 = 2 * _get(cc, ido * (2 + 4 * k))
        _put(ch, ido * k, tr2 + tr3)
        _put(ch, ido * (k + 2 * l1), tr2 - tr3)
        _put(ch, ido * (k + 3 * l1), tr1 + tr4)
        _put(ch, ido * (k + l1), tr1 - tr4)
    if ido % 2 == 0:
        for k in range(l1):
            a, b = _get(cc, ido * (3 + 4 * k)), _get(cc, ido * (1 + 4 * k))
            ti1, ti2 = a + b, a - b
            a, b = _get(cc, ido - 1 + 4 * ido * k), _get(cc, ido - 1 + ido * (2 + 4 * k))
            tr2, tr1 = a + b, a - b
            _put(ch, ido - 1 + ido * k, tr2 + tr2)
            _put(ch, ido - 1 + ido * (k + l1), sqrt2 * (tr1 - ti1))
            _put(ch, ido - 1 + ido * (k + 2 * l1), ti2 + ti2)
            _put(ch, ido - 1 + ido * (k + 3 * l1), -sqrt2 * (tr1 + ti1))
    if ido <= 2:
        return
    w1, w2, w3 = w0 - 2, w0 + ido - 3, w0 + 2 * ido - 4
    for k in range(l1):
        b0, b1, b2, b3 = 4 * ido * k - 1, ido * (1 + 4 * k) - 1, ido * (2 + 4 * k) - 1, ido * (3 + 4 * k) - 1
        o0, o1, o2, o3 = ido * k - 1, ido * (k + l1) - 1, ido * (k + 2 * l1) - 1, ido * (k + 3 * l1) - 1
        for i in range(2, ido, 2):
            ic = ido - i
            a, b = _get(cc, b0 + i), _get(cc, b3 + ic)
            tr2, tr1 = a + b, a - b
            a, b = _get(cc, b0 + i + 1), _get(cc, b3 + ic + 1)
            ti1, ti2 = a + b, a - b
            a, b = _get(cc, b2 + i + 1), _get(cc, b1 + ic + 1)
            tr4, ti3 = a + b, a - b
            a, b = _get(cc, b2 + i), _get(cc, b1 + ic)
            tr3, ti4 = a + b, a - b
            _put(ch, o0 + i, tr2 + tr3)
            cr3 = tr2 - tr3
            _put(ch, o0 + i + 1, ti2 + ti3)
            ci3 = ti2 - ti3
            cr4, cr2 = tr1 + tr4, tr1 - tr4
            ci2, ci4 = ti1 + ti4, ti1 - ti4
            w1r, w1i = _get(wa, w1 + i), _get(wa, w1 + i + 1)
            w2r, w2i = _get(wa, w2 + i), _get(wa, w2 + i + 1)
            w3r, w3i = _get(wa, w3 + i), _get(wa, w3 + i + 1)
            _put(ch, o1 + i + 1, w1r * ci2 + w1i * cr2)
            _put(ch, o1 + i, w1r * cr2 - w1i * ci2)
            _put(ch, o2 + i + 1, w2r * ci3 + w2i * cr3)
            _put(ch, o2 + i, w2r * cr3 - w2i * ci3)
            _put(ch, o3 + i + 1, w3r * ci4 + w3i * cr4)
            _put(ch, o3 + i, w3r * cr4 - w3i * ci4)


@kernel
def _radb5(ido, l1, cc, ch, wa, w0):
    tr11, ti11, tr12, ti12 = _TR11, _TI11, _TR12, _TI12
    for k in range(l1):
        ti5 = cc[ido * (2 + 5 * k)] + cc[ido * (2 + 5 * k)]
        ti4 = cc[ido * (4 + 5 * k)] + cc[ido * (4 + 5 * k)]
        tr2 = cc[ido - 1 + ido * (1 + 5 * k)] + cc[ido - 1 + ido * (1 + 5 * k)]
        tr3 = cc[ido - 1 + ido * (3 + 5 * k)] + cc[ido - 1 + ido * (3 + 5 * k)]
        c0 = cc[5 * ido * k]
        ch[ido * k] = c0 + tr2 + tr3
        cr2 = c0 + tr11 * tr2 + tr12 * tr3
        cr3 = c0 + tr12 * tr2 + tr11 * tr3
        ci5 = ti5 * ti11 + ti4 * ti12
        ci4 = ti5 * ti12 - ti4 * ti11
        ch[ido * (k + 4 * l1)] = cr2 + ci5
        ch[ido * (k + l1)] = cr2 - ci5
        ch[ido * (k + 3 * l1)] = cr3 + ci4
        ch[ido * (k + 2 * l1)] = cr3 - ci4
    if ido == 1:
        return
    for k in range(l1):
        for i in range(2, ido, 2):
            ic = ido - i
            a, b = cc[i - 1 + ido * (2 + 5 * k)], cc[ic - 1 + ido * (1 + 5 * k)]
            tr2, tr5 = a + b, a - b
            a, b = cc[i + ido * (2 + 5 * k)], cc[ic + ido * (1 + 5 * k)]
            ti5, ti2 = a + b, a - b
            a, b = cc[i - 1 + ido * (4 + 5 * k)], cc[ic - 1 + ido * (3 + 5 * k)]
            tr3, tr4 = a + b, a - b
            a, b = cc[i + ido * (4 + 5 * k)], cc[ic + ido * (3 + 5 * k)]
            ti4, ti3 = a + b, a - b
            c0r, c0i = cc[i - 1 + 5 * ido * k], cc[i + 5 * ido * k]
            ch[i - 1 + ido * k] = c0r + tr2 + tr3
            ch[i + ido * k] = c0i + ti2 + ti3
            cr2 = c0r + tr11 * tr2 + tr12 * tr3
            ci2 = c0i + tr11 * ti2 + tr12 * ti3
            cr3 = c0r + tr12 * tr2 + tr11 * tr3
            ci3 = c0i + tr12 * ti2 + tr11 * ti3
            cr5 = tr5 * ti11 + tr4 * ti12
            cr4 = tr5 * ti12 - tr4 * ti11
            ci5 = ti5 * ti11 + ti4 * ti12
            ci4 = ti5 * ti12 - ti4 * ti11
            dr4, dr3 = cr3 + ci4, cr3 - ci4
            di3, di4 = ci3 + cr4, ci3 - cr4
            dr5, dr2 = cr2 + ci5, cr2 - ci5
            di2, di5 = ci2 + cr5, ci2 - cr5
            dr = (dr2, dr3, dr4, dr5)
            di = (di2, di3, di4, di5)
            for m in range(4):
                wr, wi = wa[w0 + m * (ido - 1) + i - 2], wa[w0 + m * (ido - 1) + i - 1]
                ch[i + ido * (k + (m + 1) * l1)] = wr * di[m] + wi * dr[m]
                ch[i - 1 + ido * (k + (m + 1) * l1)] = wr * dr[m] - wi * di[m]


@kernel
def fft_exec(c, ch, factors, offsets, twiddles, fct, forward):
    """rfftp::exec in place on c (fftpack order), ch a scratch array of the same length."""
    n = c.shape[0]
    nf = factors.shape[0]
    p1, p2 = c, ch
    if forward:
        l1 = n
        for k1 in range(nf):
            k = nf - k1 - 1
            ip = factors[k]
            ido = n // l1
            l1 //= ip
            if ip == 4:
                _radf4(ido, l1, p1, p2, twiddles, offsets[k])
            elif ip == 2:
                _radf2(ido, l1, p1, p2, twiddles, offsets[k])
            elif ip == 3:
                _radf3(ido, l1, p1, p2, twiddles, offsets[k])
            else:
                _radf5(ido, l1, p1, p2, twiddles, offsets[k])
            p1, p2 = p2, p1
    else:
        l1 = 1
        for k in range(nf):
            ip = factors[k]
            ido = n // (ip * l1)
            if ip == 4:
                _radb4(ido, l1, p1, p2, twiddles, offsets[k])
            elif ip == 2:
                _radb2(ido, l1, p1, p2, twiddles, offsets[k])
            elif ip == 3:
                _radb3(ido, l1, p1, p2, twiddles, offsets[k])
            else:
                _radb5(ido, l1, p1, p2, twiddles, offsets[k])
            p1, p2 = p2, p1
            l1 *= ip
    # copy_and_norm: the result is in p1
    if nf % 2 == 1 and fct != 1.0:
        for i in range(n):
            c[i] = fct * p1[i]
    elif nf % 2 == 1:
        c[:] = p1
    elif fct != 1.0:
        for i in range(n):
            c[i] *= fct


@kernel
def unit(re, im):
    """z / |z| (1 where z = 0), rounded as numpy: |z| = larger * sqrt(fma(ratio, ratio, 1)), z * (1 / |z|)."""
    larger, smaller = max(abs(re), abs(im)), min(abs(re), abs(im))
    ratio = smaller / larger if larger > 0.0 else 0.0
    mag = np.sqrt(fma(ratio, ratio, 1.0)) * larger
    if mag > 0.0:
        scl = 1.0 / mag
        return re * scl, im * scl
    return 1.0, 0.0
