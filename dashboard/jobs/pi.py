"""Pi to a chosen number of decimals, truncated, by the Chudnovsky or the Leibniz series.

Chudnovsky is the real method: each term adds about 14.18 digits, and the terms are summed by
binary splitting on gmpy2 integers. What may surprise a reader:

- The arithmetic is decimal fixed point: sqrt(10005) is taken as isqrt(10005 * 10**(2 * prec)),
  so the final quotient is an integer whose decimal string is the answer. That one conversion,
  str() of a million-digit mpz, is still the dearest of the final steps.
- T(0, n) includes the k = 0 term, so pi = 426880 * sqrt(10005) * Q / T, with no 13591409 * Q.
- Every factor of Q holds 640320**3 / 24 = 2**15 * 333833583375. The powers of two are kept as
  a shift count beside the odd part, so the big multiplications run on numbers about 15 % shorter.
- Ranges that end at the last term never need P (it only scales ranges further right), so the
  right edge of the splitting tree skips those multiplications.
- Q and T come out about twice as long as the answer; they are cut down before the division.
- Guard digits absorb the rounding. Should they read 99999999999x or 00000000000x, the truncated
  digits could be off by one, so the computation starts over with twice the guard digits (and
  the progress bar with it). The first ten million digits of pi hold no run of more than seven
  0s or 9s, so in practice this never happens.

Leibniz is offered to show how slowly a series can converge: the raw partial sums need about
10**d terms for d digits. The job sums N = 10**d / 2 terms (vectorised with numpy, four terms per
division) and then adds the Euler-Boole expansion of the alternating tail, which makes every digit
right; the raw sum alone is wrong in about its last digit. The cap of 10 digits comes from float64
(16 significant digits) and from the 5 * 10**9 terms that 10 digits already take.
"""

import math
from collections.abc import Callable
from enum import StrEnum
from typing import NamedTuple

import numpy as np
from gmpy2 import isqrt, mpz


class PiMethod(StrEnum):
    CHUDNOVSKY = "chudnovsky"
    LEIBNIZ = "leibniz"


MAX_DIGITS = 1_000_000
LEIBNIZ_MAX_DIGITS = 10
ProgressCallback = Callable[[float, str], None]


def compute_pi(digits: int, method: PiMethod, progress: ProgressCallback) -> str:
    """Returns "3." followed by exactly `digits` decimals of pi, TRUNCATED (not rounded)."""
    if digits < 1:
        raise ValueError(f"digits must be at least 1, not {digits}")
    if method == PiMethod.CHUDNOVSKY:
        return _chudnovsky_pi(digits, progress)
    if method == PiMethod.LEIBNIZ:
        if digits > LEIBNIZ_MAX_DIGITS:
            raise ValueError(f"the Leibniz series is capped at {LEIBNIZ_MAX_DIGITS} digits")
        return _leibniz_pi(digits, progress)
    raise ValueError(f"unknown method {method!r}")


# --- Chudnovsky ------------------------------------------------------------------------------

_A = 13591409
_B = 545140134
_TWOS_PER_TERM = 15
_ODD_C = 640320**3 // 24 >> _TWOS_PER_TERM
_DIGITS_PER_TERM = math.log10(640320**3 / 1728)
_BITS_PER_DIGIT = math.log2(10)
_GUARD_DIGITS = 12
# Below this many terms a plain loop beats further recursion, whose Python overhead per call
# outweighs multiplying numbers of a few hundred digits.
_LEAF_TERMS = 32
_ESTIMATE_DIGITS = 24
_SHOWN_DECIMALS = 20
# The largest term count whose p_k = (6k-5)(2k-1)(6k-1) still fits in an int64.
_INT64_SAFE_TERMS = 504_104
_SQRT_10005_FOR_ESTIMATE = isqrt(10005 * mpz(10) ** (2 * _ESTIMATE_DIGITS))


class _Sums(NamedTuple):
    """P, Q and T of a range of terms, with Q = q << q_twos."""

    p: mpz | None
    q: mpz
    t: mpz
    q_twos: int


