/* libFuzzer target: the $batch response decoder and the outcome matcher
 * on arbitrary bytes (a CRM, or whatever answers in its place, is not
 * trusted). Seeds: tests/ticket/unit/fixtures/odata_batch_*. */
#include "crm_odata_batch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    crm_batch_part_t parts[16];
    size_t n = 0;
    char err[128];
    /* An exact-size copy, so that reading one byte past the input is caught. */
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    if (crm_batch_decode(NULL, copy, size, parts, 16, &n, err, sizeof err) == 0) {
        crm_batch_op_t ops[16];
        int status[16];
        for (size_t i = 0; i < 16; i++) {
            ops[i].method = "PATCH";
            ops[i].url = "incidents";
            ops[i].body = "{}";
            ops[i].changeset = i < 4 ? 1 : (i < 8 ? 0 : 2);
        }
        for (size_t i = 0; i < n; i++)
            if (parts[i].body_len &&
                (parts[i].body < copy || parts[i].body + parts[i].body_len > copy + size))
                abort(); /* a body must lie inside the input */
        (void)crm_batch_outcome(ops, 16, parts, n, status, NULL);
    }
    free(copy);
    return 0;
}
