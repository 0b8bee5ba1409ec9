/* cmn_http streaming replies (issue 10 item 4): a stream is not a request
 * in flight (it never holds shutdown), carries chunks as written, ends with
 * the last chunk, and tells its owner once when the client leaves or the
 * server is freed. A real client socket on 127.0.0.1, one loop. */
#include "cmn_http.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static struct event_base *base;
static cmn_http_t *http;
static cmn_http_stream_t *stream;
static int closed_calls;

static void on_closed(void *ctx)
{
    closed_calls++;
    stream = NULL;
}

static void stream_handler(struct evhttp_request *req, const char *path, void *ctx)
{
    stream = cmn_http_stream_start(req, "text/event-stream", on_closed, NULL);
}

static cmn_http_t *admin;

/* max_connections 0: the default cap. */
static int setup_capped(int max_connections)
{
    char err[128];
    cmn_http_limits_t lim = {.max_connections = max_connections};
    base = event_base_new();
    http = cmn_http_new(base, "127.0.0.1", 0, &lim, err, sizeof err);
    admin = http ? cmn_http_admin_new(base, "127.0.0.1", 0, http, err, sizeof err) : NULL;
    stream = NULL;
    closed_calls = 0;
    return http && admin &&
                   cmn_http_route(http, "stream", "/stream", CMN_HTTP_GET, stream_handler, NULL) ==
                       0
               ? 0
               : -1;
}

static int setup(void)
{
    return setup_capped(0);
}

static void teardown(void)
{
    cmn_http_free(admin);
    cmn_http_free(http);
    event_base_free(base);
    http = NULL;
    admin = NULL;
}

