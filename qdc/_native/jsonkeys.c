/* Keys written per JSON line, counted as colons outside strings (qdc.io.fastjsonl). */
#include "native.h"

/* Colons outside strings in d[0:end]: one per key written, at any depth (strings and escapes well formed). */
static int64_t key_colons(const uint8_t *d, int64_t end) {
    int64_t count = 0;
    for (int64_t i = 0; i < end; i++) {
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
    return count;
}

/* json_key_colons(lines, out) -> None
 *
 * lines: a list of bytes, JSON lines each parsed already; out: int64 per line, the colons outside strings (one
 * per key written, at any depth). The lines are read where they are: no joined copy of the file. */
PyObject *qdc_json_key_colons(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *list;
    Py_buffer ob;
    if (!PyArg_ParseTuple(args, "O!w*", &PyList_Type, &list, &ob)) return NULL;
    PyObject *result = NULL;
    /* A tuple of the lines holds a reference to each while the GIL is released (the list may change). */
    PyObject *items = PySequence_Tuple(list);
    const uint8_t **data = NULL;
    int64_t *size = NULL;
    if (items == NULL) goto done;
    const Py_ssize_t n = PyTuple_GET_SIZE(items);
    if (ob.len != n * 8) {
        PyErr_SetString(PyExc_ValueError, "json_key_colons: out must hold one int64 per line");
        goto done;
    }
    data = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(*data));
    size = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(*size));
    if (data == NULL || size == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t r = 0; r < n; r++) {
        PyObject *line = PyTuple_GET_ITEM(items, r);
        if (!PyBytes_CheckExact(line)) {
            PyErr_SetString(PyExc_TypeError, "json_key_colons: every line must be bytes");
            goto done;
        }
        data[r] = (const uint8_t *)PyBytes_AS_STRING(line);
        size[r] = PyBytes_GET_SIZE(line);
    }
    int64_t *out = ob.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < n; r++) out[r] = key_colons(data[r], size[r]);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(data);
    PyMem_Free(size);
    Py_XDECREF(items);
    PyBuffer_Release(&ob);
    return result;
}
