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

static int setup(void)
{
    char err[128];
    cmn_http_limits_t lim = {0};
    base = event_base_new();
    http = cmn_http_new(base, "127.0.0.1", 0, &lim, err, sizeof err);
    stream = NULL;
    closed_calls = 0;
    return http && cmn_http_route(http, "stream", "/stream", CMN_HTTP_GET, stream_handler, NULL) ==
                       0
               ? 0
               : -1;
}

static void teardown(void)
{
    cmn_http_free(http);
    event_base_free(base);
    http = NULL;
}

static void spin(int rounds)
{
    for (int i = 0; i < rounds; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

static int connect_and_get(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(cmn_http_port(http))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -1;
    static const char get[] = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
    if (write(fd, get, sizeof get - 1) != (ssize_t)(sizeof get - 1))
        return -1;
    return fd;
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

TEST_MAIN("http_stream", TEST_CASE(test_stream_is_not_in_flight_and_carries_chunks),
          TEST_CASE(test_client_leaving_is_reported_once),
          TEST_CASE(test_server_freed_with_open_stream))