static void spin(int rounds)
{
    for (int i = 0; i < rounds; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

static int connect_to(const cmn_http_t *h, const char *path)
{
    char get[128];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(cmn_http_port(h))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    int n = snprintf(get, sizeof get, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    if (write(fd, get, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    return fd;
}

static int connect_and_get(void)
{
    return connect_to(http, "/stream");
}

/* Everything the server sent so far, appended to buf. */
static size_t drain(int fd, char *buf, size_t cap, size_t have)
{
    ssize_t n;
    while (have + 1 < cap && (n = recv(fd, buf + have, cap - 1 - have, MSG_DONTWAIT)) > 0)
        have += (size_t)n;
    buf[have] = '\0';
    return have;
}

/* Reads until the status line is there. */
static void have_status(int fd, char *buf, size_t cap, const char *want)
{
    size_t have = 0;
    for (int i = 0; i < 200 && !strstr(buf, want); i++) {
        spin(1);
        have = drain(fd, buf, cap, have);
    }
    ASSERT_TRUE(strstr(buf, want) != NULL);
}

/* Reads until a whole (Content-Length) reply or the close. */
static void read_until_closed_or_reply(int fd, char *buf, size_t cap)
{
    size_t have = 0;
    buf[0] = '\0';
    for (int i = 0; i < 500; i++) {
        spin(1);
        ssize_t n = recv(fd, buf + have, cap - 1 - have, MSG_DONTWAIT);
        if (n == 0)
            break;
        if (n > 0) {
            have += (size_t)n;
            buf[have] = '\0';
            const char *body = strstr(buf, "\r\n\r\n");
            const char *cl = strstr(buf, "Content-Length: ");
            if (body && cl && strlen(body + 4) >= strtoul(cl + 16, NULL, 10))
                break;
        }
    }
    buf[have] = '\0';
}

static void test_stream_is_not_in_flight_and_carries_chunks(void)
{
    char buf[4096];
    size_t have = 0;
    ASSERT_EQ_INT(setup(), 0);
    int fd = connect_and_get();
    ASSERT_TRUE(fd >= 0);
    spin(50);
    ASSERT_TRUE(stream != NULL);
    /* What holds shutdown: requests waiting for a reply. A stream is not one. */
    ASSERT_EQ_INT(cmn_http_in_flight(http), 0);
    cmn_http_stream_write(stream, "data: one\n\n", 11);
    spin(20);
    have = drain(fd, buf, sizeof buf, have);
    ASSERT_TRUE(strstr(buf, "HTTP/1.1 200") != NULL);
    ASSERT_TRUE(strstr(buf, "Content-Type: text/event-stream") != NULL);
    ASSERT_TRUE(strstr(buf, "Transfer-Encoding: chunked") != NULL);
    ASSERT_TRUE(strstr(buf, "data: one\n\n") != NULL);
    cmn_http_stream_end(stream);
    stream = NULL;
    spin(20);
    have = drain(fd, buf, sizeof buf, have);
    ASSERT_TRUE(strstr(buf, "\r\n0\r\n\r\n") != NULL); /* the last chunk */
    close(fd);
    spin(20);
    ASSERT_EQ_INT(closed_calls, 0); /* ended by us: no close callback */
    teardown();
}

static void test_client_leaving_is_reported_once(void)
{
    ASSERT_EQ_INT(setup(), 0);
    int fd = connect_and_get();
    ASSERT_TRUE(fd >= 0);
    spin(50);
    ASSERT_TRUE(stream != NULL);
    close(fd);
    /* evhttp notices on the next read or write. */
    for (int i = 0; i < 200 && closed_calls == 0; i++) {
        if (stream)
            cmn_http_stream_write(stream, ": ping\n\n", 8);
        spin(5);
    }
    ASSERT_EQ_INT(closed_calls, 1);
    teardown();
}

static void test_server_freed_with_open_stream(void)
{
    ASSERT_EQ_INT(setup(), 0);
    int fd = connect_and_get();
    ASSERT_TRUE(fd >= 0);
    spin(50);
    ASSERT_TRUE(stream != NULL);
    teardown(); /* the sanitizer build checks nothing leaks */
    ASSERT_EQ_INT(closed_calls, 1);
    close(fd);
}

/* Reads what the server sends on fd until it closes, spinning the loop. */
static size_t read_until_closed(int fd, char *buf, size_t cap)
{
    size_t have = 0;
    for (int i = 0; i < 500; i++) {
        spin(1);
        ssize_t n = recv(fd, buf + have, cap - 1 - have, MSG_DONTWAIT);
        if (n == 0)
            break;
        if (n > 0)
            have += (size_t)n;
    }
    buf[have] = '\0';
    return have;
}

/* Waits until the server counts `want` open connections. */
static int settle_connections(int want)
{
    for (int i = 0; i < 500 && cmn_http_connections(http) != want; i++)
        spin(1);
    return cmn_http_connections(http);
}

/* Issue 19 item 2: a stream's connection frees its slot of the connection
 * cap however the stream ends. Three times the cap of streams, one after
 * the other, the client leaving: every one is served (none refused). */
static void test_streams_the_client_leaves_free_their_slots(void)
{
    ASSERT_EQ_INT(setup_capped(4), 0);
    for (int i = 0; i < 12; i++) {
        char buf[512];
        int fd = connect_and_get();
        ASSERT_TRUE(fd >= 0);
        for (int r = 0; r < 200 && !stream; r++)
            spin(1);
        ASSERT_TRUE(stream != NULL); /* a refused connection never reaches the handler */
        have_status(fd, buf, sizeof buf, "HTTP/1.1 200");
        close(fd);
        for (int r = 0; r < 200 && stream; r++) {
            cmn_http_stream_write(stream, ": ping\n\n", 8);
            spin(1);
        }
        ASSERT_TRUE(stream == NULL);
        ASSERT_EQ_INT(settle_connections(0), 0);
    }
    ASSERT_EQ_INT(closed_calls, 12);
    teardown();
}

/* The same, the server ending each stream (logout, a newer login, a slow
 * reader cut off, shutdown): the client sees the end, and the slot is free. */
static void test_streams_the_server_ends_free_their_slots(void)
{
    ASSERT_EQ_INT(setup_capped(4), 0);
    for (int i = 0; i < 12; i++) {
        char buf[1024];
        int fd = connect_and_get();
        ASSERT_TRUE(fd >= 0);
        for (int r = 0; r < 200 && !stream; r++)
            spin(1);
        ASSERT_TRUE(stream != NULL);
        cmn_http_stream_end(stream);
        stream = NULL;
        read_until_closed(fd, buf, sizeof buf);
        ASSERT_TRUE(strstr(buf, "HTTP/1.1 200") != NULL);
        ASSERT_TRUE(strstr(buf, "\r\n0\r\n\r\n") != NULL);
        close(fd);
        ASSERT_EQ_INT(settle_connections(0), 0);
    }
    ASSERT_EQ_INT(closed_calls, 0);
    teardown();
}

/* GET path on the admin listener: its status line's code. */
static int admin_status(const char *path)
{
    char buf[2048];
    int fd = connect_to(admin, path);
    if (fd < 0)
        return -1;
    read_until_closed_or_reply(fd, buf, sizeof buf);
    close(fd);
    int code = 0;
    return sscanf(buf, "HTTP/1.1 %d", &code) == 1 ? code : -1;
}

/* /readyz fails while the public listener cannot take a new connection (at
 * its cap), and is ready again once a slot frees: an orchestrator then
 * sends traffic elsewhere (or restarts a replica stuck there). */
static void test_readyz_fails_at_the_connection_cap(void)
{
    int fds[2];
    cmn_http_stream_t *open_streams[2] = {NULL, NULL};
    ASSERT_EQ_INT(setup_capped(2), 0);
    ASSERT_EQ_INT(admin_status("/readyz"), 200);
    for (int i = 0; i < 2; i++) {
        stream = NULL;
        fds[i] = connect_and_get();
        ASSERT_TRUE(fds[i] >= 0);
        for (int r = 0; r < 200 && !stream; r++)
            spin(1);
        ASSERT_TRUE(stream != NULL);
        open_streams[i] = stream;
    }
    ASSERT_EQ_INT(cmn_http_connections(http), 2);
    ASSERT_EQ_INT(admin_status("/readyz"), 503);
    ASSERT_EQ_INT(admin_status("/healthz"), 200); /* alive, only not ready */
    for (int i = 0; i < 2; i++) {
        if (open_streams[i])
            cmn_http_stream_end(open_streams[i]);
        close(fds[i]);
    }
    stream = NULL;
    ASSERT_EQ_INT(settle_connections(0), 0);
    ASSERT_EQ_INT(admin_status("/readyz"), 200);
    teardown();
}

TEST_MAIN("http_stream", TEST_CASE(test_stream_is_not_in_flight_and_carries_chunks),
          TEST_CASE(test_client_leaving_is_reported_once),
          TEST_CASE(test_server_freed_with_open_stream),
          TEST_CASE(test_streams_the_client_leaves_free_their_slots),
          TEST_CASE(test_streams_the_server_ends_free_their_slots),
          TEST_CASE(test_readyz_fails_at_the_connection_cap))