def _chudnovsky_pi(
    digits: int, progress: ProgressCallback, guard_digits: int = _GUARD_DIGITS
) -> str:
    job = _ChudnovskyProgress(digits, digits + guard_digits, progress)
    text = str(_pi_scaled(digits + guard_digits, job))
    if _too_close_to_call(text[-guard_digits:]):
        return _chudnovsky_pi(digits, progress, 2 * guard_digits)
    job.finish()
    return f"{text[0]}.{text[1 : digits + 1]}"


def _too_close_to_call(guard: str) -> bool:
    """True when rounding errors of a few units could carry into the last kept digit."""
    return int(guard) < 10 or int(guard) > 10 ** len(guard) - 10


def _pi_scaled(prec: int, job: "_ChudnovskyProgress") -> mpz:
    """pi * 10**prec, give or take a few units."""
    sums = _BinarySplitting(_terms_for(prec), job).sums()
    job.phase("square root of 10005")
    root = isqrt(10005 * mpz(10) ** (2 * prec))
    job.phase_done(_SQRT_FACTOR)
    job.phase("dividing")
    q, t = _cut_to_precision(sums, prec)
    scaled = 426880 * root * q // t
    job.phase_done(_DIVISION_FACTOR)
    job.phase("formatting digits")
    return scaled


def _terms_for(prec: int) -> int:
    return int(prec / _DIGITS_PER_TERM) + 2


class _BinarySplitting:
    """P, Q and T of the whole series, depth first, so that each prefix [0, b) can show progress."""

    def __init__(self, terms: int, job: "_ChudnovskyProgress") -> None:
        self._terms = terms
        self._job = job
        # The small per-term factors come from numpy in one go: computing them in the leaf
        # loops was a third of the leaves' time.
        k = np.arange(terms, dtype=np.int64 if terms <= _INT64_SAFE_TERMS else object)
        self._p = (6 * k - 5) * (2 * k - 1) * (6 * k - 1)
        self._a = _A + _B * k
        self._a[1::2] *= -1  # the series alternates
        self._cubes = k * k * k

    def sums(self) -> _Sums:
        return self._split(0, self._terms, False)

    def _split(self, a: int, b: int, need_p: bool) -> _Sums:
        if b - a <= _LEAF_TERMS:
            sums, cost = self._leaf(a, b), _leaf_cost(b - a)
        else:
            middle = (a + b) // 2
            left = self._split(a, middle, True)
            right = self._split(middle, b, need_p)
            sums, cost = _merge(left, right, need_p), _merge_cost(a, b)
        if a == 0:
            self._job.prefix_done(b, sums)
        self._job.work_done(cost)
        return sums

    def _leaf(self, a: int, b: int) -> _Sums:
        # Adds one term at a time: at this size a loop costs less than more recursion.
        start = max(a, 1)  # term 0 is P = Q = 1, T = 13591409
        p, q, t = mpz(1), mpz(1), mpz(_A if a == 0 else 0)
        terms = zip(
            self._p[start:b].tolist(),
            self._a[start:b].tolist(),
            self._cubes[start:b].tolist(),
            strict=True,
        )
        for pk, ak, cube in terms:
            qk = cube * _ODD_C
            p *= pk
            t = t * (qk << _TWOS_PER_TERM) + p * ak
            q *= qk
        return _Sums(p, q, t, _TWOS_PER_TERM * (b - start))


def _merge(left: _Sums, right: _Sums, need_p: bool) -> _Sums:
    assert left.p is not None  # left halves are always asked for P
    return _Sums(
        p=left.p * right.p if need_p else None,
        q=left.q * right.q,
        t=((left.t * right.q) << right.q_twos) + left.p * right.t,
        q_twos=left.q_twos + right.q_twos,
    )


def _cut_to_precision(sums: _Sums, prec: int) -> tuple[mpz, mpz]:
    """Q and T with their low bits dropped: only their ratio matters, to about `prec` digits."""
    keep_bits = int(prec * _BITS_PER_DIGIT) + 64
    drop = max(0, sums.t.bit_length() - keep_bits)
    return _shift_right(sums.q, drop - sums.q_twos), sums.t >> drop


def _shift_right(value: mpz, bits: int) -> mpz:
    return value >> bits if bits >= 0 else value << -bits


