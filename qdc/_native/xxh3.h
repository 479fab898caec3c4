/* XXH3-64 with seed 0, written from the algorithm's description (the same values as the xxhash package and
 * qdc._native.tokens' numpy code); included by hashing.c only. */
#ifndef QDC_XXH3_H
#define QDC_XXH3_H
#include "native.h"

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

#endif
