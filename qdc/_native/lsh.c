/* LSH band keys and candidate pairs, and the verification's set Jaccard of pairs (qdc.dedup.lsh, jaccard). */
#include "native.h"

/* pair_jaccard(values, offsets, a, b, out) -> None
 *
 * values: uint32 segments (repeats allowed); offsets: int64 m + 1; a, b: int64 segment numbers; out: float64,
 * the Jaccard of the sets of segments a[k] and b[k] (0 when both are empty): qdc.dedup.jaccard's
 * unique_sets + pair_jaccard, by a hash table per pair (entries stamped with the pair, so never cleared). */
PyObject *qdc_pair_jaccard(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer vb, ob, ab, bb, rb;
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*", &vb, &ob, &ab, &bb, &rb)) return NULL;
    PyObject *result = NULL;
    const Py_ssize_t m = ob.len / 8 - 1, pairs = ab.len / 8, total = vb.len / 4;
    const int64_t *o = ob.buf, *pa = ab.buf, *pb = bb.buf;
    int bad = m < 0 || bb.len != ab.len || rb.len != pairs * 8;
    for (Py_ssize_t r = 0; !bad && r < m; r++) bad = o[r] < 0 || o[r + 1] < o[r] || o[r + 1] > total;
    int64_t longest = 0;
    for (Py_ssize_t k = 0; !bad && k < pairs; k++) {
        bad = pa[k] < 0 || pa[k] >= m || pb[k] < 0 || pb[k] >= m;
        if (!bad) {
            const int64_t la = o[pa[k] + 1] - o[pa[k]], lb = o[pb[k] + 1] - o[pb[k]];
            longest = la + lb > longest ? la + lb : longest;
        }
    }
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "pair_jaccard: bad sizes or segment numbers");
        goto done;
    }
    int bits = 4;
    while (((int64_t)1 << bits) < 2 * longest) bits++;
    const size_t size = (size_t)1 << bits;
    u32 *keys = malloc(size * sizeof(u32)), *stamps = calloc(size, sizeof(u32));
    uint8_t *side = malloc(size);
    if (!keys || !stamps || !side) {
        free(keys); free(stamps); free(side);
        PyErr_NoMemory();
        goto done;
    }
    const u32 *v = vb.buf;
    double *out = rb.buf;
    Py_BEGIN_ALLOW_THREADS
    u32 stamp = 0;
    for (Py_ssize_t k = 0; k < pairs; k++) {
        if (++stamp == 0) { /* wrapped: clear once */
            memset(stamps, 0, size * sizeof(u32));
            stamp = 1;
        }
        int64_t ua = 0, ub = 0, inter = 0;
        for (int pass = 0; pass < 2; pass++) {
            const int64_t seg = pass ? pb[k] : pa[k];
            for (int64_t i = o[seg]; i < o[seg + 1]; i++) {
                const u32 x = v[i];
                size_t slot = (size_t)(((u64)x * 0x9E3779B97F4A7C15ULL) >> (64 - bits));
                while (stamps[slot] == stamp && keys[slot] != x) slot = (slot + 1) & (size - 1);
                if (stamps[slot] != stamp) { /* first time in this pair */
                    stamps[slot] = stamp; keys[slot] = x; side[slot] = (uint8_t)(pass + 1);
                    if (pass) ub++; else ua++;
                } else if (pass && side[slot] == 1) { /* in a, first time in b */
                    side[slot] = 3; ub++; inter++;
                }
            }
        }
        const int64_t uni = ua + ub - inter;
        out[k] = uni > 0 ? (double)inter / (double)uni : 0.0;
    }
    Py_END_ALLOW_THREADS
    free(keys); free(stamps); free(side);
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&vb); PyBuffer_Release(&ob); PyBuffer_Release(&ab); PyBuffer_Release(&bb);
    PyBuffer_Release(&rb);
    return result;
}

typedef struct { u64 key; int64_t head, tail, size; u32 stamp; } group_t;

typedef struct { u64 *v; size_t len, cap; int failed; } codes_t;

static inline void push_code(codes_t *c, u64 code) {
    if (c->len == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        u64 *v = realloc(c->v, cap * sizeof(u64));
        if (!v) { c->failed = 1; return; }
        c->v = v; c->cap = cap;
    }
    c->v[c->len++] = code;
}

