"""The C headers of the SGD loop: constants, portable fallbacks, formulas.

- ``fastlogit/_stable.h`` twins ``fastlogit/kernels/special.py`` constant for
  constant: every formula constant of special.py is a ``#define`` named
  ``FL_`` + its Python name, with the same float to the bit, and the C code
  writes no other number than those special.py's functions write too.
- ``-DFL_PORTABLE_C`` turns off every GCC/Clang-only piece of ``_stable.h``,
  ``_rows.h`` and ``_random.h`` (``unsigned __int128``, target clones, "omp
  simd" pragmas, ``__builtin_prefetch``): a small C program built with and
  without it must give the same random stream (and the one a Python
  reference computes with big integers), the same formulas bit for bit, and
  the same row products (bit for bit where the sums are exact, within
  rounding otherwise); built with it, the headers must be strict ISO C99.
- The compiled extension's softmax row against its Numba twin.
"""

import ast
import inspect
import math
import os
import platform
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fastlogit import _sgd
from fastlogit.kernels import special

PACKAGE = Path(special.__file__).resolve().parents[1]
STABLE_H = PACKAGE / "_stable.h"

# Module-level UPPERCASE numbers of special.py that are not constants of a
# formula, so _stable.h has no twin of them.
NOT_FORMULA_CONSTANTS = {
    "PARALLEL_MIN_SIZE": "when the array kernels start threads, not a formula",
    "ELEMENT_BLOCK": "elements per parallel task of the array kernels, not a formula",
    "ROWWISE_BLOCK": "rows per parallel task of the row-wise kernels, not a formula",
    "OP_SIGMOID": "an op code of elementwise_into's dispatch, not a number of a formula",
    "OP_LOG_SIGMOID": "an op code of elementwise_into's dispatch, not a number of a formula",
    "OP_LOG1PEXP": "an op code of elementwise_into's dispatch, not a number of a formula",
    "SOFTMAX_BLOCK_ROWS": "scratch rows of softmax_block's per-row buffers, a layout, not a formula",
    "_SHIFT_BITS": "the bits of _SHIFT, for _pow2; the C twin reads them from FL__SHIFT",
}
C_PREFIX = "FL_"


def _strip_c_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def _c_constants(text):
    """{name: value} of the numeric #defines and static consts of a C header."""
    text = _strip_c_comments(text)
    number = r"\(?\s*([-+]?(?:0[xX][0-9a-fA-F.]+[pP][-+]?\d+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))\s*\)?"
    found = {}
    for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+" + number + r"[ \t]*$", text, re.M):
        found[m.group(1)] = m.group(2)
    for m in re.finditer(r"static\s+const\s+\w+\s+(\w+)\s*=\s*" + number + r"\s*;", text):
        found[m.group(1)] = m.group(2)
    return {k: float.fromhex(v) if "x" in v.lower() else float(v) for k, v in found.items()}


def _special_constants():
    """{name: value} of special.py's module-level UPPERCASE numbers (``_E2`` included)."""
    return {
        name: value
        for name, value in vars(special).items()
        if re.fullmatch(r"_?[A-Z][A-Z0-9_]*", name)
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
    }


def _bits(x):
    return struct.pack("<d", float(x))


def test_stable_h_defines_every_formula_constant_of_special_py_to_the_bit():
    c = _c_constants(STABLE_H.read_text())
    formula = {k: v for k, v in _special_constants().items() if k not in NOT_FORMULA_CONSTANTS}
    assert len(formula) >= 26  # LOG2E, LN2_HI/LO, EXP_CLAMP, SQRT2, _E2.._E13, _LG1.._LG7, bounds
    missing = sorted(k for k in formula if C_PREFIX + k not in c)
    assert not missing, f"_stable.h lacks {[C_PREFIX + k for k in missing]}"
    differ = {
        k: (formula[k], c[C_PREFIX + k]) for k in formula if _bits(formula[k]) != _bits(c[C_PREFIX + k])
    }
    assert not differ, f"special.py vs _stable.h: {differ}"


