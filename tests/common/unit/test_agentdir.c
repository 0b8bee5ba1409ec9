/* cmn_agentdir (issue 26 item 1, R-I3): the variable alone, the file and
 * its reload without a restart — rewritten in place, replaced by rename,
 * Kubernetes' `..data` symlink swap — a broken or vanished file keeping the
 * last good map (logged and counted once), the file's entries winning over
 * the variable's, the timer on the loop, and 20,000 agents from a file. */
#include "cmn_agentdir.h"
#include "cmn_metrics.h"
#include "test.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void path_of(char *out, size_t outsz, const char *name)
{
    snprintf(out, outsz, "%s/%s", dir, name);
}

static int write_at(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    return fclose(f) == 0 ? rc : -1;
}

/* Replaces `name` whole, as a deploy tool does: write aside, rename over. */
static int replace(const char *name, const char *text)
{
    char tmp[128], path[128];
    path_of(tmp, sizeof tmp, "replace.tmp");
    path_of(path, sizeof path, name);
    return write_at(tmp, text) == 0 ? rename(tmp, path) : -1;
}

static double failed_reloads(void)
{
    return cmn_metric_value(
        cmn_metrics_counter("agent_directory_reloads_total", "", "result=\"failed\""));
}

static cmn_agentdir_t *open_dir(struct event_base *base, const char *map, const char *file)
{
    char err[256];
    cmn_agentdir_cfg_t cfg = {.map = (char *)map, .file = (char *)file, .reload_s = 1};
    cmn_agentdir_t *d = NULL;
    if (cmn_agentdir_new(base, &cfg, &d, err, sizeof err) < 0)
        fprintf(stderr, "  cmn_agentdir_new: %s\n", err);
    return d;
}

static void test_variable_alone_R_I3(void)
{
    struct event_base *base = event_base_new();
    cmn_agentdir_t *d = open_dir(base, "callgear:2207=900001", "");
    ASSERT_TRUE(d != NULL);
    ASSERT_EQ_STR(cmn_agentdir_lookup(d, "callgear", "2207"), "900001");
    ASSERT_TRUE(cmn_agentdir_lookup(d, "callgear", "2211") == NULL); /* R-I3: unmapped */
    ASSERT_EQ_STR(cmn_agentdir_operator(d, "callgear", "900001"), "2207");
    ASSERT_EQ_INT(cmn_agentdir_check(d), 0); /* no file: nothing to reload */
    cmn_agentdir_free(d);
    event_base_free(base);
}

/* Changed in place, then replaced by rename: each change is a new map; no
 * change, no reload. The variable's entries stay, the file's win. */
static void test_file_reloads_on_change(void)
{
    char path[128];
    path_of(path, sizeof path, "agents.map");
    ASSERT_EQ_INT(write_at(path, "callgear:2207=900001\n"), 0);
    struct event_base *base = event_base_new();
    cmn_agentdir_t *d = open_dir(base, "callgear:2207=111111,twilio:marco=900002", path);
    ASSERT_TRUE(d != NULL);
    ASSERT_EQ_STR(cmn_agentdir_lookup(d, "callgear", "2207"), "900001"); /* the file's */
    ASSERT_EQ_STR(cmn_agentdir_lookup(d, "twilio", "marco"), "900002");  /* the variable's */
    ASSERT_EQ_INT(cmn_agentdir_check(d), 0);
    ASSERT_EQ_INT(write_at(path, "callgear:2207=900001\ncallgear:2211=900003\n"), 0);
    ASSERT_EQ_INT(cmn_agentdir_check(d), 1);
    ASSERT_EQ_STR(cmn_agentdir_lookup(d, "callgear", "2211"), "900003");
    ASSERT_EQ_INT(cmn_agentdir_check(d), 0);
    ASSERT_EQ_INT(replace("agents.map", "callgear:2211=900004\n"), 0);
    ASSERT_EQ_INT(cmn_agentdir_check(d), 1);
    ASSERT_EQ_STR(cmn_agentdir_lookup(d, "callgear", "2211"), "900004");
    ASSERT_EQ_STR(cmn_agentdir_lookup(d, "callgear", "2207"), "111111"); /* now the variable's */
    ASSERT_EQ_INT(cmn_agentmap_size(cmn_agentdir_map(d)), 3);
    cmn_agentdir_free(d);
    event_base_free(base);
    unlink(path);
}

