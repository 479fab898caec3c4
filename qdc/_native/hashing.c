/* qdc's compiled hashing kernels (optional: qdc falls back to its numpy code where this did not build).
 *
 * Every function takes whole buffers (the buffer protocol: numpy arrays, bytes), writes into buffers the
 * caller allocated, and releases the GIL while it works, so chunks hashed on several threads overlap.
 * Each one is the C form of a numpy function of qdc.dedup, bit for bit (tests/test_minhash_native.py):
 *
 *   hash_words  - qdc._native.tokens.hash_tokens' block: byte map, runs of token bytes, XXH3-64 of each run;
 *   shingles    - qdc.dedup.minhash.shingle_hashes' word n-gram mix;
 *   signatures  - (rminhash.c) the R-MinHash v2 signature rensa 0.5 computes from flat token hashes (three
 *                 bucket rounds, then per-coordinate minima for the empty buckets), from its (a, b) pairs;
 *   index_rows  - the three above per row in reused scratch space (qdc.dedup.minhash's index of a chunk);
 *   pair_jaccard - (lsh.c) qdc.dedup.jaccard's unique_sets + pair_jaccard (set Jaccard of pairs of segments);
 *   band_keys   - (lsh.c) qdc.dedup.lsh.band_keys over uint32 signatures;
 *   band_pairs  - (lsh.c) qdc.dedup.lsh.candidate_pairs' pairs of rows sharing a band key (hash table, no sort);
 *   json_key_colons - (jsonkeys.c) colons outside strings per line of a list of lines (fastjsonl's key count).
 *
 * XXH3-64 (seed 0, xxh3.h) is written from the algorithm's description, as qdc._native.tokens does in numpy.
 */
#include "native.h"
#include "xxh3.h"

typedef struct { u64 *v; size_t cap; } grow_t;

static int grow(grow_t *g, size_t need) {
    if (need <= g->cap) return 1;
    size_t cap = g->cap ? g->cap : 1024;
    while (cap < need) cap *= 2;
    u64 *v = realloc(g->v, cap * sizeof(u64));
    if (!v) return 0;
    g->v = v; g->cap = cap;
    return 1;
}

/* A text's bytes and how its tokens are read: tt[c] says whether byte c (seen through the map m, when there is
 * one) is a token byte; `lower`: m is ASCII lower-casing, applied 8 bytes at a time. */
typedef struct { const uint8_t *buf, *end, *tt, *m; int lower; grow_t tmp; } text_t;