def test_stable_h_has_no_constant_that_special_py_does_not_name():
    c = _c_constants(STABLE_H.read_text())
    py = _special_constants()
    assert len(c) >= 26
    orphans = sorted(
        name
        for name in c
        if not name.startswith(C_PREFIX)
        or name[len(C_PREFIX) :] not in py
        or name[len(C_PREFIX) :] in NOT_FORMULA_CONSTANTS
    )
    assert not orphans, f"_stable.h constants with no formula constant in special.py: {orphans}"


def test_not_formula_list_names_special_py_constants():
    assert set(NOT_FORMULA_CONSTANTS) <= set(_special_constants())


def _function_literals(module):
    """Numbers written as literals inside the functions of a module (their twins' "plain" numbers)."""
    tree = ast.parse(inspect.getsource(module))
    out = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef):
            for node in ast.walk(fn):
                if isinstance(node, ast.Constant) and type(node.value) in (int, float):
                    out.add(node.value)
    return out


def test_stable_h_code_writes_only_numbers_that_special_py_functions_write_too():
    # Outside the #defines, a number in the C code is a copy of a constant
    # unless special.py's functions write the same number as a literal (0.5
    # in floor(x * LOG2E + 0.5), 1023 and 52 of the float64 layout...).
    code = "\n".join(
        line
        for line in _strip_c_comments(STABLE_H.read_text()).splitlines()
        if not line.lstrip().startswith("#")
    )
    literals = re.findall(r"(?<![\w.])(\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\.\d+|\d+)(?![\w.])", code)
    assert literals  # the regex sees the code
    allowed = _function_literals(special)
    unnamed = sorted({lit for lit in literals if float(lit) not in allowed})
    assert not unnamed, f"_stable.h writes numbers special.py names or lacks: {unnamed}"


# ---------------------------------------------------------------------------
# The headers built with and without FL_PORTABLE_C.
# ---------------------------------------------------------------------------
CHECK_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include "_stable.h"
#include "_rows.h"
#include "_random.h"

static void *read_n(size_t size, int64_t n)
{
    void *p = malloc(size * (size_t)(n > 0 ? n : 1));
    if (n > 0 && fread(p, size, (size_t)n, stdin) != (size_t)n)
        exit(2);
    return p;
}

static void put(const void *p, size_t size, int64_t n)
{
    fwrite(p, size, (size_t)n, stdout);
}

