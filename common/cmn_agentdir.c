/* Agent directory (cmn_agentdir.h): the sources, the file's change check on
 * a timer, and the swap of the immutable map. */
#include "cmn_agentdir.h"

#include "cmn_log.h"
#include "cmn_metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A directory of 20,000 agents is about 600 KB; a file this large is not
 * one (a wrong mount), and reading it would stall the loop. */
#define AGENTDIR_FILE_MAX (16L * 1024 * 1024)

/* What identifies one version of the file: a swapped symlink shows as a new
 * inode, an edit in place as a new mtime or size. */
typedef struct {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} file_sig_t;

struct cmn_agentdir {
    char *spec, *path; /* path NULL: no file */
    cmn_agentmap_t *map;
    struct event *timer;
    file_sig_t loaded; /* the version in map */
    file_sig_t failed; /* the last version found unusable, reported once */
    int have_failed;
    cmn_metric_t *agents, *loaded_at, *reloads_ok, *reloads_failed;
};

static void sig_of(const struct stat *st, file_sig_t *s)
{
    *s = (file_sig_t){st->st_dev, st->st_ino, st->st_size, st->st_mtim};
}

static int sig_equal(const file_sig_t *a, const file_sig_t *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* ---- reading the file ---------------------------------------------------- */

static int read_fd(int fd, off_t size, char **text, char *errstr, size_t errsz)
{
    char *buf = malloc((size_t)size + 1);
    size_t got = 0;
    if (!buf) {
        snprintf(errstr, errsz, "out of memory");
        return -1;
    }
    while (got < (size_t)size) {
        ssize_t r = read(fd, buf + got, (size_t)size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) { /* shrunk while read: the signature check sees it */
            if (r < 0) {
                snprintf(errstr, errsz, "read: %s", strerror(errno));
                free(buf);
                return -1;
            }
            break;
        }
        got += (size_t)r;
    }
    buf[got] = '\0';
    *text = buf;
    return 0;
}

/* The file's text (new, caller frees) and the version it is, or -1 with
 * errstr. *changing set when the path shows another version after the
 * read: a writer is at work, the text may be half of it. */
static int read_file(const char *path, char **text, file_sig_t *sig, int *changing, char *errstr,
                     size_t errsz)
{
    struct stat st, after;
    int rc = -1, fd = open(path, O_RDONLY | O_CLOEXEC);
    *text = NULL;
    *changing = 0;
    if (fd < 0) {
        snprintf(errstr, errsz, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        snprintf(errstr, errsz, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > AGENTDIR_FILE_MAX) {
        snprintf(errstr, errsz, "%s: not a regular file of at most %ld bytes", path,
                 AGENTDIR_FILE_MAX);
        goto cleanup;
    }
    sig_of(&st, sig);
    if (read_fd(fd, st.st_size, text, errstr, errsz) < 0)
        goto cleanup;
    file_sig_t now;
    if (stat(path, &after) < 0) {
        *changing = 1; /* between a symlink swap's steps */
    } else {
        sig_of(&after, &now);
        *changing = !sig_equal(sig, &now);
    }
    rc = 0;
cleanup:
    close(fd);
    return rc;
}

/* ---- building and swapping ----------------------------------------------- */

/* A new map of the file's text (when there is a file) and the variable's. */
static cmn_agentmap_t *build(const cmn_agentdir_t *d, const char *file_text, char *errstr,
                             size_t errsz)
{
    cmn_agentmap_src_t srcs[2];
    size_t n = 0;
    if (d->path)
        srcs[n++] = (cmn_agentmap_src_t){d->path, file_text};
    srcs[n++] = (cmn_agentmap_src_t){"CALLBUS_AGENT_MAP", d->spec};
    return cmn_agentmap_build(srcs, n, errstr, errsz);
}

static void install(cmn_agentdir_t *d, cmn_agentmap_t *m)
{
    cmn_agentmap_free(d->map); /* loop thread: no reader holds it between callbacks */
    d->map = m;
    cmn_metric_set(d->agents, (double)cmn_agentmap_size(m));
    cmn_metric_set(d->loaded_at, (double)time(NULL));
}

/* Loads the file's current version; 1 installed, 0 being written (unless
 * take_changing: then what was read is used, and the next check sees the
 * final version as a change), -1 with errstr. */
static int load(cmn_agentdir_t *d, int take_changing, char *errstr, size_t errsz)
{
    char *text;
    file_sig_t sig;
    int changing;
    if (read_file(d->path, &text, &sig, &changing, errstr, errsz) < 0)
        return -1;
    if (changing && !take_changing) {
        free(text);
        return 0;
    }
    cmn_agentmap_t *m = build(d, text, errstr, errsz);
    free(text);
    if (!m)
        return -1;
    install(d, m);
    d->loaded = sig;
    d->have_failed = 0;
    return 1;
}

int cmn_agentdir_check(cmn_agentdir_t *d)
{
    char errstr[512];
    struct stat st;
    file_sig_t sig = {0};
    if (!d || !d->path)
        return 0;
    if (stat(d->path, &st) == 0) {
        sig_of(&st, &sig);
        if (sig_equal(&sig, &d->loaded) || (d->have_failed && sig_equal(&sig, &d->failed)))
            return 0; /* this version is in place, or was reported already */
    } else if (d->have_failed && sig_equal(&sig, &d->failed)) {
        return 0; /* still gone: reported once */
    }
    size_t before = cmn_agentmap_size(d->map);
    int rc = load(d, 0, errstr, sizeof errstr);
    if (rc > 0) {
        cmn_metric_add(d->reloads_ok, 1);
        LOG_INFO("agent directory reloaded from %s: %zu agents (were %zu)", d->path,
                 cmn_agentmap_size(d->map), before);
    } else if (rc < 0) {
        d->failed = sig; /* a version that cannot be opened, or is gone, is reported once too */
        d->have_failed = 1;
        cmn_metric_add(d->reloads_failed, 1);
        LOG_ERROR("agent directory not reloaded, the last one (%zu agents) kept: %s", before,
                  errstr);
    }
    return rc;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)cmn_agentdir_check(arg); /* logged and counted there */
}

/* ---- life cycle ------------------------------------------------------------ */

static int start(cmn_agentdir_t *d, struct event_base *base, long reload_s, char *errstr,
                 size_t errsz)
{
    if (!d->path) {
        cmn_agentmap_t *m = build(d, NULL, errstr, errsz);
        if (!m)
            return -1;
        install(d, m);
        return 0;
    }
    if (load(d, 1, errstr, errsz) < 0)
        return -1;
    if (!base) /* a batch job: the file as it is now, no reload */
        return 0;
    struct timeval every = {.tv_sec = reload_s > 0 ? reload_s : 1};
    if (!(d->timer = event_new(base, -1, EV_PERSIST, on_timer, d)) ||
        event_add(d->timer, &every) < 0) {
        snprintf(errstr, errsz, "out of memory (agent directory timer)");
        return -1;
    }
    return 0;
}

int cmn_agentdir_new(struct event_base *base, const cmn_agentdir_cfg_t *cfg, cmn_agentdir_t **out,
                     char *errstr, size_t errsz)
{
    cmn_agentdir_t *d = calloc(1, sizeof *d);
    *out = NULL;
    if (!d || !(d->spec = strdup(cfg->map ? cfg->map : "")) ||
        (cfg->file && *cfg->file && !(d->path = strdup(cfg->file)))) {
        snprintf(errstr, errsz, "out of memory");
        goto fail;
    }
    d->agents = cmn_metrics_gauge("agent_directory_agents",
                                  "Operator-to-agent entries in the agent directory now", NULL);
    d->loaded_at = cmn_metrics_gauge("agent_directory_loaded_timestamp_seconds",
                                     "When the agent directory in use was loaded", NULL);
    static const char reloads[] = "Changes of CALLBUS_AGENT_MAP_FILE, by outcome (failed: the "
                                  "last good directory kept)";
    d->reloads_ok = cmn_metrics_counter("agent_directory_reloads_total", reloads, "result=\"ok\"");
    d->reloads_failed =
        cmn_metrics_counter("agent_directory_reloads_total", reloads, "result=\"failed\"");
    if (start(d, base, cfg->reload_s, errstr, errsz) < 0)
        goto fail;
    LOG_INFO("agent directory: %zu agents (%s%s)", cmn_agentmap_size(d->map),
             d->path ? "CALLBUS_AGENT_MAP_FILE " : "CALLBUS_AGENT_MAP", d->path ? d->path : "");
    *out = d;
    return 0;
fail:
    cmn_agentdir_free(d);
    return -1;
}

const cmn_agentmap_t *cmn_agentdir_map(const cmn_agentdir_t *d)
{
    return d ? d->map : NULL;
}

const char *cmn_agentdir_lookup(const cmn_agentdir_t *d, const char *provider,
                                const char *provider_agent_id)
{
    return cmn_agentmap_lookup(cmn_agentdir_map(d), provider, provider_agent_id);
}

const char *cmn_agentdir_operator(const cmn_agentdir_t *d, const char *provider, const char *crm_id)
{
    return cmn_agentmap_operator(cmn_agentdir_map(d), provider, crm_id);
}

void cmn_agentdir_free(cmn_agentdir_t *d)
{
    if (!d)
        return;
    if (d->timer)
        event_free(d->timer);
    cmn_agentmap_free(d->map);
    free(d->spec);
    free(d->path);
    free(d);
}
