"""The compiled kernels refuse inputs whose sizes or offsets do not fit their buffers (ValueError), checked
before the GIL is released: a bad count or offset must never become a read or write past a buffer."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import qdc._native as native

needs_native = pytest.mark.skipif(not native.AVAILABLE, reason="the C extension is not built here")

U64, I64 = np.uint64, np.int64


@needs_native
@pytest.mark.parametrize(
    ("words", "counts"),
    [
        (0, [0, -1]),  # a negative count after a zero: the sum still matched (segfaulted)
        (0, [-1, 1]),  # a negative count first: the check stopped before any row
        (2, [5, -3]),  # a negative count that brings the sum back to the words
        (2, [1 << 62, 1 << 62, 1 << 62, (1 << 62) + 2]),  # counts whose sum wraps around to the words
    ],
)
def test_shingles_refuses_negative_or_overflowing_counts(words, counts):
    # In a child process: before the fix the first case wrote far past `out` and killed the interpreter.
    code = (
        "import numpy as np\nfrom qdc._native import hashing\n"
        f"try:\n    hashing.shingles(np.zeros({words}, np.uint64), np.array({counts}, np.int64), 3, "
        "np.zeros(64, np.uint64))\nexcept ValueError as e:\n    print('ValueError', e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ValueError shingles: bad sizes"


@needs_native
def test_shingles_still_takes_good_counts():
    w = np.arange(1, 6, dtype=U64)
    out = np.zeros(8, dtype=U64)
    assert native.hashing is not None
    assert native.hashing.shingles(w, np.array([0, 5, 0], dtype=I64), 3, out) == 3
    assert (out[:3] != 0).all() and (out[3:] == 0).all()


@needs_native
@pytest.mark.parametrize(
    ("lines", "out", "error"),
    [
        ([b'{"a":1}\n', b"{}"], 1, ValueError),  # out shorter than the lines (would write past it)
        ([b'{"a":1}\n'], 2, ValueError),  # out longer: a caller's mistake, refused too
        ([b'{"a":1}\n', '{"b":2}'], 2, TypeError),  # a str among the lines
        ([b'{"a":1}\n', bytearray(b"{}")], 2, TypeError),  # not bytes (could change while the GIL is released)
    ],
)
def test_json_key_colons_refuses_bad_arguments(lines, out, error):
    assert native.hashing is not None
    with pytest.raises(error, match="json_key_colons"):
        native.hashing.json_key_colons(lines, np.zeros(out, I64))


@needs_native
def test_json_key_colons_still_counts_good_lines():
    out = np.full(3, -1, dtype=I64)
    assert native.hashing is not None
    native.hashing.json_key_colons([b'{"a":1}\n', b'{"b":{"c":":"}}', b""], out)
    assert out.tolist() == [1, 2, 0]
    native.hashing.json_key_colons([], np.zeros(0, I64))  # no lines: nothing to count


@needs_native
def test_band_keys_refuses_bands_times_rows_that_overflow():
    assert native.hashing is not None
    with pytest.raises(ValueError, match="band_keys"):  # 2**32 * 2**32 wrapped to 0 <= width before
        native.hashing.band_keys(np.zeros(0, np.uint32), 1, 1 << 32, 1 << 32, np.zeros(0, U64))
