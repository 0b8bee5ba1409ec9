/* The statistics' read side: day hashes -> rows by agent, queue or day
 * (cmn_stats_query.h). */
#include "cmn_stats_query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEP '\x1f'  /* the contract's part separator, ASCII unit separator */
#define KEY_MAX 512 /* bytes of a row's key (an id); longer ones are skipped */
#define NS_MAX 128

static const char *const figure_names[CMN_STATS_N_FIGURES] = {
#define CMN_STATS_NAME(id, name) name,
    CMN_STATS_FIGURES(CMN_STATS_NAME)
#undef CMN_STATS_NAME
};

typedef struct {
    char *kind;
    long long v[CMN_STATS_N_FIGURES];
} kind_cell_t;

typedef struct {
    char *key;
    long long v[CMN_STATS_N_FIGURES];
    kind_cell_t *kinds; /* each call kind's share, in the order first seen */
    size_t n_kinds;
} row_t;

struct cmn_stats_agg {
    cmn_stats_by_t by;
    row_t *rows; /* sorted by key: binary search, so a large day stays cheap */
    size_t n, cap;
    row_t total;
    size_t skipped;
};

int cmn_stats_by_parse(const char *text, cmn_stats_by_t *by)
{
    static const char *const names[] = {"agent", "queue", "day"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (text && strcmp(text, names[i]) == 0) {
            *by = (cmn_stats_by_t)i;
            return 0;
        }
    return -1;
}

const char *cmn_stats_by_name(cmn_stats_by_t by)
{
    return by == CMN_STATS_BY_AGENT ? "agent" : by == CMN_STATS_BY_QUEUE ? "queue" : "day";
}

/* Civil dates <-> days since 1970-01-01 (H. Hinnant's algorithms): no
 * time zone, no timegm(), valid for every Gregorian date. */
static long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, long *y, long *m, long *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, size_t n, long *out)
{
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int cmn_stats_day_parse(const char *text, long *day)
{
    static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    long y, m, d;
    if (!text || strlen(text) != CMN_STATS_DAY_LEN || text[4] != '-' || text[7] != '-' ||
        digits(text, 4, &y) < 0 || digits(text + 5, 2, &m) < 0 || digits(text + 8, 2, &d) < 0)
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > month_days[m - 1] ||
        (m == 2 && d == 29 && !leap))
        return -1;
    *day = days_from_civil(y, m, d);
    return 0;
}

void cmn_stats_day_format(long day, char *out, size_t outsz)
{
    long y, m, d;
    civil_from_days(day, &y, &m, &d);
    /* Days come from cmn_stats_day_parse: years 1970..9999; the moduli
     * only tell the compiler the text fits. */
    snprintf(out, outsz, "%04u-%02u-%02u", (unsigned)(y % 10000), (unsigned)(m % 100),
             (unsigned)(d % 100));
}

static int figure_find(const char *name, size_t len)
{
    for (int f = 0; f < CMN_STATS_N_FIGURES; f++)
        if (strlen(figure_names[f]) == len && memcmp(figure_names[f], name, len) == 0)
            return f;
    return -1;
}

int cmn_stats_field_parse(const char *field, size_t len, cmn_stats_field_t *out)
{
    const char *part[4], *end = field + len;
    size_t part_len[4];
    const char *p = field;
    for (int i = 0; i < 4; i++) {
        const char *sep = memchr(p, SEP, (size_t)(end - p));
        if ((i < 3) != (sep != NULL))
            return -1; /* fewer or more than four parts */
        part[i] = p;
        part_len[i] = (size_t)((sep ? sep : end) - p);
        if (part_len[i] == 0)
            return -1;
        p = sep ? sep + 1 : end;
    }
    int f = figure_find(part[0], part_len[0]);
    if (f < 0)
        return 1;
    *out = (cmn_stats_field_t){(cmn_stats_figure_t)f, part[1],     part[2],    part[3],
                               part_len[1],           part_len[2], part_len[3]};
    return 0;
}

