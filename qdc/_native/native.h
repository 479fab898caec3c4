/* Declarations shared by the C files of qdc's compiled kernels (qdc._native._hashing; see hashing.c). */
#ifndef QDC_NATIVE_H
#define QDC_NATIVE_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t u64;
typedef uint32_t u32;
typedef unsigned __int128 u128;


#define SH_M1 0x9E3779B97F4A7C15ULL
#define SH_M2 0xBF58476D1CE4E5B9ULL
#define SH_M3 0x94D049BB133111EBULL

/* rminhash.c */
void qdc_row_signature(const u64 *h, Py_ssize_t m, const u64 *a, const u64 *b, u32 np, u32 *v);
PyObject *qdc_signatures(PyObject *self, PyObject *args);
/* lsh.c */
PyObject *qdc_pair_jaccard(PyObject *self, PyObject *args);
PyObject *qdc_band_pairs(PyObject *self, PyObject *args);
PyObject *qdc_band_keys(PyObject *self, PyObject *args);
/* jsonkeys.c */
PyObject *qdc_json_key_colons(PyObject *self, PyObject *args);

#endif