static void text_init(text_t *t, const uint8_t *buf, Py_ssize_t len, const uint8_t *token_byte, const uint8_t *m,
                      uint8_t tt[256]) {
    int lower = m != NULL;
    for (int c = 0; c < 256; c++) {
        tt[c] = token_byte[m ? m[c] : c] != 0;
        if (m) lower &= m[c] == (c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    *t = (text_t){buf, buf + len, tt, m, lower, {0}};
}

/* ASCII letters A-Z of 8 bytes lower-cased (other bytes, non-ASCII ones too, unchanged), without a branch. */
static inline u64 lower8(u64 w) {
    const u64 ones = 0x0101010101010101ULL, high = ones * 0x80, low7 = w & ~high;
    const u64 at_least_a = low7 + ones * (0x80 - 'A'), above_z = low7 + ones * (0x80 - 'Z' - 1);
    return w | (((at_least_a & ~above_z & ~w & high) >> 2));
}

/* XXH3-64 of a token of the text, through the byte map when there is one. */
static inline int token_hash(text_t *t, const uint8_t *p, size_t len, u64 *out) {
    if (!t->m) { *out = xxh3_64(p, len); return 1; }
    if (t->lower && len <= 16 && p + 16 <= t->end) { /* the common word: two 8-byte loads, lower-cased */
        u64 w[2] = {lower8(rd64(p)), lower8(rd64(p + 8))};
        *out = xxh3_64((const uint8_t *)w, len);
        return 1;
    }
    uint8_t local[64];
    uint8_t *q = local;
    if (len > sizeof local) {
        if (!grow(&t->tmp, len / 8 + 1)) return 0;
        q = (uint8_t *)t->tmp.v;
    }
    for (size_t i = 0; i < len; i++) q[i] = t->m[p[i]];
    *out = xxh3_64(q, len);
    return 1;
}

/* The XXH3-64 of every token of b[start:end] (maximal runs of bytes c with tt[c]; hashed through the byte
 * map m when there is one) into words, from a bitmap of 64 bytes at a time: starts and ends are bit
 * transitions found by counting trailing zeros, with no branch per byte. Returns the count, -1 when out of
 * memory. */
static Py_ssize_t row_words(text_t *t, int64_t start, int64_t end, grow_t *words) {
    const uint8_t *b = t->buf, *tt = t->tt;
    size_t nw = 0;
    int64_t st = -1;
    for (int64_t base = start; base < end; base += 64) {
        const int cnt = end - base < 64 ? (int)(end - base) : 64;
        u64 mask = 0;
        for (int q = 0; q < cnt; q++) mask |= (u64)tt[b[base + q]] << q;
        const u64 prev = (mask << 1) | (st >= 0);
        u64 events = (mask & ~prev) | (~mask & prev);
        while (events) {
            const int q = __builtin_ctzll(events);
            events &= events - 1;
            if (st < 0) { st = base + q; continue; }
            if (!grow(words, nw + 1) || !token_hash(t, b + st, (size_t)(base + q - st), &words->v[nw])) return -1;
            nw++;
            st = -1;
        }
    }
    if (st >= 0) { /* a token up to the row's end (the row's length a multiple of 64) */
        if (!grow(words, nw + 1) || !token_hash(t, b + st, (size_t)(end - st), &words->v[nw])) return -1;
        nw++;
    }
    return (Py_ssize_t)nw;
}

/* hash_words(buf, offsets, token_byte, byte_map, out_hashes, out_counts) -> tokens
 *
 * buf: the rows' bytes (joined by a separator byte that is no token byte); offsets: int64, n + 1 (row i is
 * buf[offsets[i]:offsets[i+1]], the last one may reach one past the end); token_byte:
 * 256 bytes, nonzero for a token byte; byte_map: 256 bytes applied to every byte first, or b"" for none;
 * out_hashes: uint64, room for every token (len(buf) // 2 + n + 1 is always enough); out_counts: int64, n.
 * A token is a maximal run of token bytes inside one row; its value is XXH3-64 of its (mapped) bytes. */
static PyObject *hash_words(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer buf, off, tok, map, outh, outc;
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*w*", &buf, &off, &tok, &map, &outh, &outc)) return NULL;
    PyObject *result = NULL;
    const Py_ssize_t n = off.len / 8 - 1;
    const int64_t *o = off.buf;
    int bad = n < 0 || tok.len != 256 || (map.len != 0 && map.len != 256) || outc.len < n * 8;
    for (Py_ssize_t r = 0; !bad && r < n; r++) bad = o[r] < 0 || o[r + 1] < o[r];
    if (!bad && n > 0) bad = o[n] > buf.len + 1; /* the last row's separator may be missing */
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "hash_words: bad sizes or offsets");
        goto done;
    }
    uint8_t tt[256];
    text_t text;
    text_init(&text, buf.buf, buf.len, tok.buf, map.len ? map.buf : NULL, tt);
    u64 *h = outh.buf;
    int64_t *c = outc.buf;
    const Py_ssize_t cap = outh.len / 8;
    grow_t words = {0};
    Py_ssize_t k = 0;
    int failed = 0; /* 1: out of memory, 2: out_hashes too small */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < n; r++) {
        const Py_ssize_t got = row_words(&text, o[r], o[r + 1] < buf.len ? o[r + 1] : buf.len, &words);
        if (got < 0) { failed = 1; break; }
        if (k + got > cap) { failed = 2; break; }
        memcpy(h + k, words.v, (size_t)got * sizeof(u64));
        k += got;
        c[r] = got;
    }
    Py_END_ALLOW_THREADS
    free(words.v); free(text.tmp.v);
    if (failed == 1) PyErr_NoMemory();
    else if (failed == 2) PyErr_SetString(PyExc_ValueError, "hash_words: out_hashes too small");
    else result = PyLong_FromSsize_t(k);
done:
    PyBuffer_Release(&buf); PyBuffer_Release(&off); PyBuffer_Release(&tok); PyBuffer_Release(&map);
    PyBuffer_Release(&outh); PyBuffer_Release(&outc);
    return result;
}


/* Shingles of one row's word hashes into sh (room for max(len - ngram + 1, 1)); returns how many. */
static inline u64 shingle_mix(u64 h) {
    h ^= h >> 31; h *= SH_M2; h ^= h >> 29; h *= SH_M3;
    return h ^ (h >> 32);
}