int main(void)
{
    int64_t h[7];
    int64_t r, j, k;
    if (fread(h, sizeof h[0], 7, stdin) != 7)
        return 2;
    int64_t n = h[0], K = h[1], n_grid = h[2], n_rows = h[3], n_bounds = h[4], n_shuffle = h[5];
    int64_t n_pairs = h[6];
    uint64_t seed = *(uint64_t *)read_n(8, 1);
    double *X = read_n(8, 4 * n);
    float *Xf = read_n(4, 4 * n);
    double *V = read_n(8, K * n);
    double *A = read_n(8, 4 * K);
    double *grid = read_n(8, n_grid);
    double *Zs = read_n(8, n_rows * K);
    int64_t *ys = read_n(8, n_rows);
    uint64_t *bounds = read_n(8, n_bounds);
    uint64_t *pairs = read_n(8, 2 * n_pairs);
    double *out = malloc(8 * (size_t)(4 * K * n + 4 * K + 8 * n_grid + 4 * n_rows * K + 8));
    double *W = malloc(8 * (size_t)(K * n));
    const double *xs[4] = {X, X + n, X + 2 * n, X + 3 * n};
    const float *xfs[4] = {Xf, Xf + n, Xf + 2 * n, Xf + 3 * n};

    /* Rows. */
    out[0] = fl_dot_d(X, V, n);
    out[1] = fl_dot_f(Xf, V, n);
    put(out, 8, 2);
    fl_dots_d(X, V, n, K, n, out);
    put(out, 8, K);
    fl_dots_f(Xf, V, n, K, n, out);
    put(out, 8, K);
    fl_scores4_d(xs, V, n, K, n, out, K);
    put(out, 8, 4 * K);
    fl_scores4_f(xfs, V, n, K, n, out, K);
    put(out, 8, 4 * K);
    for (j = 0; j < K * n; j++) W[j] = V[j];
    fl_axpys_d(A, X, W, n, K, n);
    put(W, 8, K * n);
    for (j = 0; j < K * n; j++) W[j] = V[j];
    fl_axpys_f(A, Xf, W, n, K, n);
    put(W, 8, K * n);
    for (j = 0; j < K * n; j++) W[j] = V[j];
    fl_axpys4_d(A, K, xs, W, n, K, n);
    put(W, 8, K * n);
    for (j = 0; j < K * n; j++) W[j] = V[j];
    fl_axpys4_f(A, K, xfs, W, n, K, n);
    put(W, 8, K * n);
    fl_prefetch(X, 8 * n);

    /* Formulas. */
    for (j = 0; j < n_grid; j++) {
        double res0, res1;
        out[8 * j] = fl_sigmoid(grid[j]);
        out[8 * j + 1] = fl_log1pexp(grid[j]);
        out[8 * j + 2] = fl_log_sigmoid(grid[j]);
        out[8 * j + 3] = fl_binary_loss_residual(grid[j], 0.0, &res0);
        out[8 * j + 4] = res0;
        out[8 * j + 5] = fl_binary_loss_residual(grid[j], 1.0, &res1);
        out[8 * j + 6] = res1;
        out[8 * j + 7] = fl_diff_err(grid[j], 0.1, grid[j] - 0.1);
    }
    put(out, 8, 8 * n_grid);
    {
        double *p = malloc(8 * (size_t)K), *p_lo = malloc(8 * (size_t)K), *scratch = malloc(16 * (size_t)K);
        int64_t *rows = malloc(8 * (size_t)n_rows);
        for (r = 0; r < n_rows; r++) {
            double L, m = fl_softmax_row(Zs + r * K, K, p, p_lo, &L);
            put(p, 8, K);
            put(&L, 8, 1);
            put(&m, 8, 1);
            rows[r] = r;
        }
        double total = fl_softmax_residuals(Zs, n_rows, K, ys, rows, NULL, 1.0, scratch);
        put(Zs, 8, n_rows * K);
        put(&total, 8, 1);
    }

    /* Random. */
    {
        uint64_t st = seed, u[1000];
        for (j = 0; j < 1000; j++) u[j] = fl_next_u64(&st);
        put(u, 8, 1000);
        st = seed;
        for (j = 0; j < n_bounds; j++) {
            uint64_t b = fl_bounded(&st, bounds[j]);
            put(&b, 8, 1);
        }
        int64_t *a = malloc(8 * (size_t)(n_shuffle > 0 ? n_shuffle : 1));
        for (j = 0; j < n_shuffle; j++) a[j] = j;
        st = seed;
        for (k = 0; k < 3; k++) fl_shuffle(a, n_shuffle, &st);
        put(a, 8, n_shuffle);
        put(&st, 8, 1);
        for (j = 0; j < n_pairs; j++) {
            uint64_t lo, hi = fl_mul_wide(pairs[2 * j], pairs[2 * j + 1], &lo);
            uint64_t limbs = fl_mulhi_limbs(pairs[2 * j], pairs[2 * j + 1]);
            put(&hi, 8, 1);
            put(&lo, 8, 1);
            put(&limbs, 8, 1);
        }
    }
    return 0;
}
"""

CC = os.environ.get("CC", "cc")
# As setup.py compiles the extension with GCC or Clang.
FAST_FLAGS = ["-O3", "-fopenmp-simd", "-ffp-contract=off", "-fno-trapping-math"]
MASK64 = (1 << 64) - 1


@pytest.fixture(scope="module")
def c_builds(tmp_path_factory):
    if shutil.which(CC.split()[0]) is None:
        pytest.skip(f"no C compiler ({CC})")
    d = tmp_path_factory.mktemp("c_formulas")
    src = d / "check.c"
    src.write_text(CHECK_PROGRAM)
    builds = {}
    for name, flags in {"fast": FAST_FLAGS, "portable": FAST_FLAGS + ["-DFL_PORTABLE_C"]}.items():
        exe = d / name
        cmd = CC.split() + flags + ["-I", str(PACKAGE), str(src), "-o", str(exe), "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if name == "fast" and proc.returncode != 0 and "fopenmp-simd" in proc.stderr:
            pytest.skip(f"{CC} does not take -fopenmp-simd")
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
        builds[name] = exe
    return builds


def test_portable_headers_are_strict_iso_c99(c_builds, tmp_path):
    # No extension left once FL_PORTABLE_C is defined: what MSVC gets too.
    src = tmp_path / "iso.c"
    src.write_text(
        '#include "_stable.h"\n#include "_rows.h"\n#include "_random.h"\n'
        "int main(void) { uint64_t s = 1; int64_t a[3] = {0, 1, 2};\n"
        "  fl_shuffle(a, 3, &s); return fl_dot_d(0, 0, 0) != 0.0; }\n"
    )
    cmd = CC.split() + [
        "-std=c99",
        "-pedantic-errors",
        "-Wall",
        "-Werror",
        "-DFL_PORTABLE_C",
        "-I",
        str(PACKAGE),
        str(src),
        "-o",
        str(tmp_path / "iso"),
        "-lm",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


class _Reader:
    def __init__(self, raw):
        self.raw, self.pos = raw, 0

    def take(self, n, dtype=np.float64):
        dt = np.dtype(dtype)
        out = np.frombuffer(self.raw, dtype=dt, count=n, offset=self.pos)
        self.pos += n * dt.itemsize
        return out


def _splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def _bounded(state, bound):
    """Lemire's unbiased bounded integer, with Python's big integers."""
    state, x = _splitmix64(state)
    m = x * bound
    if (m & MASK64) < bound:
        threshold = (2**64 - bound) % bound
        while (m & MASK64) < threshold:
            state, x = _splitmix64(state)
            m = x * bound
    return state, m >> 64


def _case(n, K, integer, seed):
    rng = np.random.default_rng(seed)
    if integer:
        # Products and every partial sum are small integers: exact in any order, FMA or not.
        X = rng.integers(-8, 9, 4 * n).astype(np.float64)
        V = rng.integers(-8, 9, K * n).astype(np.float64)
        A = rng.integers(-4, 5, 4 * K).astype(np.float64)
    else:
        X = rng.standard_normal(4 * n)
        V = rng.standard_normal(K * n)
        A = rng.standard_normal(4 * K)
    grid = np.concatenate(
        [
            np.linspace(-800.0, 800.0, 1601),
            np.geomspace(1e-310, 50.0, 200),
            -np.geomspace(1e-310, 50.0, 200),
            [0.0, -0.0, 709.78, -745.14, -746.0],
        ]
    )
    n_rows = 6
    Z = rng.standard_normal((n_rows, K)) * 30.0
    y = rng.integers(0, K, n_rows).astype(np.int64)
    bounds = np.array(
        [
            1,
            2,
            3,
            7,
            10,
            1000,
            2**31 + 11,
            2**32 - 1,
            2**32 + 1,
            2**62 + 3,
            2**63,
            2**63 + 1,
            2**64 - 3,
            2**64 - 1,
        ]
        + list(rng.integers(1, 2**63, 50)),
        dtype=np.uint64,
    )
    edges = [0, 1, 2, 2**32 - 1, 2**32, 2**32 + 1, 2**63, 2**64 - 1]
    pairs = np.concatenate(
        [
            np.array([(a, b) for a in edges for b in edges], dtype=np.uint64),
            rng.integers(0, 2**64 - 1, (200, 2), dtype=np.uint64, endpoint=True),
        ]
    )
    return dict(
        n=n,
        K=K,
        X=X,
        Xf=X.astype(np.float32),
        V=V,
        A=A,
        grid=grid,
        Z=Z,
        y=y,
        bounds=bounds,
        n_shuffle=1 + n * 7,
        pairs=pairs,
        seed=int(rng.integers(0, 2**63)),
    )


def _run(exe, c):
    header = np.array(
        [
            c["n"],
            c["K"],
            c["grid"].size,
            c["Z"].shape[0],
            c["bounds"].size,
            c["n_shuffle"],
            c["pairs"].shape[0],
        ],
        dtype=np.int64,
    )
    stdin = b"".join(
        [
            header.tobytes(),
            np.uint64(c["seed"]).tobytes(),
            c["X"].tobytes(),
            c["Xf"].tobytes(),
            c["V"].tobytes(),
            c["A"].tobytes(),
            c["grid"].tobytes(),
            c["Z"].tobytes(),
            c["y"].tobytes(),
            c["bounds"].tobytes(),
            c["pairs"].tobytes(),
        ]
    )
    proc = subprocess.run([str(exe)], input=stdin, capture_output=True, check=True)
    r = _Reader(proc.stdout)
    n, K, G, R = c["n"], c["K"], c["grid"].size, c["Z"].shape[0]
    out = {}
    out["dot"] = r.take(2)
    out["dots_d"], out["dots_f"] = r.take(K), r.take(K)
    out["scores4_d"], out["scores4_f"] = r.take(4 * K), r.take(4 * K)
    for name in ("axpys_d", "axpys_f", "axpys4_d", "axpys4_f"):
        out[name] = r.take(K * n)
    out["formulas"] = r.take(8 * G).reshape(G, 8)
    sm = [(r.take(K), r.take(1)[0], r.take(1)[0]) for _ in range(R)]
    out["softmax_p"] = np.array([s[0] for s in sm])
    out["softmax_L"] = np.array([s[1] for s in sm])
    out["softmax_max"] = np.array([s[2] for s in sm])
    out["residuals"] = r.take(R * K).reshape(R, K)
    out["residual_loss"] = r.take(1)[0]
    out["u64"] = r.take(1000, np.uint64)
    out["bounded"] = r.take(c["bounds"].size, np.uint64)
    out["shuffled"] = r.take(c["n_shuffle"], np.int64)
    out["shuffle_state"] = r.take(1, np.uint64)[0]
    out["mul"] = r.take(3 * c["pairs"].shape[0], np.uint64).reshape(-1, 3)
    assert r.pos == len(proc.stdout)
    return out


def _row_products(c, magnitude=False):
    """The exact results of the row functions (math.fsum) from the inputs; with
    ``magnitude``, the same sums of absolute values (for error bounds)."""
    n, K = c["n"], c["K"]
    f = np.abs if magnitude else (lambda a: a)
    X, V, A = f(c["X"].reshape(4, n)), f(c["V"].reshape(K, n)), f(c["A"].reshape(4, K))
    Xf = f(c["Xf"].astype(np.float64).reshape(4, n))
    exact = {}
    exact["dot"] = np.array([math.fsum(X[0] * V[0]), math.fsum(Xf[0] * V[0])])
    exact["dots_d"] = np.array([math.fsum(X[0] * V[k]) for k in range(K)])
    exact["dots_f"] = np.array([math.fsum(Xf[0] * V[k]) for k in range(K)])
    exact["scores4_d"] = np.array([[math.fsum(X[r] * V[k]) for k in range(K)] for r in range(4)]).ravel()
    exact["scores4_f"] = np.array([[math.fsum(Xf[r] * V[k]) for k in range(K)] for r in range(4)]).ravel()
    for name, Y in (("axpys_d", X), ("axpys_f", Xf)):
        exact[name] = np.array(
            [[math.fsum([V[k, j], A[0, k] * Y[0, j]]) for j in range(n)] for k in range(K)]
        ).ravel()
    for name, Y in (("axpys4_d", X), ("axpys4_f", Xf)):
        exact[name] = np.array(
            [
                [math.fsum([V[k, j]] + [A[r, k] * Y[r, j] for r in range(4)]) for j in range(n)]
                for k in range(K)
            ]
        ).ravel()
    return exact


ROW_OUTPUTS = [
    "dot",
    "dots_d",
    "dots_f",
    "scores4_d",
    "scores4_f",
    "axpys_d",
    "axpys_f",
    "axpys4_d",
    "axpys4_f",
]


@pytest.mark.parametrize("n,K", [(1, 1), (37, 3), (64, 4), (257, 9)])
def test_portable_rows_equal_the_fast_paths_bit_for_bit_when_sums_are_exact(c_builds, n, K):
    c = _case(n, K, integer=True, seed=n + K)
    fast, portable = _run(c_builds["fast"], c), _run(c_builds["portable"], c)
    exact = _row_products(c)
    for name in ROW_OUTPUTS:
        np.testing.assert_array_equal(fast[name], exact[name], err_msg=name)
        np.testing.assert_array_equal(portable[name], exact[name], err_msg=name)


@pytest.mark.parametrize("n,K", [(37, 3), (257, 9)])
def test_portable_rows_agree_with_the_fast_paths_within_rounding(c_builds, n, K):
    c = _case(n, K, integer=False, seed=n * K)
    fast, portable = _run(c_builds["fast"], c), _run(c_builds["portable"], c)
    exact, size = _row_products(c), _row_products(c, magnitude=True)
    # A sum of m terms, each a rounded product, in any order, FMA or not:
    # |error| <= m * eps * (sum of |terms|), m <= n + 4.
    eps = np.finfo(np.float64).eps
    for name in ROW_OUTPUTS:
        for out in (fast, portable):
            assert (np.abs(out[name] - exact[name]) <= (n + 5) * eps * size[name]).all(), name
    if platform.machine().lower() in ("x86_64", "amd64"):
        # No FMA in the baseline target: the portable dot is the plain sum, in order.
        X, V = c["X"].reshape(4, n), c["V"].reshape(K, n)
        s = 0.0
        for j in range(n):
            s += X[0, j] * V[0, j]
        assert portable["dot"][0] == s


@pytest.mark.parametrize("n,K", [(37, 3), (64, 4), (5, 10)])
def test_portable_random_and_formulas_equal_the_fast_paths_bit_for_bit(c_builds, n, K):
    c = _case(n, K, integer=False, seed=7 * n + K)
    fast, portable = _run(c_builds["fast"], c), _run(c_builds["portable"], c)
    for name in (
        "u64",
        "bounded",
        "shuffled",
        "shuffle_state",
        "mul",
        "formulas",
        "softmax_p",
        "softmax_L",
        "softmax_max",
    ):
        np.testing.assert_array_equal(
            np.asarray(fast[name]).view(np.uint64), np.asarray(portable[name]).view(np.uint64), err_msg=name
        )
    # The portable softmax residuals have no FMA clone: fl_softmax_row's to the bit.
    expected = portable["softmax_p"].copy()
    expected[np.arange(len(c["y"])), c["y"]] -= 1.0
    np.testing.assert_array_equal(portable["residuals"], expected)
    spacing = np.spacing(np.maximum(np.abs(fast["residuals"]), np.abs(expected)))
    assert (np.abs(fast["residuals"] - expected) <= spacing).all()


@pytest.mark.parametrize("build", ["fast", "portable"])
def test_random_stream_equals_a_big_integer_reference(c_builds, build):
    c = _case(37, 3, integer=False, seed=11)
    out = _run(c_builds[build], c)
    state, stream = c["seed"], []
    for _ in range(1000):
        state, u = _splitmix64(state)
        stream.append(u)
    assert out["u64"].tolist() == stream
    state, bounded = c["seed"], []
    for b in c["bounds"].tolist():
        state, v = _bounded(state, b)
        bounded.append(v)
    assert out["bounded"].tolist() == bounded
    assert all(v < b for v, b in zip(bounded, c["bounds"].tolist()))
    products = [((a * b) >> 64, (a * b) & MASK64, (a * b) >> 64) for a, b in c["pairs"].tolist()]
    assert out["mul"].tolist() == [list(p) for p in products]
    # The shuffle: Fisher-Yates driven by the bounded draws, three times over.
    a, state = list(range(c["n_shuffle"])), c["seed"]
    for _ in range(3):
        for i in range(len(a) - 1, 0, -1):
            state, j = _bounded(state, i + 1)
            a[i], a[j] = a[j], a[i]
    assert out["shuffled"].tolist() == a
    assert int(out["shuffle_state"]) == state


def test_extension_shuffle_is_the_headers_generator():
    rows = np.arange(1000, dtype=np.int64)
    state = np.array([12345], dtype=np.uint64)
    _sgd.shuffle(rows, state)
    a, s = list(range(1000)), 12345
    for i in range(999, 0, -1):
        s, j = _bounded(s, i + 1)
        a[i], a[j] = a[j], a[i]
    assert rows.tolist() == a
    assert int(state[0]) == s
