"""Compiled scanners for the text and CSV spike formats.

The readers hand the raw bytes of a file to one numba kernel that walks it once,
line by line, and converts every spike time to a float64 itself. Python's
``float()`` (and NumPy's string conversion, which calls it) costs ~0.5 us per
number on a small CPU, which made a 1,000 x 1,000-spike text file take ~0.7 s;
the kernel reads it in a few tens of milliseconds.

Decimal-to-binary conversion is the Eisel-Lemire algorithm (D. Lemire, "Number
parsing at a gigabyte per second", Software: Practice and Experience 51(8),
2021; N. Mushtak and D. Lemire, "Fast number parsing without fallback", 2023):
the first 19 significant digits ``w`` and the decimal exponent ``q`` are
multiplied by a 128-bit truncation of ``5**q``, which gives the correctly
rounded double (round half to even) -- the same value as Python's ``float()``.
Tokens with more than 19 significant digits, and the rare products the
algorithm cannot round with certainty, are flagged and converted by
``float()`` in Python instead, so every result equals ``float(token)``
bit for bit (``tests/io/test_parse.py`` checks this against ``float()``).

The accepted grammar is the plain decimal one, ASCII only:
``[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?``. ``nan``,
``inf``, underscores, hexadecimal and non-ASCII digits (which ``float()``
accepts) are reported as invalid tokens.

This module imports numba; ``neuromod.io`` imports it only when a text or CSV
file is read.
"""
import numpy as np

from neuromod.runtime import ensure_cache_dir

ensure_cache_dir(__file__)   # before numba: a cache directory it can write (see there)

from llvmlite import ir  # noqa: E402
from numba import njit, types  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

__all__ = ["POW5_HI", "POW5_LO", "scan_text", "scan_csv", "parse_floats"]

# --------------------------------------------------------------------- tables
_SMALLEST_POW10 = -342
_LARGEST_POW10 = 308


def _power_of_five_table():
    """128-bit truncations of 5**q, q in [-342, 308], normalised so bit 127 is set.

    Negative powers are ``floor(2**b / 5**-q) + 1`` (rounded up, as Lemire's
    algorithm requires), truncated to 128 bits.
    """
    hi = np.empty(_LARGEST_POW10 - _SMALLEST_POW10 + 1, dtype=np.uint64)
    lo = np.empty_like(hi)
    mask = (1 << 64) - 1
    for k, q in enumerate(range(_SMALLEST_POW10, _LARGEST_POW10 + 1)):
        if q < 0:
            p5 = 5 ** -q
            z = p5.bit_length() if p5 & (p5 - 1) else p5.bit_length() - 1
            # z = smallest integer with 2**z >= 5**-q (5**k is never a power of 2 for k>0)
            if q >= -27:
                c = (1 << (z + 127)) // p5 + 1
            else:
                c = (1 << (2 * z + 128)) // p5 + 1
                c >>= max(0, c.bit_length() - 128)
        else:
            c = 5 ** q
            n = c.bit_length()
            c = c << (128 - n) if n < 128 else c >> (n - 128)
        hi[k] = c >> 64
        lo[k] = c & mask
    return hi, lo


POW5_HI, POW5_LO = _power_of_five_table()

# status of one converted token
OK, FALLBACK, INVALID = 0, 1, 2

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_U32 = np.uint64(32)
_M32 = np.uint64(0xFFFFFFFF)
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_SIGN = np.uint64(1 << 63)
_HIDDEN = np.uint64(1 << 52)
_INF_BITS = np.uint64(0x7FF << 52)
_PRECISION_MASK = np.uint64(0x1FF)   # 64 - (52 + 3) = 9 low bits of the high word


#: 10**k, k = 0..22: exactly representable doubles (Clinger's fast path).
_EXACT_POW10 = np.array([10.0 ** k for k in range(23)])
_TWO53 = np.uint64(1 << 53)