def _estimate(sums: _Sums, decimals: int) -> str:
    """Pi from a prefix of the series, from the top bits of Q and T only, so it costs little."""
    drop = sums.t.bit_length() - 128
    q = _shift_right(sums.q, drop - sums.q_twos)
    scaled = 426880 * _SQRT_10005_FOR_ESTIMATE * q // _shift_right(sums.t, drop)
    text = str(scaled)
    return f"{text[0]}.{text[1 : decimals + 1]}"


# --- Chudnovsky: progress --------------------------------------------------------------------
#
# Work is counted in rough seconds, as measured on a 2-core AMD EPYC; only the ratios matter.
# A merge is four multiplications, which GMP does in about bits**1.2 time over the sizes met
# here; a leaf costs mostly Python's overhead per term. The final phases were measured at
# 100,000 to 1,000,000 digits against the same bits**1.2 curve.

_LEAF_SECONDS_PER_TERM = 0.7e-6
_MERGE_SECONDS = 2e-6
_SECONDS_PER_BIT = 3.6e-10  # times bits**1.2, where bits is the length of Q(a, b)
_SQRT_FACTOR = 1.8
_DIVISION_FACTOR = 2.4
_FORMATTING_FACTOR = 3.2
_LOG2_ODD_C = math.log2(_ODD_C)
# Reports closer together than this (in percent) are dropped unless the text changed: the
# throttle would drop them anyway, and each one costs a call.
_PERCENT_STEP = 0.1


def _merge_cost(a: int, b: int) -> float:
    # log2 of the middle term stands in for the mean over the range: close enough, and cheap.
    bits = (b - a) * (_LOG2_ODD_C + 3 * math.log2((a + b) / 2 + 1))
    return _MERGE_SECONDS + _SECONDS_PER_BIT * math.pow(bits, 1.2)


def _leaf_cost(terms: int) -> float:
    return _LEAF_SECONDS_PER_TERM * terms


def _series_cost(a: int, b: int) -> float:
    """The cost of _BinarySplitting._split(a, b), walking the same tree without computing it."""
    if b - a <= _LEAF_TERMS:
        return _leaf_cost(b - a)
    middle = (a + b) // 2
    return _series_cost(a, middle) + _series_cost(middle, b) + _merge_cost(a, b)


def _final_cost(prec: int, factor: float) -> float:
    return factor * _SECONDS_PER_BIT * math.pow(prec * _BITS_PER_DIGIT, 1.2)


class _ChudnovskyProgress:
    """Turns finished pieces of work into a percentage, and prefixes of the series into text."""

    def __init__(self, digits: int, prec: int, progress: ProgressCallback) -> None:
        self._digits = digits
        self._prec = prec
        self._progress = progress
        factors = _SQRT_FACTOR + _DIVISION_FACTOR + _FORMATTING_FACTOR
        self._total = _series_cost(0, _terms_for(prec)) + _final_cost(prec, factors)
        self._done = 0.0
        self._sent_percent = 0.0
        self._estimate = "3"
        self._text = "3…"
        self._text_is_new = False

    def work_done(self, cost: float) -> None:
        self._done += cost
        percent = min(99.9, 100.0 * self._done / self._total)
        if self._text_is_new or percent - self._sent_percent >= _PERCENT_STEP:
            self._send(percent)

    def phase_done(self, factor: float) -> None:
        self.work_done(_final_cost(self._prec, factor))

    def prefix_done(self, terms: int, sums: _Sums) -> None:
        """Comes before the prefix's work is counted, so that every report has an estimate."""
        known = min(self._digits, int(terms * _DIGITS_PER_TERM))
        self._estimate = _estimate(sums, min(_SHOWN_DECIMALS, known))
        self._set_text(f"{self._estimate}… (≈ {known:,} digits so far)")

    def phase(self, name: str) -> None:
        self._set_text(f"{self._estimate}… ({name})")
        self.work_done(0.0)

    def finish(self) -> None:
        self._progress(100.0, f"{self._estimate}… ({self._digits:,} digits)")

    def _set_text(self, text: str) -> None:
        self._text = text
        self._text_is_new = True

    def _send(self, percent: float) -> None:
        self._sent_percent = percent
        self._text_is_new = False
        self._progress(percent, self._text)