/* A mounted ConfigMap: map -> ..data/map, ..data -> ..<timestamp>; an
 * update writes a new timestamped directory and renames a new ..data
 * symlink over the old one (atomic), then removes the old directory. */
static void test_kubernetes_symlink_swap(void)
{
    char v1[128], v2[128], data[128], tmp[128], path[128], f1[160], f2[160];
    path_of(v1, sizeof v1, "..2026_12_07_17_00_00.1");
    path_of(v2, sizeof v2, "..2026_12_07_17_05_00.2");
    path_of(data, sizeof data, "..data");
    path_of(tmp, sizeof tmp, "..data_tmp");
    path_of(path, sizeof path, "map");
    snprintf(f1, sizeof f1, "%s/map", v1);
    snprintf(f2, sizeof f2, "%s/map", v2);
    ASSERT_TRUE(mkdir(v1, 0755) == 0 && write_at(f1, "webex:a1=900001\n") == 0);
    ASSERT_TRUE(symlink("..2026_12_07_17_00_00.1", data) == 0 && symlink("..data/map", path) == 0);
    struct event_base *base = event_base_new();
    cmn_agentdir_t *d = open_dir(base, "", path);
    ASSERT_TRUE(d != NULL);
    ASSERT_EQ_STR(cmn_agentdir_lookup(d, "webex", "a1"), "900001");
    ASSERT_TRUE(mkdir(v2, 0755) == 0 && write_at(f2, "webex:a1=900001\nwebex:b2=900002\n") == 0);
    ASSERT_EQ_INT(cmn_agentdir_check(d), 0); /* written, not yet swapped in */
    ASSERT_TRUE(symlink("..2026_12_07_17_05_00.2", tmp) == 0 && rename(tmp, data) == 0);
    ASSERT_TRUE(unlink(f1) == 0 && rmdir(v1) == 0);
    ASSERT_EQ_INT(cmn_agentdir_check(d), 1);
    ASSERT_EQ_STR(cmn_agentdir_lookup(d, "webex", "b2"), "900002");
    ASSERT_EQ_INT(cmn_agentdir_check(d), 0);
    cmn_agentdir_free(d);
    event_base_free(base);
    unlink(path);
    unlink(data);
    unlink(f2);
    rmdir(v2);
}

/* A malformed new version, then the file gone: the last good map stays,
 * each reported once (logged, counted), and a good version after them is
 * taken. */
static void test_broken_file_keeps_the_last_map(void)
{
    char path[128];
    path_of(path, sizeof path, "broken.map");
    ASSERT_EQ_INT(write_at(path, "callgear:2207=900001\n"), 0);
    struct event_base *base = event_base_new();
    cmn_agentdir_t *d = open_dir(base, "", path);
    ASSERT_TRUE(d != NULL);
    double failed = failed_reloads();
    ASSERT_EQ_INT(replace("broken.map", "callgear:2207=900001\ncallgear 2211 900003\n"), 0);
    ASSERT_EQ_INT(cmn_agentdir_check(d), -1);
    ASSERT_EQ_STR(cmn_agentdir_lookup(d, "callgear", "2207"), "900001");
    ASSERT_EQ_INT(cmn_agentdir_check(d), 0); /* the same broken version: once */
    ASSERT_EQ_INT(failed_reloads(), failed + 1);
    ASSERT_EQ_INT(unlink(path), 0);
    ASSERT_EQ_INT(cmn_agentdir_check(d), -1);
    ASSERT_EQ_INT(cmn_agentdir_check(d), 0);
    ASSERT_EQ_INT(failed_reloads(), failed + 2);
    ASSERT_EQ_STR(cmn_agentdir_lookup(d, "callgear", "2207"), "900001");
    ASSERT_EQ_INT(replace("broken.map", "callgear:2211=900003\n"), 0);
    ASSERT_EQ_INT(cmn_agentdir_check(d), 1);
    ASSERT_EQ_STR(cmn_agentdir_lookup(d, "callgear", "2211"), "900003");
    ASSERT_TRUE(cmn_agentdir_lookup(d, "callgear", "2207") == NULL);
    cmn_agentdir_free(d);
    event_base_free(base);
    unlink(path);
}

/* At start a missing or malformed file stops the service (no half
 * directory), the reason naming the file and the line. */
