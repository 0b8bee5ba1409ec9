/* The agent page's files (services/pop/www/), compiled into the binary by
 * embed.cmake so a replica needs nothing beside itself. */
#ifndef POP_ASSETS_H
#define POP_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path; /* "/agent/", "/agent/app.js", ... */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
} pop_asset_t;

/* NULL when there is no such file. */
const pop_asset_t *pop_asset_find(const char *path);

#endif
