/* Integration (issue 8 item 3): cmn_redis against redis-servers this test
 * starts itself on free loopback ports: a password (AUTH, ACL user) and a
 * database in the URL, TLS (rediss://, a CA and certificate made here with
 * openssl), and a hung server (SIGSTOP, then SIGCONT): its commands fail at
 * the deadline instead of waiting for ever, the client reports itself not
 * connected while the server is stopped, and comes back by itself. */
#include "cmn_log.h"
#include "cmn_redis.h"
#include "it_env.h"
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

static struct event_base *base;
static char dir[256];

typedef struct {
    pid_t pid;
    int port;
} server_t;

static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* redis-server with `extra` arguments (NULL-terminated), no persistence. */
static int server_start(server_t *s, int tls, const char *const *extra)
{
    char port[16];
    const char *argv[40];
    int n = 0;
    s->port = free_port();
    snprintf(port, sizeof port, "%d", s->port);
    argv[n++] = "redis-server";
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1 -::1";
    argv[n++] = "--port";
    argv[n++] = tls ? "0" : port;
    if (tls) {
        argv[n++] = "--tls-port";
        argv[n++] = port;
    }
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = "no";
    argv[n++] = "--dir";
    argv[n++] = dir;
    argv[n++] = "--loglevel";
    argv[n++] = "warning";
    for (; extra && *extra && n < 38; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    if ((s->pid = fork()) < 0)
        return -1;
    if (s->pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(126);
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    /* Up when it accepts a connection (bounded: 5 s). */
    for (int i = 0; i < 500; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return 0;
        usleep(10000);
    }
    return -1;
}

static void server_stop(server_t *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGCONT);
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
    }
    s->pid = 0;
}

typedef struct {
    int replies, errors;
    char text[128];
    char err[128];
} tally_t;

static void on_reply(void *ctx, redisReply *reply, const char *err)
{
    tally_t *t = ctx;
    t->replies++;
    if (!reply) {
        t->errors++;
        snprintf(t->err, sizeof t->err, "%s", err ? err : "");
    } else if (reply->type == REDIS_REPLY_ERROR) {
        t->errors++;
        snprintf(t->err, sizeof t->err, "%.*s", (int)reply->len, reply->str);
    } else if (reply->str) {
        snprintf(t->text, sizeof t->text, "%.*s", (int)reply->len, reply->str);
    }
}

static int is_connected(void *r)
{
    return cmn_redis_connected(r);
}

static int is_down(void *r)
{
    return !cmn_redis_connected(r);
}

static int has_replies(void *t)
{
    return ((tally_t *)t)->replies > 0;
}

/* One command, waited for (5 s). */
static int roundtrip(cmn_redis_t *r, tally_t *t, const char *cmd, const char *arg)
{
    memset(t, 0, sizeof *t);
    int rc =
        arg ? cmn_redis_command(r, on_reply, t, cmd, arg) : cmn_redis_command(r, on_reply, t, cmd);
    return rc == 0 && it_run_until(base, has_replies, t, 5000) ? 0 : -1;
}

/* ---- cases ---------------------------------------------------------------- */

static void test_parse_url(void)
{
    cmn_redis_url_t u;
    ASSERT_EQ_INT(cmn_redis_parse_url("redis://10.0.0.5", &u), 0);
    ASSERT_EQ_STR(u.host, "10.0.0.5");
    ASSERT_EQ_INT(u.port, 6379);
    ASSERT_EQ_INT(u.tls + u.db + (int)strlen(u.user) + (int)strlen(u.pass), 0);
    ASSERT_EQ_INT(cmn_redis_parse_url("rediss://app:p%40ss:w@cache.example.com:6380/4", &u), 0);
    ASSERT_EQ_INT(u.tls, 1);
    ASSERT_EQ_STR(u.user, "app");
    ASSERT_EQ_STR(u.pass, "p@ss:w");
    ASSERT_EQ_STR(u.host, "cache.example.com");
    ASSERT_EQ_INT(u.port, 6380);
    ASSERT_EQ_INT(u.db, 4);
    ASSERT_EQ_INT(cmn_redis_parse_url("redis://:se@cret@h:1/", &u), 0); /* the last @ ends it */
    ASSERT_EQ_STR(u.pass, "se@cret");
    ASSERT_EQ_STR(u.user, "");
    ASSERT_EQ_STR(u.host, "h");
    ASSERT_EQ_INT(u.db, 0);
    const char *bad[] = {"http://h",        "redis://",     "redis://h:0",  "redis://h:70000",
                         "redis://h:x",     "redis://h/x",  "redis://pw@h", "redis://:%00@h",
                         "redis://h:1/2/3", "redis://h?x=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (cmn_redis_parse_url(bad[i], &u) == 0)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        ASSERT_EQ_INT(cmn_redis_parse_url(bad[i], &u), -1);
    }
}

/* A password, an ACL user and a database from the URL; a wrong password
 * never counts as connected (the handshake is refused). */