@intrinsic
def _clz64(typingctx, x):
    """Leading zero bits of a uint64 (LLVM ``ctlz``)."""
    if x != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 0))

    return types.uint64(types.uint64), codegen


@njit(cache=True, inline="always")
def _mul128(a, b):
    """Full 64 x 64 -> 128-bit product of two uint64, as (high, low)."""
    a_lo = a & _M32
    a_hi = a >> _U32
    b_lo = b & _M32
    b_hi = b >> _U32
    p0 = a_lo * b_lo
    p1 = a_lo * b_hi
    p2 = a_hi * b_lo
    p3 = a_hi * b_hi
    mid = (p0 >> _U32) + (p1 & _M32) + (p2 & _M32)
    lo = (mid << _U32) | (p0 & _M32)
    hi = p3 + (p1 >> _U32) + (p2 >> _U32) + (mid >> _U32)
    return hi, lo


@intrinsic
def _float_bits(typingctx, x):
    """The IEEE-754 bits of a float64 as uint64 (a bit cast)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(types.float64), codegen


@njit(cache=True)
def _eisel_lemire(q, w, pow5_hi, pow5_lo):
    """Bits of the double nearest to ``w * 10**q`` (w > 0, w < 2**64), sign not set.

    Returns (status, bits); status FALLBACK when the 128-bit product cannot
    decide the rounding.
    """
    if q < _SMALLEST_POW10:
        return OK, _U0
    if q > _LARGEST_POW10:
        return OK, _INF_BITS
    if w <= _TWO53 and -22 <= q <= 22:
        # Clinger's fast path: w and 10**|q| are exact doubles, so one IEEE
        # multiplication or division is the correctly rounded result.
        f = np.float64(w)
        f = f * _EXACT_POW10[q] if q >= 0 else f / _EXACT_POW10[-q]
        return OK, _float_bits(f)
    shift_lz = _clz64(w)
    w = w << shift_lz
    lz = np.int64(shift_lz)
    idx = q - _SMALLEST_POW10
    hi, lo = _mul128(w, pow5_hi[idx])
    if (hi & _PRECISION_MASK) == _PRECISION_MASK:
        hi2, _lo2 = _mul128(w, pow5_lo[idx])
        lo = lo + hi2
        if hi2 > lo:
            hi = hi + _U1
    if lo == _MASK64 and (q < -27 or q > 55):
        return FALLBACK, _U0
    upperbit = np.int64(hi >> np.uint64(63))
    shift = np.uint64(upperbit + 9)          # upperbit + 64 - 52 - 3
    mantissa = hi >> shift
    power2 = (((q * (152170 + 65536)) >> 16) + 63) + upperbit - lz + 1023
    if power2 <= 0:                          # subnormal or zero
        if -power2 + 1 >= 64:
            return OK, _U0
        mantissa = mantissa >> np.uint64(-power2 + 1)
        mantissa = mantissa + (mantissa & _U1)
        mantissa = mantissa >> _U1
        e = _U1 if mantissa >= _HIDDEN else _U0
        return OK, mantissa | (e << np.uint64(52))
    # an exact tie (all dropped bits zero) rounds to even, not up
    if (lo <= _U1 and q >= -4 and q <= 23 and (mantissa & np.uint64(3)) == _U1
            and (mantissa << shift) == hi):
        mantissa = mantissa & ~_U1
    mantissa = mantissa + (mantissa & _U1)
    mantissa = mantissa >> _U1
    if mantissa >= (_HIDDEN << _U1):
        mantissa = _HIDDEN
        power2 += 1
    mantissa = mantissa & ~_HIDDEN
    if power2 >= 0x7FF:
        return OK, _INF_BITS
    return OK, mantissa | (np.uint64(power2) << np.uint64(52))


@njit(cache=True)
def _parse_float(buf, s, e, pow5_hi, pow5_lo):
    """Convert ``buf[s:e]`` (ASCII decimal) to float64 bits: (status, bits)."""
    i = s
    neg = False
    c = buf[i]
    if c == 43 or c == 45:                   # '+' '-'
        neg = c == 45
        i += 1
    w = _U0
    nd = 0            # significant digits held in w
    q = 0             # decimal exponent: value = w * 10**q
    ndigits = 0       # all mantissa digits seen
    truncated = False
    while i < e:
        c = buf[i]
        if c < 48 or c > 57:
            break
        ndigits += 1
        d = np.uint64(c - 48)
        if w == _U0 and d == _U0:
            pass
        elif nd < 19:
            w = w * np.uint64(10) + d
            nd += 1
        else:
            q += 1
            if d != _U0:
                truncated = True
        i += 1
    if i < e and buf[i] == 46:               # '.'
        i += 1
        while i < e:
            c = buf[i]
            if c < 48 or c > 57:
                break
            ndigits += 1
            d = np.uint64(c - 48)
            if w == _U0 and d == _U0:
                q -= 1
            elif nd < 19:
                w = w * np.uint64(10) + d
                nd += 1
                q -= 1
            elif d != _U0:
                truncated = True
            i += 1
    if ndigits == 0:
        return INVALID, _U0
    if i < e and (buf[i] == 101 or buf[i] == 69):   # 'e' 'E'
        i += 1
        eneg = False
        if i < e and (buf[i] == 43 or buf[i] == 45):
            eneg = buf[i] == 45
            i += 1
        if i >= e or buf[i] < 48 or buf[i] > 57:
            return INVALID, _U0
        ex = 0
        while i < e and buf[i] >= 48 and buf[i] <= 57:
            if ex < 100000:
                ex = ex * 10 + (buf[i] - 48)
            else:
                truncated = True             # absurd exponent: let float() decide
            i += 1
        q += -ex if eneg else ex
    if i != e:
        return INVALID, _U0
    if truncated:
        return FALLBACK, _U0
    sign = _SIGN if neg else _U0
    if w == _U0:
        return OK, sign
    status, bits = _eisel_lemire(q, w, pow5_hi, pow5_lo)
    return status, bits | sign


@njit(cache=True, inline="always")
def _is_space(c):
    # space, \t, \v, \f, \r (the line feed ends a line)
    return c == 32 or c == 9 or c == 11 or c == 12 or c == 13


@njit(cache=True)
def parse_floats(buf, starts, ends, pow5_hi, pow5_lo):
    """Convert the tokens ``buf[starts[k]:ends[k]]``: (status int8 array, bits uint64 array)."""
    n = starts.size
    status = np.empty(n, dtype=np.int8)
    bits = np.empty(n, dtype=np.uint64)
    for k in range(n):
        st, b = _parse_float(buf, starts[k], ends[k], pow5_hi, pow5_lo)
        status[k] = st
        bits[k] = b
    return status, bits


# --------------------------------------------------------------------- lines
# Both scanners walk the file line by line with these.
@njit(cache=True, inline="always")
def _line_end(buf, pos):
    """Index of the line feed that ends the line starting at ``pos`` (``buf.size`` when
    the last line has none)."""
    end = pos
    while end < buf.size and buf[end] != 10:
        end += 1
    return end


@njit(cache=True, inline="always")
def _skip_blanks(buf, j, end):
    """First index in ``j..end`` that is not a blank (``end`` when there is none)."""
    while j < end and _is_space(buf[j]):
        j += 1
    return j


@njit(cache=True, inline="always")
def _trim_blanks(buf, j, end):
    """``end`` moved back over trailing blanks, not before ``j``."""
    while end > j and _is_space(buf[end - 1]):
        end -= 1
    return end


@njit(cache=True, inline="always")
def _is_comment(buf, j, end):
    """Whether the line whose first non-blank index is ``j`` is a ``#`` comment."""
    return j < end and buf[j] == 35


