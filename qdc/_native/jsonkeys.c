/* Keys written per JSON line, counted as colons outside strings (qdc.io.fastjsonl). */
#include "native.h"

/* json_key_colons(buf, line_starts, out) -> None
 *
 * buf: bytes of JSON lines, each parsed already (so strings and escapes are well formed); line_starts: int64,
 * lines + 1; out: int64 per line, the colons outside strings (one per key written, at any depth). */
PyObject *qdc_json_key_colons(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer db, sb, ob;
    if (!PyArg_ParseTuple(args, "y*y*w*", &db, &sb, &ob)) return NULL;
    PyObject *result = NULL;
    const Py_ssize_t n = sb.len / 8 - 1;
    const int64_t *s = sb.buf;
    int bad = n < 0 || ob.len != n * 8;
    for (Py_ssize_t r = 0; !bad && r < n; r++) bad = s[r] < 0 || s[r + 1] < s[r]; /* every start, in order */
    if (!bad && n > 0) bad = s[n] > db.len;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "json_key_colons: bad sizes or line starts");
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