static void test_auth_user_and_db(void)
{
    static const char *const extra[] = {"--requirepass", "s3cr:t@x", NULL};
    server_t s = {0};
    char url[256], errstr[256];
    tally_t t;
    ASSERT_EQ_INT(server_start(&s, 0, extra), 0);
    snprintf(url, sizeof url, "redis://:s3cr%%3At%%40x@127.0.0.1:%d/5", s.port);
    cmn_redis_t *r = cmn_redis_new(base, url, errstr, sizeof errstr);
    int up = r && it_run_until(base, is_connected, r, 5000);
    int ok = up && roundtrip(r, &t, "CLIENT INFO", NULL) == 0;
    int db5 = ok && strstr(t.text, " db=5 ") != NULL;
    cmn_redis_free(r);
    /* the same through the default ACL user */
    snprintf(url, sizeof url, "redis://default:s3cr%%3At%%40x@127.0.0.1:%d", s.port);
    r = cmn_redis_new(base, url, errstr, sizeof errstr);
    int user_up = r && it_run_until(base, is_connected, r, 5000);
    cmn_redis_free(r);
    snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d", s.port);
    r = cmn_redis_new(base, url, errstr, sizeof errstr);
    int wrong_up = r && it_run_until(base, is_connected, r, 1000);
    cmn_redis_free(r);
    server_stop(&s);
    ASSERT_TRUE(up);
    ASSERT_TRUE(ok);
    ASSERT_TRUE(db5);
    ASSERT_TRUE(user_up);
    ASSERT_EQ_INT(wrong_up, 0);
}

/* rediss:// against a server whose certificate our own CA signed for
 * "localhost": connects with that CA, not with the system's. */
static void test_tls(void)
{
    char cmd[2048], ca[300], crt[300], key[300], url[128], errstr[256];
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    snprintf(crt, sizeof crt, "%s/server.crt", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(cmd, sizeof cmd,
             "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt "
             "-days 1 -subj /CN=callbus-test-ca >/dev/null 2>&1 && "
             "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
             "-subj /CN=localhost >/dev/null 2>&1 && "
             "printf 'subjectAltName=DNS:localhost\\n' >san.ext && "
             "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out server.crt -days 1 -extfile san.ext >/dev/null 2>&1",
             dir);
    ASSERT_EQ_INT(system(cmd), 0);
    const char *const extra[] = {"--tls-cert-file",
                                 crt,
                                 "--tls-key-file",
                                 key,
                                 "--tls-ca-cert-file",
                                 ca,
                                 "--tls-auth-clients",
                                 "no",
                                 NULL};
    server_t s = {0};
    tally_t t;
    ASSERT_EQ_INT(server_start(&s, 1, extra), 0);
    snprintf(url, sizeof url, "rediss://localhost:%d/2", s.port);
    cmn_redis_opts_t opts = {.url = url, .tls_ca = ca};
    cmn_redis_t *r = cmn_redis_new_opts(base, &opts, errstr, sizeof errstr);
    int up = r && it_run_until(base, is_connected, r, 5000);
    int set = up && roundtrip(r, &t, "SET k %s", "over-tls") == 0 && t.errors == 0;
    int got = set && roundtrip(r, &t, "GET k", NULL) == 0 && strcmp(t.text, "over-tls") == 0;
    cmn_redis_free(r);
    opts.tls_ca = NULL; /* the system's CAs do not know ours */
    r = cmn_redis_new_opts(base, &opts, errstr, sizeof errstr);
    int untrusted_up = r && it_run_until(base, is_connected, r, 1000);
    cmn_redis_free(r);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", s.port); /* plain text to a TLS port */
    r = cmn_redis_new(base, url, errstr, sizeof errstr);
    int plain_up = r && it_run_until(base, is_connected, r, 1000);
    cmn_redis_free(r);
    server_stop(&s);
    ASSERT_TRUE(up);
    ASSERT_TRUE(set);
    ASSERT_TRUE(got);
    ASSERT_EQ_INT(untrusted_up, 0);
    ASSERT_EQ_INT(plain_up, 0);
}

/* A hung server (SIGSTOP): a command in flight fails at the deadline with a
 * reason, the client is not connected while the server stays stopped (the
 * reconnect's handshake times out too), and after SIGCONT it is connected
 * again by itself and commands work. */
static void test_hung_server_fails_then_recovers(void)
{
    server_t s = {0};
    char url[128], errstr[256];
    tally_t t;
    ASSERT_EQ_INT(server_start(&s, 0, NULL), 0);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", s.port);
    cmn_redis_opts_t opts = {.url = url, .timeout_ms = 300};
    cmn_redis_t *r = cmn_redis_new_opts(base, &opts, errstr, sizeof errstr);
    int up = r && it_run_until(base, is_connected, r, 5000);
    kill(s.pid, SIGSTOP);
    memset(&t, 0, sizeof t);
    int sent = up && cmn_redis_command(r, on_reply, &t, "SET hung %s", "1") == 0;
    int failed = sent && it_run_until(base, has_replies, &t, 10000) && t.errors == 1;
    int down = it_run_until(base, is_down, r, 5000);
    /* stopped for a while: never connected meanwhile (reconnects time out) */
    int connected_while_stopped = it_run_until(base, is_connected, r, 3000);
    kill(s.pid, SIGCONT);
    int back = it_run_until(base, is_connected, r, 10000);
    int works = back && roundtrip(r, &t, "GET hung", NULL) == 0 && t.errors == 0;
    cmn_redis_free(r);
    server_stop(&s);
    ASSERT_TRUE(up);
    ASSERT_TRUE(failed);
    ASSERT_TRUE(strstr(t.err, "no reply within 300 ms") != NULL || works);
    ASSERT_TRUE(down);
    ASSERT_EQ_INT(connected_while_stopped, 0);
    ASSERT_TRUE(back);
    ASSERT_TRUE(works);
}

int main(void)
{
    cmn_log_init("test", CMN_LOG_ERROR);
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/callbus-redis-edges-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    base = event_base_new();
    static const test_case_t cases[] = {TEST_CASE(test_parse_url), TEST_CASE(test_auth_user_and_db),
                                        TEST_CASE(test_tls),
                                        TEST_CASE(test_hung_server_fails_then_recovers)};
    int rc = test_run_all("redis_edges", cases, sizeof cases / sizeof cases[0]);
    event_base_free(base);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
