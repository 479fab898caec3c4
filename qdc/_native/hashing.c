/* qdc's compiled hashing kernels (optional: qdc falls back to its numpy code where this did not build).
 *
 * Every function takes whole buffers (the buffer protocol: numpy arrays, bytes), writes into buffers the
 * caller allocated, and releases the GIL while it works, so chunks hashed on several threads overlap.
 * Each one is the C form of a numpy function of qdc.dedup, bit for bit (tests/test_minhash_native.py):
 *
 *   hash_words  - qdc.dedup.tokens.hash_tokens' block: byte map, runs of token bytes, XXH3-64 of each run;
 *   shingles    - qdc.dedup.minhash.shingle_hashes' word n-gram mix;
 *   signatures  - the R-MinHash v2 signature rensa 0.5 computes from flat token hashes (three bucket rounds,
 *                 then per-coordinate minima for the empty buckets), from its (a, b) permutation pairs;
 *   index_rows  - the three above per row in reused scratch space (qdc.dedup.minhash's index of a chunk);
 *   pair_jaccard - qdc.dedup.jaccard's unique_sets + pair_jaccard (set Jaccard of pairs of segments);
 *   band_keys   - qdc.dedup.lsh.band_keys over uint32 signatures;
 *   band_pairs  - qdc.dedup.lsh.candidate_pairs' pairs of rows sharing a band key (hash table, no sort);
 *   json_key_colons - colons outside strings per line (qdc.io.fastjsonl's key count).
 *
 * XXH3-64 (seed 0) is written from the algorithm's description, as qdc.dedup.tokens does in numpy.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t u64;
typedef uint32_t u32;
typedef unsigned __int128 u128;

#define P32_1 0x9E3779B1U
#define P32_2 0x85EBCA77U
#define P32_3 0xC2B2AE3DU
#define P64_1 0x9E3779B185EBCA87ULL
#define P64_2 0xC2B2AE3D27D4EB4FULL
#define P64_3 0x165667B19E3779F9ULL
#define P64_4 0x85EBCA77C2B2AE63ULL
#define P64_5 0x27D4EB2F165667C5ULL
#define MX1 0x165667919E3779F9ULL
#define MX2 0x9FB21C651E98DF25ULL

/* XXH3's default secret (192 bytes). */
static const uint8_t SECRET[192] = {
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c, 0xde, 0xd4,
    0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f, 0xcb, 0x79, 0xe6, 0x4e,
    0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21, 0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43,
    0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c, 0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb,
    0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3, 0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19,
    0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8, 0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7,
    0xc7, 0x0b, 0x4f, 0x1d, 0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78,
    0x73, 0x64, 0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
    0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e, 0x2b, 0x16,
    0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce, 0x45, 0xcb, 0x3a, 0x8f,
    0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
};

static inline u64 rd64(const uint8_t *p) { u64 v; memcpy(&v, p, 8); return v; } /* little-endian hosts */
static inline u32 rd32(const uint8_t *p) { u32 v; memcpy(&v, p, 4); return v; }
static inline u64 rotl64(u64 x, int r) { return (x << r) | (x >> (64 - r)); }
static inline u64 fold128(u64 a, u64 b) { u128 p = (u128)a * b; return (u64)p ^ (u64)(p >> 64); }

static inline u64 avalanche64(u64 h) {
    h ^= h >> 33; h *= P64_2; h ^= h >> 29; h *= P64_3; return h ^ (h >> 32);
}
static inline u64 avalanche3(u64 h) { h ^= h >> 37; h *= MX1; return h ^ (h >> 32); }
static inline u64 mix16(const uint8_t *in, const uint8_t *sec) {
    return fold128(rd64(in) ^ rd64(sec), rd64(in + 8) ^ rd64(sec + 8));
}