# --- Leibniz ---------------------------------------------------------------------------------

_LEIBNIZ_MIN_TERMS = 1000
_TERMS_PER_BLOCK = 4
# Blocks per numpy chunk: big enough that numpy's cost per call vanishes, small enough for the
# three buffers to stay in cache. Anything from 2**15 to 2**18 measured the same.
_BLOCKS_PER_CHUNK = 1 << 16


def _leibniz_pi(digits: int, progress: ProgressCallback) -> str:
    terms = _leibniz_terms(digits)
    series = 4 * _leibniz_partial_sum(terms, digits, progress)
    return _truncate(series + _euler_boole_tail(terms), digits)


def _leibniz_terms(digits: int) -> int:
    """About where the raw series is right to `digits` places, rounded up to whole blocks."""
    wanted: int = max(10**digits // 2, _LEIBNIZ_MIN_TERMS)
    return -(-wanted // _TERMS_PER_BLOCK) * _TERMS_PER_BLOCK


def _euler_boole_tail(terms: int) -> float:
    """pi - 4 * S_N for S_N = sum of the first N terms; the coefficients are 2 * Euler numbers."""
    x = 2.0 * terms
    tail = 2 / x - 2 / x**3 + 10 / x**5 - 122 / x**7 + 2770 / x**9
    return tail if terms % 2 == 0 else -tail


def _leibniz_partial_sum(terms: int, digits: int, progress: ProgressCallback) -> float:
    blocks = terms // _TERMS_PER_BLOCK
    chunks = _BlockSums(min(blocks, _BLOCKS_PER_CHUNK))
    total = _CompensatedSum()
    for first in range(0, blocks, _BLOCKS_PER_CHUNK):
        total.add(chunks.next_sum(min(_BLOCKS_PER_CHUNK, blocks - first)))
        done = min(blocks, first + _BLOCKS_PER_CHUNK) * _TERMS_PER_BLOCK
        progress(100.0 * done / terms, f"{4 * total.value:.{digits + 2}f} ({done:,} terms)")
    return total.value


class _BlockSums:
    """Sums of the Leibniz series a chunk of blocks at a time, in buffers allocated once.

    Block j holds terms 4j .. 4j+3, whose denominators are w-3, w-1, w+1, w+3 for w = 8j + 4,
    with signs + - + -. Pairing the outer and the inner two gives 6/(v-9) - 2/(v-1) with v = w*w,
    that is 4(v+3) / ((v-5)**2 - 16): one division per four terms, and no cancellation.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._centres = np.arange(size, dtype=np.float64) * 8 + 4
        self._numerators = np.empty(size)
        self._denominators = np.empty(size)

    def next_sum(self, count: int) -> float:
        w = self._centres[:count]
        numerator = self._numerators[:count]
        denominator = self._denominators[:count]
        np.multiply(w, w, out=numerator)
        np.subtract(numerator, 5.0, out=denominator)
        np.multiply(denominator, denominator, out=denominator)
        np.subtract(denominator, 16.0, out=denominator)
        np.add(numerator, 3.0, out=numerator)
        np.divide(numerator, denominator, out=numerator)
        # Integers below 2**53, so stepping the centres on stays exact.
        self._centres += 8.0 * self._size
        return 4.0 * float(np.add.reduce(numerator))


class _CompensatedSum:
    """Neumaier's summation: the running total keeps the bits that plain addition would lose."""

    def __init__(self) -> None:
        self._sum = 0.0
        self._compensation = 0.0

    def add(self, value: float) -> None:
        total = self._sum + value
        if abs(self._sum) >= abs(value):
            self._compensation += (self._sum - total) + value
        else:
            self._compensation += (value - total) + self._sum
        self._sum = total

    @property
    def value(self) -> float:
        return self._sum + self._compensation


def _truncate(value: float, digits: int) -> str:
    whole, decimals = divmod(math.floor(value * 10**digits), 10**digits)
    return f"{whole}.{decimals:0{digits}d}"