@njit(cache=True, inline="always")
def _put_row(table, row, a, b, c):
    table[row, 0] = a
    table[row, 1] = b
    table[row, 2] = c


@njit(cache=True, inline="always")
def _set_error(error, code, line, s, e):
    error[0] = code
    error[1] = line
    error[2] = s
    error[3] = e


@njit(cache=True)
def _hand_back(fallback, n_fb, k, s, e):
    """Record token ``k`` (``buf[s:e]``) for ``float()``, growing the table when it is
    full: (table, count). Called, not inlined: inlined, it slows the text scanner's
    token loop by ~8%, although it runs only for the rare hand-backs."""
    if n_fb == fallback.shape[0]:
        grown = np.empty((2 * n_fb + 1, 3), dtype=np.int64)
        grown[:n_fb] = fallback
        fallback = grown
    _put_row(fallback, n_fb, k, s, e)
    return fallback, n_fb + 1


# --------------------------------------------------------------------- text
@njit(cache=True)
def scan_text(buf, pow5_hi, pow5_lo):
    """Scan a whole text spike file (bytes as uint8).

    Every line that is not a comment (first non-blank byte ``#``) is one train;
    tokens are separated by ASCII blanks; the line feed that ends the last line
    does not start another line.

    Returns
    -------
    bits : uint64 (n_tokens,)      float64 bits of every spike time, in file order
    counts : int64 (n_trains,)     tokens per data line
    train_line : int64 (n_trains,) 1-based line number of each data line
    comments : int64 (n_comments, 3)  (line, start, end) of each comment line
    fallback : int64 (n_fb, 3)     (token index, start, end) to convert with float()
    error : int64 (4,)             (code, line, start, end); code 0 = none,
                                   1 = invalid number token
    """
    n = buf.size
    # pass 1: count lines of each kind and tokens
    n_tok = 0
    n_data = 0
    n_com = 0
    pos = 0
    while pos < n:
        end = _line_end(buf, pos)
        j = _skip_blanks(buf, pos, end)
        if _is_comment(buf, j, end):
            n_com += 1
        else:
            n_data += 1
            inside = False
            while j < end:
                sp = _is_space(buf[j])
                if not sp and not inside:
                    n_tok += 1
                inside = not sp
                j += 1
        pos = end + 1
    bits = np.empty(n_tok, dtype=np.uint64)
    counts = np.zeros(n_data, dtype=np.int64)
    train_line = np.empty(n_data, dtype=np.int64)
    comments = np.empty((n_com, 3), dtype=np.int64)
    fallback = np.empty((min(n_tok, 1024), 3), dtype=np.int64)
    n_fb = 0
    error = np.zeros(4, dtype=np.int64)
    # pass 2: convert
    pos = 0
    line = 0
    k = 0
    t = 0
    c_i = 0
    while pos < n:
        line += 1
        end = _line_end(buf, pos)
        j = _skip_blanks(buf, pos, end)
        if _is_comment(buf, j, end):
            _put_row(comments, c_i, line, pos, end)
            c_i += 1
        else:
            train_line[t] = line
            cnt = 0
            while j < end:
                j = _skip_blanks(buf, j, end)
                if j >= end:
                    break
                s = j
                while j < end and not _is_space(buf[j]):
                    j += 1
                st, b = _parse_float(buf, s, j, pow5_hi, pow5_lo)
                if st == INVALID:
                    _set_error(error, 1, line, s, j)
                    return bits, counts, train_line, comments, fallback[:n_fb], error
                if st == FALLBACK:
                    fallback, n_fb = _hand_back(fallback, n_fb, k, s, j)
                bits[k] = b
                k += 1
                cnt += 1
            counts[t] = cnt
            t += 1
        pos = end + 1
    return bits, counts, train_line, comments, fallback[:n_fb], error