cmn_stats_agg_t *cmn_stats_agg_new(cmn_stats_by_t by)
{
    cmn_stats_agg_t *g = calloc(1, sizeof *g);
    if (g)
        g->by = by;
    return g;
}

/* The row of key (len bytes), made where it sorts when absent; NULL when
 * out of memory. */
static row_t *row_of(cmn_stats_agg_t *g, const char *key, size_t len)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *k = g->rows[mid].key;
        size_t klen = strlen(k);
        int c = memcmp(k, key, klen < len ? klen : len);
        if (c == 0)
            c = klen < len ? -1 : klen > len ? 1 : 0;
        if (c == 0)
            return &g->rows[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        row_t *rows = realloc(g->rows, cap * sizeof *rows);
        if (!rows)
            return NULL;
        g->rows = rows;
        g->cap = cap;
    }
    char *copy = strndup(key, len);
    if (!copy)
        return NULL;
    memmove(&g->rows[lo + 1], &g->rows[lo], (g->n - lo) * sizeof *g->rows);
    g->rows[lo] = (row_t){.key = copy};
    g->n++;
    return &g->rows[lo];
}

static kind_cell_t *kind_of(row_t *r, const char *kind, size_t len)
{
    for (size_t i = 0; i < r->n_kinds; i++)
        if (strlen(r->kinds[i].kind) == len && memcmp(r->kinds[i].kind, kind, len) == 0)
            return &r->kinds[i];
    kind_cell_t *k = realloc(r->kinds, (r->n_kinds + 1) * sizeof *k);
    if (!k)
        return NULL;
    r->kinds = k;
    k = &r->kinds[r->n_kinds];
    *k = (kind_cell_t){.kind = strndup(kind, len)};
    if (!k->kind)
        return NULL;
    r->n_kinds++;
    return k;
}

int cmn_stats_agg_key(cmn_stats_agg_t *g, const char *key)
{
    return row_of(g, key, strlen(key)) ? 0 : -1;
}

/* Adds v to figure f of row r, in total and in kind's share. */
static int row_add(row_t *r, const cmn_stats_field_t *c, long long v)
{
    kind_cell_t *k = kind_of(r, c->kind, c->kind_len);
    if (!k)
        return -1;
    r->v[c->figure] += v;
    k->v[c->figure] += v;
    return 0;
}

static int value_parse(const char *text, size_t len, long long *out)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    *out = strtoll(buf, &end, 10);
    return errno || *end ? -1 : 0;
}

int cmn_stats_agg_add(cmn_stats_agg_t *g, const char *day, const char *field, size_t field_len,
                      const char *value, size_t value_len)
{
    cmn_stats_field_t c;
    long long v;
    if (cmn_stats_field_parse(field, field_len, &c) != 0 || value_parse(value, value_len, &v) < 0) {
        g->skipped++;
        return 1;
    }
    const char *key = g->by == CMN_STATS_BY_AGENT   ? c.agent
                      : g->by == CMN_STATS_BY_QUEUE ? c.queue
                                                    : day;
    size_t key_len = g->by == CMN_STATS_BY_AGENT   ? c.agent_len
                     : g->by == CMN_STATS_BY_QUEUE ? c.queue_len
                                                   : strlen(day);
    if (key_len > KEY_MAX) {
        g->skipped++;
        return 1;
    }
    row_t *r = row_of(g, key, key_len);
    if (!r || row_add(r, &c, v) < 0 || row_add(&g->total, &c, v) < 0)
        return -1;
    return 0;
}

size_t cmn_stats_agg_rows(const cmn_stats_agg_t *g)
{
    return g->n;
}

size_t cmn_stats_agg_skipped(const cmn_stats_agg_t *g)
{
    return g->skipped;
}

static const row_t *row_at(const cmn_stats_agg_t *g, size_t row)
{
    return row == CMN_STATS_TOTAL ? &g->total : row < g->n ? &g->rows[row] : NULL;
}

const char *cmn_stats_agg_row_key(const cmn_stats_agg_t *g, size_t row)
{
    const row_t *r = row_at(g, row);
    return r && r->key ? r->key : "TOTAL";
}

