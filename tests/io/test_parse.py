"""The compiled decimal parser against Python's float(), the oracle: every token the
kernel converts itself must give float(token) bit for bit; the ones it hands back
(> 19 significant digits) must be flagged, never guessed."""
from decimal import Decimal, getcontext

import numpy as np
import pytest

from neuromod.io import _parse as P


def _run(strings):
    data = "\x00".join(strings).encode()
    buf = np.frombuffer(data, dtype=np.uint8)
    lens = np.array([len(s) for s in strings], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lens + 1)[:-1])).astype(np.int64)
    status, bits = P.parse_floats(buf, starts, starts + lens, P.POW5_HI, P.POW5_LO)
    return status, bits


def _check_against_float(strings, max_fallback=None):
    status, bits = _run(strings)
    assert not np.any(status == P.INVALID), [s for s, st in zip(strings, status) if st == P.INVALID][:5]
    ok = status == P.OK
    expected = np.array([float(s) for s in strings]).view(np.uint64)
    wrong = np.flatnonzero(ok & (bits != expected))
    assert wrong.size == 0, [strings[k] for k in wrong[:5]]
    # fallbacks are only for tokens with more than 19 significant digits (or absurd
    # exponents): count them so the fast path is known to do the work
    if max_fallback is not None:
        assert np.count_nonzero(status == P.FALLBACK) <= max_fallback
    return status


def test_power_of_five_table_is_the_truncated_128_bit_power():
    # independent re-derivation of a few entries with Python integers
    for q in (0, 1, 27, 55, 308):
        p = 5 ** q
        n = p.bit_length()
        c = p << (128 - n) if n < 128 else p >> (n - 128)
        k = q + 342
        assert (int(P.POW5_HI[k]) << 64) | int(P.POW5_LO[k]) == c
    for q in (-1, -27, -28, -100, -342):
        # 5**q < 1: the entry is 2**s / 5**-q scaled into [2**127, 2**128), rounded up
        p = 5 ** -q
        s = 127 + p.bit_length()
        c = (int(P.POW5_HI[q + 342]) << 64) | int(P.POW5_LO[q + 342])
        assert 2 ** s // p <= c <= 2 ** s // p + 1
        assert 2 ** 127 <= c < 2 ** 128


def test_repr_of_random_doubles_of_every_magnitude():
    rng = np.random.default_rng(20240601)
    x = rng.integers(0, 2 ** 63, 60_000, dtype=np.uint64).view(np.float64)
    x = x[np.isfinite(x)]
    signs = np.where(rng.random(x.size) < 0.5, -1.0, 1.0)
    _check_against_float([repr(v) for v in (x * signs).tolist()], max_fallback=0)


def test_spike_time_like_values_take_the_fast_path():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(0, 100, 30_000), rng.exponential(0.01, 30_000),
                        rng.uniform(0, 1, 10_000) * 10.0 ** rng.integers(-12, 12, 10_000)])
    _check_against_float([repr(v) for v in x.tolist()], max_fallback=0)
    _check_against_float(["%.17g" % v for v in x[:20_000].tolist()], max_fallback=0)
    _check_against_float(["%.*e" % (int(rng.integers(0, 17)), v) for v in x[:20_000].tolist()],
                         max_fallback=0)


def test_every_decimal_exponent_of_the_table():
    strings = [f"{m}e{q}" for q in range(-350, 315)
               for m in ("1", "9999999999999999999", "4503599627370497", "123456789", "7")]
    _check_against_float(strings, max_fallback=0)


def test_exact_ties_round_half_to_even():
    # w * 10**q exactly halfway between two doubles: M odd with 54 bits, so the
    # value needs one bit more than a double has. Neighbours (w +- 1) are not ties.
    rng = np.random.default_rng(3)
    strings = []
    for q in range(-4, 24):
        for _ in range(150):
            if q >= 0:
                lo = -(-2 ** 53 // 5 ** q)
                hi = max(2 ** 54 // 5 ** q, lo + 2)
                r = int(rng.integers(max(lo, 1), hi)) | 1
                if not 2 ** 53 <= r * 5 ** q < 2 ** 54:
                    continue
                w = r
            else:
                w = (int(rng.integers(2 ** 53, 2 ** 54)) | 1) * 5 ** -q
                if w >= 10 ** 19:
                    continue
            strings += [f"{w - 1}e{q}", f"{w}e{q}", f"{w + 1}e{q}"]
    assert len(strings) > 3000
    _check_against_float(strings, max_fallback=0)


def test_boundaries_subnormals_overflow_and_long_mantissas():
    getcontext().prec = 800
    strings = ["9007199254740993", "9007199254740995", "1e23", "8.98846567431158e307",
               "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
               "1e309", "1e-400", "5e-324", "2.4703282292062328e-324", "2.4703282292062327e-324",
               "2.2250738585072011e-308", "2.2250738585072012e-308", "2.2250738585072014e-308",
               "4.9406564584124654e-324", "0.000000000000000000000000000001", "-0", "-0.0",
               "+.5", "5.", "0e999", "00012", "1e-0005", "0.1e1", "7.2057594037927933e16",
               "123456789012345678901234567890", "0." + "0" * 400 + "1e401",
               "1.00000000000000011102230246251565404236316680908203125",
               "1.00000000000000011102230246251565404236316680908203124",
               "1.00000000000000011102230246251565404236316680908203126"]
    # exact midpoints between neighbouring doubles need > 19 digits: handed back
    rng = np.random.default_rng(11)
    for v in rng.uniform(0, 1e3, 300).tolist() + [1.0, 2.0 ** 53, 5e-324, 2.2250738585072014e-308]:
        mid = (Decimal(v) + Decimal(float(np.nextafter(v, np.inf)))) / 2
        strings.append(format(mid, "f"))
    status = _check_against_float(strings)
    assert status[strings.index("9007199254740993")] == P.OK


@pytest.mark.parametrize("token", ["abc", "1e", "1e+", ".", "-", "+", "1.2.3", "1e5e5", "--1",
                                   "0x10", "nan", "inf", "-inf", "1_0", "1,5", "\u0661", "1.5f"])
def test_tokens_outside_the_decimal_grammar_are_invalid(token):
    status, _ = _run([token])
    assert status[0] == P.INVALID