static void test_start_refuses_a_bad_file(void)
{
    char path[128], err[256];
    path_of(path, sizeof path, "absent.map");
    struct event_base *base = event_base_new();
    cmn_agentdir_t *d = NULL;
    cmn_agentdir_cfg_t cfg = {.map = "", .file = path, .reload_s = 5};
    ASSERT_TRUE(cmn_agentdir_new(base, &cfg, &d, err, sizeof err) < 0 && d == NULL);
    ASSERT_TRUE(strstr(err, path) != NULL);
    ASSERT_EQ_INT(write_at(path, "\n\ntwilio:marco\n"), 0);
    ASSERT_TRUE(cmn_agentdir_new(base, &cfg, &d, err, sizeof err) < 0 && d == NULL);
    ASSERT_TRUE(strstr(err, "line 3") != NULL);
    event_base_free(base);
    unlink(path);
}

static void stop_loop(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopbreak(arg);
}

/* The timer on the service's loop picks a change up by itself. */
static void test_timer_reloads_on_the_loop(void)
{
    char path[128];
    path_of(path, sizeof path, "timer.map");
    ASSERT_EQ_INT(write_at(path, "callgear:2207=900001\n"), 0);
    struct event_base *base = event_base_new();
    cmn_agentdir_t *d = open_dir(base, "", path); /* checked every second */
    ASSERT_TRUE(d != NULL);
    ASSERT_EQ_INT(replace("timer.map", "callgear:2207=900011\n"), 0);
    struct timeval wait = {.tv_sec = 1, .tv_usec = 300000};
    struct event *stop = evtimer_new(base, stop_loop, base);
    ASSERT_TRUE(stop && evtimer_add(stop, &wait) == 0);
    ASSERT_EQ_INT(event_base_dispatch(base), 0);
    ASSERT_EQ_STR(cmn_agentdir_lookup(d, "callgear", "2207"), "900011");
    event_free(stop);
    cmn_agentdir_free(d);
    event_base_free(base);
    unlink(path);
}

/* 20,000 agents from a file, then a version with one more. */
static void test_twenty_thousand_agents_from_a_file(void)
{
    char path[128], *text = malloc(20001 * 40);
    ASSERT_TRUE(text != NULL);
    path_of(path, sizeof path, "big.map");
    char *p = text;
    for (int i = 0; i < 20000; i++)
        p += sprintf(p, "callgear:%d=%d\n", 30000 + i, 700000 + i);
    ASSERT_EQ_INT(write_at(path, text), 0);
    struct event_base *base = event_base_new();
    cmn_agentdir_t *d = open_dir(base, "", path);
    ASSERT_TRUE(d != NULL);
    ASSERT_EQ_INT(cmn_agentmap_size(cmn_agentdir_map(d)), 20000);
    ASSERT_EQ_STR(cmn_agentdir_lookup(d, "callgear", "49999"), "719999");
    sprintf(p, "callgear:%d=%d\n", 50000, 720000);
    ASSERT_EQ_INT(replace("big.map", text), 0);
    ASSERT_EQ_INT(cmn_agentdir_check(d), 1);
    ASSERT_EQ_INT(cmn_agentmap_size(cmn_agentdir_map(d)), 20001);
    ASSERT_EQ_STR(cmn_agentdir_operator(d, "callgear", "720000"), "50000");
    cmn_agentdir_free(d);
    event_base_free(base);
    unlink(path);
    free(text);
}

/* The first and last cases: one temporary directory for all of them. */
static void make_temp_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_agentdir.XXXXXX");
    ASSERT_TRUE(mkdtemp(dir) != NULL);
}

static void remove_temp_dir(void)
{
    char path[128];
    path_of(path, sizeof path, "replace.tmp");
    unlink(path);
    cmn_metrics_reset();
    ASSERT_EQ_INT(rmdir(dir), 0); /* else a case failed midway and left files */
}

TEST_MAIN("agentdir", TEST_CASE(make_temp_dir), TEST_CASE(test_variable_alone_R_I3),
          TEST_CASE(test_file_reloads_on_change), TEST_CASE(test_kubernetes_symlink_swap),
          TEST_CASE(test_broken_file_keeps_the_last_map), TEST_CASE(test_start_refuses_a_bad_file),
          TEST_CASE(test_timer_reloads_on_the_loop),
          TEST_CASE(test_twenty_thousand_agents_from_a_file), TEST_CASE(remove_temp_dir))