long long cmn_stats_agg_get(const cmn_stats_agg_t *g, size_t row, cmn_stats_figure_t f)
{
    const row_t *r = row_at(g, row);
    return r ? r->v[f] : 0;
}

/* R-S2: seconds from created to closed, averaged over the tickets whose
 * two times differ (the writer counts only those in close_n). */
static json_t *avg_close_json(const long long *v)
{
    return v[CMN_STATS_CLOSE_N]
               ? json_real((double)v[CMN_STATS_CLOSE_S_SUM] / (double)v[CMN_STATS_CLOSE_N])
               : json_null();
}

/* Every figure of v into o, avg_close_s after closed as the contract
 * shows it. -1 when out of memory. */
static int figures_json(json_t *o, const long long *v)
{
    for (int f = 0; f < CMN_STATS_N_FIGURES; f++) {
        if (f == CMN_STATS_CLOSE_N && json_object_set_new(o, "avg_close_s", avg_close_json(v)) < 0)
            return -1;
        if (f != CMN_STATS_CLOSE_S_SUM &&
            json_object_set_new(o, figure_names[f], json_integer((json_int_t)v[f])) < 0)
            return -1;
    }
    return 0;
}

/* A row (or the totals: no key) as the contract's object; NULL when out of
 * memory. */
static json_t *row_json(const row_t *r)
{
    json_t *o = json_object(), *kinds = json_object();
    if (!o || !kinds || (r->key && json_object_set_new(o, "key", json_string(r->key)) < 0) ||
        figures_json(o, r->v) < 0)
        goto fail;
    for (size_t i = 0; i < r->n_kinds; i++) {
        json_t *k = json_object();
        if (!k || figures_json(k, r->kinds[i].v) < 0 ||
            json_object_set_new(kinds, r->kinds[i].kind, k) < 0) {
            json_decref(k);
            goto fail;
        }
    }
    if (json_object_set_new(o, "by_kind", kinds) == 0)
        return o;
    kinds = NULL; /* stolen even on failure */
fail:
    json_decref(kinds);
    json_decref(o);
    return NULL;
}

json_t *cmn_stats_agg_json(const cmn_stats_agg_t *g, const char *from, const char *to)
{
    json_t *rows = json_array(), *body = NULL;
    for (size_t i = 0; rows && i < g->n; i++)
        if (json_array_append_new(rows, row_json(&g->rows[i])) < 0)
            goto fail;
    if (!rows ||
        !(body = json_pack("{s:s, s:s, s:s, s:O, s:o}", "from", from, "to", to, "by",
                           cmn_stats_by_name(g->by), "rows", rows, "totals", row_json(&g->total))))
        goto fail;
    json_decref(rows);
    return body;
fail:
    json_decref(rows);
    return NULL;
}

/* RFC 4180: a field holding a comma, a quote, CR or LF is quoted, its
 * quotes doubled. A spreadsheet would run a field that starts like a
 * formula (=, +, @, tab, CR, or - with more after it): such a key gets a
 * leading apostrophe (OWASP's CSV injection advice), the only change to an
 * id. */