static u64 xxh3_long(const uint8_t *in, size_t len) {
    u64 acc[8] = {P32_3, P64_1, P64_2, P64_3, P64_4, P32_2, P64_5, P32_1};
    const size_t stripes_per_block = (192 - 64) / 8, block = 64 * stripes_per_block;
    const size_t blocks = (len - 1) / block;
    for (size_t n = 0; n <= blocks; n++) {
        const size_t stripes = n < blocks ? stripes_per_block : ((len - 1) - block * blocks) / 64;
        for (size_t s = 0; s < stripes; s++) {
            const uint8_t *p = in + n * block + s * 64, *k = SECRET + s * 8;
            for (int i = 0; i < 8; i++) {
                u64 v = rd64(p + 8 * i), key = v ^ rd64(k + 8 * i);
                acc[i ^ 1] += v;
                acc[i] += (u64)(u32)key * (key >> 32);
            }
        }
        if (n < blocks) { /* scramble */
            for (int i = 0; i < 8; i++) {
                u64 a = acc[i];
                a ^= a >> 47; a ^= rd64(SECRET + 192 - 64 + 8 * i); acc[i] = a * P32_1;
            }
        }
    }
    const uint8_t *p = in + len - 64, *k = SECRET + 192 - 64 - 7;
    for (int i = 0; i < 8; i++) {
        u64 v = rd64(p + 8 * i), key = v ^ rd64(k + 8 * i);
        acc[i ^ 1] += v;
        acc[i] += (u64)(u32)key * (key >> 32);
    }
    u64 r = (u64)len * P64_1;
    for (int i = 0; i < 4; i++)
        r += fold128(acc[2 * i] ^ rd64(SECRET + 11 + 16 * i), acc[2 * i + 1] ^ rd64(SECRET + 11 + 16 * i + 8));
    return avalanche3(r);
}

static u64 xxh3_mid(const uint8_t *in, size_t len);

/* XXH3-64, seed 0, of in[0:len]: the short branches inline, 17 bytes and more out of line. */
static inline u64 xxh3_64(const uint8_t *in, size_t len) {
    if (len == 0) return avalanche64(rd64(SECRET + 56) ^ rd64(SECRET + 64));
    if (len <= 3) {
        u32 c = ((u32)in[0] << 16) | ((u32)in[len >> 1] << 24) | in[len - 1] | ((u32)len << 8);
        return avalanche64((u64)c ^ (u64)(rd32(SECRET) ^ rd32(SECRET + 4)));
    }
    if (len <= 8) {
        u64 h = ((u64)rd32(in + len - 4) + ((u64)rd32(in) << 32)) ^ (rd64(SECRET + 8) ^ rd64(SECRET + 16));
        h ^= rotl64(h, 49) ^ rotl64(h, 24);
        h *= MX2; h ^= (h >> 35) + len; h *= MX2;
        return h ^ (h >> 28);
    }
    if (len <= 16) {
        u64 lo = rd64(in) ^ (rd64(SECRET + 24) ^ rd64(SECRET + 32));
        u64 hi = rd64(in + len - 8) ^ (rd64(SECRET + 40) ^ rd64(SECRET + 48));
        return avalanche3(len + __builtin_bswap64(lo) + hi + fold128(lo, hi));
    }
    return xxh3_mid(in, len);
}

static u64 xxh3_mid(const uint8_t *in, size_t len) {
    u64 acc = (u64)len * P64_1;
    if (len <= 128) {
        if (len > 32) {
            if (len > 64) {
                if (len > 96) acc += mix16(in + 48, SECRET + 96) + mix16(in + len - 64, SECRET + 112);
                acc += mix16(in + 32, SECRET + 64) + mix16(in + len - 48, SECRET + 80);
            }
            acc += mix16(in + 16, SECRET + 32) + mix16(in + len - 32, SECRET + 48);
        }
        acc += mix16(in, SECRET) + mix16(in + len - 16, SECRET + 16);
        return avalanche3(acc);
    }
    if (len <= 240) {
        for (int i = 0; i < 8; i++) acc += mix16(in + 16 * i, SECRET + 16 * i);
        acc = avalanche3(acc);
        for (size_t i = 8; i < len / 16; i++) acc += mix16(in + 16 * i, SECRET + 16 * (i - 8) + 3);
        acc += mix16(in + len - 16, SECRET + 136 - 17);
        return avalanche3(acc);
    }
    return xxh3_long(in, len);
}

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

