/* rensa's R-MinHash (algorithm version 2) signatures of flat token hashes; see qdc/dedup/rminhash.py. */
#include "native.h"

static inline u64 splitmix(u64 x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

#define RANK_BITS 2
#define FRACTION_BITS 30
#define ROUNDS 3
#define FALLBACK (3U << FRACTION_BITS)
#define BUCKET_DOMAIN 0x6a09e667f3bcc909ULL
#define ROUND_DOMAIN 0x3c6ef372fe94f82bULL
#define FALLBACK_DOMAIN 0xbb67ae8584caa73bULL

/* Bucket of a mixed value among `count` (Lemire's multiply, redrawn below the rejection threshold). */
static inline u32 bucket_of(u64 mixed, u32 count, u32 threshold) {
    for (;;) {
        u64 p = (u64)(u32)mixed * count;
        if ((u32)p >= threshold) return (u32)(p >> 32);
        mixed = splitmix(mixed);
    }
}

void qdc_row_signature(const u64 *h, Py_ssize_t m, const u64 *a, const u64 *b, u32 np, u32 *v) {
    for (u32 p = 0; p < np; p++) v[p] = 0xFFFFFFFFU;
    if (m == 0) return;
    /* The three bucket rounds in one pass: each round's ranks carry the round in their top bits, so the
     * minimum does not depend on the order (rensa stops early only where later rounds cannot win). */
    const u64 s0 = b[0] ^ BUCKET_DOMAIN, s1 = s0 ^ ROUND_DOMAIN, s2 = s0 ^ (2 * ROUND_DOMAIN);
    const int pow2 = (np & (np - 1)) == 0;
    const int shift = 32 - __builtin_ctz(np);
    const u32 threshold = (u32)(-np) % np;
    for (Py_ssize_t j = 0; j < m; j++) {
        const u64 m0 = splitmix(h[j] ^ s0), m1 = splitmix(h[j] ^ s1), m2 = splitmix(h[j] ^ s2);
        u32 k0, k1, k2;
        if (pow2) { /* Lemire's product needs no redraw for a power of two (u64 shift: np = 1 too) */
            k0 = (u32)((u64)(u32)m0 >> shift); k1 = (u32)((u64)(u32)m1 >> shift); k2 = (u32)((u64)(u32)m2 >> shift);
        } else {
            k0 = bucket_of(m0, np, threshold); k1 = bucket_of(m1, np, threshold); k2 = bucket_of(m2, np, threshold);
        }
        const u32 r0 = (u32)(m0 >> (32 + RANK_BITS)), r1 = (1U << FRACTION_BITS) | (u32)(m1 >> (32 + RANK_BITS)),
                  r2 = (2U << FRACTION_BITS) | (u32)(m2 >> (32 + RANK_BITS));
        v[k0] = r0 < v[k0] ? r0 : v[k0]; /* branch-free: which bucket improves is unpredictable */
        v[k1] = r1 < v[k1] ? r1 : v[k1];
        v[k2] = r2 < v[k2] ? r2 : v[k2];
    }
    u64 mixed[256]; /* the fallback's per-token mix, computed once for all empty buckets (short rows) */
    const u64 fseed = a[0] ^ FALLBACK_DOMAIN;
    int ready = 0;
    for (u32 p = 0; p < np; p++) {
        if (v[p] < FALLBACK) continue;
        if (!ready && m <= 256) {
            for (Py_ssize_t j = 0; j < m; j++) mixed[j] = splitmix(h[j] ^ fseed);
            ready = 1;
        }
        u32 best = v[p];
        for (Py_ssize_t j = 0; j < m; j++) {
            const u64 x = ready ? mixed[j] : splitmix(h[j] ^ fseed);
            const u32 rank = FALLBACK | (u32)(((a[p] * x + b[p]) >> (32 + RANK_BITS)) & ((1U << FRACTION_BITS) - 1));
            if (rank < best) best = rank;
        }
        v[p] = best;
    }
}

/* signatures(hashes, offsets, a, b, out) -> None
 *
 * hashes: uint64 shingle hashes, flat; offsets: int64 n + 1; a, b: uint64 permutation pairs (num_perm each);
 * out: uint32 (n, num_perm). Rows without hashes get all 0xFFFFFFFF. */
PyObject *qdc_signatures(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer hb, ob, ab, bb, sb;
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*", &hb, &ob, &ab, &bb, &sb)) return NULL;
    PyObject *result = NULL;
    const Py_ssize_t n = ob.len / 8 - 1, np = ab.len / 8, total = hb.len / 8;
    const int64_t *o = ob.buf;
    int bad = n < 0 || np < 1 || np > 0x7FFFFFFF || bb.len != ab.len || sb.len != n * np * 4;
    for (Py_ssize_t r = 0; !bad && r < n; r++) bad = o[r] < 0 || o[r + 1] < o[r] || o[r + 1] > total;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "signatures: bad sizes or offsets");
        goto done;
    }
    const u64 *h = hb.buf, *a = ab.buf, *b = bb.buf;
    u32 *out = sb.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < n; r++) qdc_row_signature(h + o[r], o[r + 1] - o[r], a, b, (u32)np, out + r * np);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&hb); PyBuffer_Release(&ob); PyBuffer_Release(&ab); PyBuffer_Release(&bb);
    PyBuffer_Release(&sb);
    return result;
}