static size_t row_shingles(const u64 *w, size_t len, size_t ngram, u64 *sh) {
    const size_t starts = len >= ngram ? len - ngram + 1 : (len > 0), width = len >= ngram ? ngram : len;
    size_t s = 0;
    for (; s + 4 <= starts; s += 4) { /* four independent multiply chains at once */
        u64 h0 = SH_M1, h1 = SH_M1, h2 = SH_M1, h3 = SH_M1;
        for (size_t j = 0; j < width; j++) {
            h0 = (h0 * SH_M1) ^ w[s + j]; h1 = (h1 * SH_M1) ^ w[s + 1 + j];
            h2 = (h2 * SH_M1) ^ w[s + 2 + j]; h3 = (h3 * SH_M1) ^ w[s + 3 + j];
        }
        sh[s] = shingle_mix(h0); sh[s + 1] = shingle_mix(h1); sh[s + 2] = shingle_mix(h2); sh[s + 3] = shingle_mix(h3);
    }
    for (; s < starts; s++) {
        u64 h = SH_M1;
        for (size_t j = 0; j < width; j++) h = (h * SH_M1) ^ w[s + j];
        h ^= h >> 31; h *= SH_M2; h ^= h >> 29; h *= SH_M3; h ^= h >> 32;
        sh[s] = h;
    }
    return starts;
}

/* shingles(word_hashes, counts, ngram, out) -> shingles written
 *
 * word_hashes: uint64 of every row's words, flat; counts: int64 words per row; out: uint64, room for
 * sum(max(c - ngram + 1, min(c, 1))). A row's shingles are its word n-grams, or one of all its words when it
 * has fewer than ngram; each folds its words as h = h * M1 ^ w from h = M1, then mixes (splitmix64's finaliser
 * with qdc's shifts). */
static PyObject *shingles(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer wb, cb, ob;
    Py_ssize_t ngram;
    if (!PyArg_ParseTuple(args, "y*y*nw*", &wb, &cb, &ngram, &ob)) return NULL;
    PyObject *result = NULL;
    const u64 *w = wb.buf;
    const int64_t *c = cb.buf;
    u64 *out = ob.buf;
    const Py_ssize_t n = cb.len / 8, words = wb.len / 8, cap = ob.len / 8;
    Py_ssize_t need = 0, total = 0;
    int bad = ngram < 1;
    for (Py_ssize_t r = 0; !bad && r < n; r++) { /* every count checked: no negative one, no sum past words */
        bad = c[r] < 0 || c[r] > words - total;
        if (bad) break;
        total += c[r];
        need += c[r] >= ngram ? c[r] - ngram + 1 : (c[r] > 0);
    }
    if (bad || total != words || need > cap) {
        PyErr_SetString(PyExc_ValueError, "shingles: bad sizes");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t at = 0, k = 0;
    for (Py_ssize_t r = 0; r < n; r++) {
        k += (Py_ssize_t)row_shingles(w + at, (size_t)c[r], (size_t)ngram, out + k);
        at += (Py_ssize_t)c[r];
    }
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t(need);
done:
    PyBuffer_Release(&wb); PyBuffer_Release(&cb); PyBuffer_Release(&ob);
    return result;
}

/* index_rows(buf, offsets, token_byte, byte_map, ngram, a, b, sig_out, counts_out, low_out) -> shingles
 *
 * hash_words, shingles and signatures for every row in one pass, row by row in reused scratch space:
 * buf (read only) and offsets as for hash_words (byte_map b"" for none); a, b: uint64 permutation pairs;
 * sig_out: uint32 (n, num_perm); counts_out: int64 shingles per row; low_out: uint32, the low 32 bits of
 * every row's shingle hashes in order (room for len(buf) // 2 + 1 is always enough). */
static PyObject *index_rows(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer buf, off, tok, map, ab, bb, sb, cb, lb;
    Py_ssize_t ngram;
    if (!PyArg_ParseTuple(args, "y*y*y*y*ny*y*w*w*w*", &buf, &off, &tok, &map, &ngram, &ab, &bb, &sb, &cb, &lb))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t n = off.len / 8 - 1, np = ab.len / 8;
    const int64_t *o = off.buf;
    int bad = n < 0 || ngram < 1 || tok.len != 256 || (map.len != 0 && map.len != 256) || np < 1 ||
              np > 0x7FFFFFFF || bb.len != ab.len || sb.len != n * np * 4 || cb.len != n * 8;
    for (Py_ssize_t r = 0; !bad && r < n; r++) bad = o[r] < 0 || o[r + 1] < o[r];
    if (!bad && n > 0) bad = o[n] > buf.len + 1; /* the last row's separator may be missing */
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "index_rows: bad sizes or offsets");
        goto done;
    }
    const uint8_t *b = buf.buf, *t = tok.buf, *m = map.len ? map.buf : NULL;
    const u64 *pa = ab.buf, *pb = bb.buf;
    u32 *sig = sb.buf, *low = lb.buf;
    int64_t *counts = cb.buf;
    const Py_ssize_t cap = lb.len / 4;
    uint8_t tt[256];
    text_t text;
    text_init(&text, b, buf.len, t, m, tt);
    grow_t words = {0}, sh = {0};
    Py_ssize_t k = 0;
    int failed = 0; /* 1: out of memory, 2: low_out too small */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < n && !failed; r++) {
        const int64_t end = o[r + 1] < buf.len ? o[r + 1] : buf.len;
        const Py_ssize_t got = row_words(&text, o[r], end, &words);
        if (got < 0 || !grow(&sh, (size_t)got + 1)) { failed = 1; break; }
        const size_t nw = (size_t)got;
        const size_t ns = row_shingles(words.v, nw, (size_t)ngram, sh.v);
        if (k + (Py_ssize_t)ns > cap) { failed = 2; break; }
        qdc_row_signature(sh.v, (Py_ssize_t)ns, pa, pb, (u32)np, sig + r * np);
        for (size_t j = 0; j < ns; j++) low[k + j] = (u32)sh.v[j];
        k += (Py_ssize_t)ns;
        counts[r] = (int64_t)ns;
    }
    Py_END_ALLOW_THREADS
    free(words.v); free(sh.v); free(text.tmp.v);
    if (failed) {
        if (failed == 1) PyErr_NoMemory();
        else PyErr_SetString(PyExc_ValueError, "index_rows: low_out too small");
        goto done;
    }
    result = PyLong_FromSsize_t(k);