#define SH_M1 0x9E3779B97F4A7C15ULL
#define SH_M2 0xBF58476D1CE4E5B9ULL
#define SH_M3 0x94D049BB133111EBULL

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
    for (Py_ssize_t r = 0; r < n; r++) {
        if (c[r] < 0) break;
        total += c[r];
        need += c[r] >= ngram ? c[r] - ngram + 1 : (c[r] > 0);
    }
    if (ngram < 1 || total != words || need > cap) {
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

static void row_signature(const u64 *h, Py_ssize_t m, const u64 *a, const u64 *b, u32 np, u32 *v) {
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
static PyObject *signatures(PyObject *Py_UNUSED(self), PyObject *args) {
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
    for (Py_ssize_t r = 0; r < n; r++) row_signature(h + o[r], o[r + 1] - o[r], a, b, (u32)np, out + r * np);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&hb); PyBuffer_Release(&ob); PyBuffer_Release(&ab); PyBuffer_Release(&bb);
    PyBuffer_Release(&sb);
    return result;
}

/* json_key_colons(buf, line_starts, out) -> None
 *
 * buf: bytes of JSON lines, each parsed already (so strings and escapes are well formed); line_starts: int64,
 * lines + 1; out: int64 per line, the colons outside strings (one per key written, at any depth). */
static PyObject *json_key_colons(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer db, sb, ob;
    if (!PyArg_ParseTuple(args, "y*y*w*", &db, &sb, &ob)) return NULL;
    PyObject *result = NULL;
    const Py_ssize_t n = sb.len / 8 - 1;
    const int64_t *s = sb.buf;
    if (n < 0 || ob.len != n * 8 || (n > 0 && (s[0] < 0 || s[n] > db.len))) {
        PyErr_SetString(PyExc_ValueError, "json_key_colons: bad sizes");
        goto done;
    }
    const uint8_t *d = db.buf;
    int64_t *out = ob.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < n; r++) {
        int64_t count = 0;
        const int64_t end = s[r + 1];
        for (int64_t i = s[r]; i < end; i++) {
            const uint8_t ch = d[i];
            if (ch == ':') count++;
            else if (ch == '"') { /* skip the string: to the next quote after an even run of backslashes */
                const int64_t open = i;
                for (;;) {
                    const uint8_t *q = memchr(d + i + 1, '"', (size_t)(end - i - 1 > 0 ? end - i - 1 : 0));
                    if (!q) { i = end; break; }
                    i = q - d;
                    int64_t run = 0;
                    while (i - 1 - run > open && d[i - 1 - run] == '\\') run++;
                    if (run % 2 == 0) break;
                }
            }
        }
        out[r] = count;
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&db); PyBuffer_Release(&sb); PyBuffer_Release(&ob);
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
        row_signature(sh.v, (Py_ssize_t)ns, pa, pb, (u32)np, sig + r * np);
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

/* pair_jaccard(values, offsets, a, b, out) -> None
 *
 * values: uint32 segments (repeats allowed); offsets: int64 m + 1; a, b: int64 segment numbers; out: float64,
 * the Jaccard of the sets of segments a[k] and b[k] (0 when both are empty): qdc.dedup.jaccard's
 * unique_sets + pair_jaccard, by a hash table per pair (entries stamped with the pair, so never cleared). */
static PyObject *pair_jaccard(PyObject *Py_UNUSED(self), PyObject *args) {
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
static PyObject *band_pairs(PyObject *Py_UNUSED(self), PyObject *args) {
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
static PyObject *band_keys(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer sb, ob;
    Py_ssize_t width, bands, rows;
    if (!PyArg_ParseTuple(args, "y*nnnw*", &sb, &width, &bands, &rows, &ob)) return NULL;
    PyObject *result = NULL;
    const Py_ssize_t n = width > 0 ? sb.len / 4 / width : 0;
    if (width < 1 || bands < 1 || rows < 1 || bands * rows > width || sb.len != n * width * 4 ||
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

static PyMethodDef METHODS[] = {
    {"hash_words", hash_words, METH_VARARGS, "XXH3-64 of every run of token bytes of every row (see hashing.c)."},
    {"shingles", shingles, METH_VARARGS, "Word n-gram shingle hashes of every row (see hashing.c)."},
    {"signatures", signatures, METH_VARARGS, "R-MinHash v2 signatures of flat token hashes (see hashing.c)."},
    {"index_rows", index_rows, METH_VARARGS, "Signatures and shingles of every row in one pass (see hashing.c)."},
    {"pair_jaccard", pair_jaccard, METH_VARARGS, "Jaccard of pairs of uint32 segments as sets (see hashing.c)."},
    {"band_pairs", band_pairs, METH_VARARGS, "Candidate pair codes of rows sharing a band key (see hashing.c)."},
    {"band_keys", band_keys, METH_VARARGS, "LSH band keys of uint32 signatures (see hashing.c)."},
    {"json_key_colons", json_key_colons, METH_VARARGS, "Colons outside strings per JSON line (see hashing.c)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, .m_name = "_hashing", .m_doc = "qdc's compiled hashing kernels.", .m_size = -1,
    .m_methods = METHODS,
};

PyMODINIT_FUNC PyInit__hashing(void) { return PyModule_Create(&MODULE); }