/* band_pairs(keys, bands, cap) -> bytes
 *
 * keys: uint64 (n, bands). Rows sharing a key in some band, as uint64 codes i * n + j (i < j; repeats
 * across bands kept, unsorted): every pair of a bucket of up to cap + 1 rows, and in a larger bucket the
 * pairs at most cap apart in row order (qdc.dedup.lsh.candidate_pairs before its np.unique). Buckets are
 * found with a hash table per band, where the numpy code sorts every band. */
PyObject *qdc_band_pairs(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer kb;
    Py_ssize_t bands, cap;
    if (!PyArg_ParseTuple(args, "y*nn", &kb, &bands, &cap)) return NULL;
    PyObject *result = NULL;
    const Py_ssize_t n = bands > 0 ? kb.len / 8 / bands : 0;
    if (bands < 1 || cap < 1 || kb.len != n * bands * 8) {
        PyErr_SetString(PyExc_ValueError, "band_pairs: bad sizes");
        PyBuffer_Release(&kb);
        return NULL;
    }
    int bits = 4;
    while (((Py_ssize_t)1 << bits) < 2 * n) bits++;
    const size_t size = (size_t)1 << bits;
    group_t *table = calloc(size, sizeof(group_t));
    int64_t *next = malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t)), *members = NULL;
    codes_t codes = {0};
    const u64 *keys = kb.buf;
    int nomem = !table || !next;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t b = 0; b < bands && !nomem && !codes.failed; b++) {
        const u32 stamp = (u32)b + 1;
        for (Py_ssize_t r = 0; r < n; r++) {
            const u64 key = keys[r * bands + b];
            size_t slot = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> (64 - bits));
            while (table[slot].stamp == stamp && table[slot].key != key) slot = (slot + 1) & (size - 1);
            group_t *g = &table[slot];
            if (g->stamp != stamp) {
                g->stamp = stamp; g->key = key; g->head = g->tail = r; g->size = 1;
            } else {
                next[g->tail] = r; g->tail = r; g->size++;
            }
        }
        for (size_t slot = 0; slot < size && !nomem && !codes.failed; slot++) {
            const group_t *g = &table[slot];
            if (g->stamp != stamp || g->size < 2) continue;
            int64_t *m = realloc(members, (size_t)g->size * sizeof(int64_t));
            if (!m) { nomem = 1; break; }
            members = m;
            int64_t r = g->head;
            for (int64_t k = 0; k < g->size; k++) { members[k] = r; r = next[r]; }
            for (int64_t a = 0; a < g->size; a++)
                for (int64_t d = 1; d <= cap && a + d < g->size; d++)
                    push_code(&codes, (u64)members[a] * (u64)n + (u64)members[a + d]);
        }
    }
    Py_END_ALLOW_THREADS
    if (nomem || codes.failed) PyErr_NoMemory();
    else result = PyBytes_FromStringAndSize((const char *)codes.v, (Py_ssize_t)(codes.len * sizeof(u64)));
    free(table); free(next); free(members); free(codes.v);
    PyBuffer_Release(&kb);
    return result;
}

/* band_keys(sig, width, bands, rows, out) -> None
 *
 * sig: uint32 (n, width); out: uint64 (n, bands). Band b's key folds its rows values as
 * qdc.dedup.lsh.band_keys does: h = b * M2 + M1; h ^= v, h *= M1, h ^= h >> 29 per value; then h *= M2,
 * h ^= h >> 32. */
PyObject *qdc_band_keys(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer sb, ob;
    Py_ssize_t width, bands, rows;
    if (!PyArg_ParseTuple(args, "y*nnnw*", &sb, &width, &bands, &rows, &ob)) return NULL;
    PyObject *result = NULL;
    const Py_ssize_t n = width > 0 ? sb.len / 4 / width : 0;
    /* bands * rows <= width, asked as a division: the product of two caller ints could wrap */
    if (width < 1 || bands < 1 || rows < 1 || rows > width / bands || sb.len != n * width * 4 ||
        ob.len != n * bands * 8) {
        PyErr_SetString(PyExc_ValueError, "band_keys: bad sizes");
        goto done;
    }
    const u32 *sig = sb.buf;
    u64 *out = ob.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < n; r++) {
        const u32 *v = sig + r * width;
        for (Py_ssize_t b = 0; b < bands; b++) {
            u64 h = (u64)b * SH_M2 + SH_M1;
            for (Py_ssize_t c = b * rows; c < (b + 1) * rows; c++) {
                h ^= v[c]; h *= SH_M1; h ^= h >> 29;
            }
            h *= SH_M2;
            out[r * bands + b] = h ^ (h >> 32);
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&sb); PyBuffer_Release(&ob);
    return result;
}