done:
    PyBuffer_Release(&buf); PyBuffer_Release(&off); PyBuffer_Release(&tok); PyBuffer_Release(&map);
    PyBuffer_Release(&ab); PyBuffer_Release(&bb); PyBuffer_Release(&sb); PyBuffer_Release(&cb);
    PyBuffer_Release(&lb);
    return result;
}

static PyMethodDef METHODS[] = {
    {"hash_words", hash_words, METH_VARARGS, "XXH3-64 of every run of token bytes of every row (see hashing.c)."},
    {"shingles", shingles, METH_VARARGS, "Word n-gram shingle hashes of every row (see hashing.c)."},
    {"signatures", qdc_signatures, METH_VARARGS, "R-MinHash v2 signatures of flat token hashes (see hashing.c)."},
    {"index_rows", index_rows, METH_VARARGS, "Signatures and shingles of every row in one pass (see hashing.c)."},
    {"pair_jaccard", qdc_pair_jaccard, METH_VARARGS, "Jaccard of pairs of uint32 segments as sets (see hashing.c)."},
    {"band_pairs", qdc_band_pairs, METH_VARARGS, "Candidate pair codes of rows sharing a band key (see hashing.c)."},
    {"band_keys", qdc_band_keys, METH_VARARGS, "LSH band keys of uint32 signatures (see hashing.c)."},
    {"json_key_colons", qdc_json_key_colons, METH_VARARGS, "Colons outside strings per JSON line (see hashing.c)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, .m_name = "_hashing", .m_doc = "qdc's compiled hashing kernels.", .m_size = -1,
    .m_methods = METHODS,
};

/* The kernels' calling conventions; qdc._native uses a build only when its ABI is the one the Python code
 * expects (a stale build after a pull falls back to numpy instead of failing). 2: json_key_colons(lines, out). */
#define QDC_NATIVE_ABI 2

PyMODINIT_FUNC PyInit__hashing(void) {
    PyObject *m = PyModule_Create(&MODULE);
    if (m != NULL && PyModule_AddIntConstant(m, "ABI", QDC_NATIVE_ABI) < 0) Py_CLEAR(m);
    return m;
}