# --------------------------------------------------------------------- CSV
@njit(cache=True)
def _parse_int(buf, s, e):
    """Strict ``[+-]?digits`` (at most 18 digits) -> (ok, value)."""
    i = s
    neg = False
    if i < e and (buf[i] == 43 or buf[i] == 45):
        neg = buf[i] == 45
        i += 1
    if i >= e or e - i > 18:
        return False, 0
    v = 0
    while i < e:
        c = buf[i]
        if c < 48 or c > 57:
            return False, 0
        v = v * 10 + (c - 48)
        i += 1
    return True, -v if neg else v


@njit(cache=True)
def scan_csv(buf, start, line0, id_first, pow5_hi, pow5_lo):
    """Scan the rows of a CSV spike file after its header (``buf[start:]``).

    Each non-blank, non-comment line holds two comma-separated fields, the train
    id (integer) and the spike time, in the order given by ``id_first``; blanks
    around fields are allowed. ``line0`` is the line number of the header.

    Returns
    -------
    ids : int64 (n_rows,)
    bits : uint64 (n_rows,)        float64 bits of the times
    row_line : int64 (n_rows,)     1-based line number of every row
    comments : int64 (n_comments, 3)  (line, start, end)
    fallback : int64 (n_fb, 3)     (row index, start, end) to convert with float()
    error : int64 (4,)             (code, line, start, end); 0 none, 1 bad time,
                                   2 bad id, 3 wrong number of fields (start/end
                                   span the line), 4 empty field
    """
    n = buf.size
    n_rows = 0
    n_com = 0
    pos = start
    while pos < n:
        end = _line_end(buf, pos)
        j = _skip_blanks(buf, pos, end)
        if _is_comment(buf, j, end):
            n_com += 1
        elif j < end:
            n_rows += 1
        pos = end + 1
    ids = np.empty(n_rows, dtype=np.int64)
    bits = np.empty(n_rows, dtype=np.uint64)
    row_line = np.empty(n_rows, dtype=np.int64)
    comments = np.empty((n_com, 3), dtype=np.int64)
    fallback = np.empty((min(n_rows, 1024), 3), dtype=np.int64)
    n_fb = 0
    error = np.zeros(4, dtype=np.int64)
    pos = start
    line = line0
    r = 0
    c_i = 0
    while pos < n:
        line += 1
        end = _line_end(buf, pos)
        j = _skip_blanks(buf, pos, end)
        if j >= end:
            pos = end + 1
            continue
        if _is_comment(buf, j, end):
            _put_row(comments, c_i, line, pos, end)
            c_i += 1
            pos = end + 1
            continue
        # split at commas
        comma = -1
        n_comma = 0
        for m in range(j, end):
            if buf[m] == 44:
                n_comma += 1
                if comma < 0:
                    comma = m
        if n_comma != 1:
            _set_error(error, 3, line, pos, end)
            break
        # field spans, trimmed
        a0 = j
        a1 = _trim_blanks(buf, a0, comma)
        b0 = _skip_blanks(buf, comma + 1, end)
        b1 = _trim_blanks(buf, b0, end)
        if a1 == a0 or b1 == b0:
            _set_error(error, 4, line, pos, end)
            break
        if id_first:
            i0, i1, t0, t1 = a0, a1, b0, b1
        else:
            i0, i1, t0, t1 = b0, b1, a0, a1
        ok, v = _parse_int(buf, i0, i1)
        if not ok:
            _set_error(error, 2, line, i0, i1)
            break
        st, b = _parse_float(buf, t0, t1, pow5_hi, pow5_lo)
        if st == INVALID:
            _set_error(error, 1, line, t0, t1)
            break
        if st == FALLBACK:
            fallback, n_fb = _hand_back(fallback, n_fb, r, t0, t1)
        ids[r] = v
        bits[r] = b
        row_line[r] = line
        r += 1
        pos = end + 1
    return ids, bits, row_line, comments, fallback[:n_fb], error