static void csv_field(FILE *f, const char *s)
{
    int formula = (s[0] != '\0' && strchr("=+@\t\r", s[0])) || (s[0] == '-' && s[1] != '\0');
    if (!formula && !s[strcspn(s, ",\"\r\n")]) {
        fputs(s, f);
        return;
    }
    fputs(formula ? "\"'" : "\"", f);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static void csv_line(FILE *f, const char *key, const long long *v)
{
    csv_field(f, key);
    for (int i = 0; i < CMN_STATS_N_FIGURES; i++) {
        if (i == CMN_STATS_CLOSE_S_SUM)
            continue;
        if (i == CMN_STATS_CLOSE_N) { /* avg_close_s first; empty when R-S2 has no ticket */
            if (v[i])
                fprintf(f, ",%.1f", (double)v[CMN_STATS_CLOSE_S_SUM] / (double)v[i]);
            else
                fputc(',', f);
        }
        fprintf(f, ",%lld", v[i]);
    }
    fputs("\r\n", f);
}

char *cmn_stats_agg_csv(const cmn_stats_agg_t *g, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    fputs("key", f);
    for (int i = 0; i < CMN_STATS_N_FIGURES; i++) {
        if (i == CMN_STATS_CLOSE_S_SUM)
            continue;
        fprintf(f, "%s,%s", i == CMN_STATS_CLOSE_N ? ",avg_close_s" : "", figure_names[i]);
    }
    fputs("\r\n", f);
    for (size_t i = 0; i < g->n; i++)
        csv_line(f, g->rows[i].key, g->rows[i].v);
    csv_line(f, "TOTAL", g->total.v);
    int failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        free(buf);
        return NULL;
    }
    if (len)
        *len = n;
    return buf;
}

static void row_free(row_t *r)
{
    for (size_t i = 0; i < r->n_kinds; i++)
        free(r->kinds[i].kind);
    free(r->kinds);
    free(r->key);
}

void cmn_stats_agg_free(cmn_stats_agg_t *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        row_free(&g->rows[i]);
    row_free(&g->total);
    free(g->rows);
    free(g);
}

/* ---- reading Redis: one day's HGETALL after the other ---------------- */

typedef struct {
    cmn_redis_t *redis;
    char ns[NS_MAX];
    long day, to_day;
    cmn_stats_agg_t *agg;
    cmn_stats_query_fn cb;
    void *ctx;
} query_t;

static int query_next(query_t *q);

static void query_end(query_t *q, const char *err)
{
    if (err) {
        cmn_stats_agg_free(q->agg);
        q->agg = NULL;
    }
    q->cb(q->ctx, q->agg, err);
    free(q);
}

static void on_day(void *ctx, redisReply *r, const char *err)
{
    query_t *q = ctx;
    char day[CMN_STATS_DAY_LEN + 1];
    cmn_stats_day_format(q->day, day, sizeof day);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        query_end(q, err ? err : "unexpected reply to HGETALL");
        return;
    }
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (cmn_stats_agg_add(q->agg, day, f->str, f->len, v->str, v->len) < 0) {
            query_end(q, "out of memory");
            return;
        }
    }
    q->day++;
    if (q->day > q->to_day) {
        query_end(q, NULL);
        return;
    }
    if (query_next(q) < 0)
        query_end(q, "redis unavailable");
}

static int query_next(query_t *q)
{
    char day[CMN_STATS_DAY_LEN + 1];
    cmn_stats_day_format(q->day, day, sizeof day);
    return cmn_redis_command(q->redis, on_day, q, "HGETALL %sstats:d:%s", q->ns, day);
}

/* by=day: every day of the range is a row, so a chart has no gaps. */
static int query_days(query_t *q, long from_day)
{
    char day[CMN_STATS_DAY_LEN + 1];
    for (long d = from_day; d <= q->to_day; d++) {
        cmn_stats_day_format(d, day, sizeof day);
        if (cmn_stats_agg_key(q->agg, day) < 0)
            return -1;
    }
    return 0;
}

int cmn_stats_query_start(cmn_redis_t *r, const char *ns, long from_day, long to_day,
                          cmn_stats_by_t by, cmn_stats_query_fn cb, void *ctx)
{
    query_t *q = calloc(1, sizeof *q);
    if (!q || strlen(ns) >= sizeof q->ns || from_day > to_day)
        goto fail;
    *q = (query_t){.redis = r, .day = from_day, .to_day = to_day, .cb = cb, .ctx = ctx};
    snprintf(q->ns, sizeof q->ns, "%s", ns);
    if (!(q->agg = cmn_stats_agg_new(by)) ||
        (by == CMN_STATS_BY_DAY && query_days(q, from_day) < 0) || query_next(q) < 0)
        goto fail;
    return 0;
fail:
    if (q)
        cmn_stats_agg_free(q->agg);
    free(q);
    return -1;
}
