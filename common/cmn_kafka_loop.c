/* librdkafka queue <-> libevent glue shared by producer and consumer. */
#define _GNU_SOURCE /* pipe2 */
#include "cmn_kafka_loop.h"

#include <errno.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    cmn_kafka_loop_t *kl = arg;
    char sink[256];
    /* Empty the pipe first: a wake-up arriving while we drain then
     * re-arms the event rather than being lost. */
    while (read(fd, sink, sizeof sink) > 0)
        ;
    kl->drain(kl->ctx);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    cmn_kafka_loop_t *kl = arg;
    kl->drain(kl->ctx);
}

int cmn_kafka_loop_attach(cmn_kafka_loop_t *kl, struct event_base *base, rd_kafka_queue_t *queue,
                          cmn_kafka_drain_fn drain, void *ctx, char *errstr, size_t errsz)
{
    static const struct timeval one_second = {1, 0};
    memset(kl, 0, sizeof *kl);
    kl->fds[0] = kl->fds[1] = -1;
    kl->drain = drain;
    kl->ctx = ctx;
    if (pipe2(kl->fds, O_NONBLOCK | O_CLOEXEC) < 0) {
        snprintf(errstr, errsz, "pipe2: %s", strerror(errno));
        return -1;
    }
    kl->readable = event_new(base, kl->fds[0], EV_READ | EV_PERSIST, on_readable, kl);
    kl->tick = event_new(base, -1, EV_PERSIST, on_tick, kl);
    if (!kl->readable || !kl->tick || event_add(kl->readable, NULL) < 0 ||
        event_add(kl->tick, &one_second) < 0) {
        snprintf(errstr, errsz, "libevent: cannot watch the kafka queue");
        cmn_kafka_loop_detach(kl);
        return -1;
    }
    rd_kafka_queue_io_event_enable(queue, kl->fds[1], "1", 1);
    return 0;
}

void cmn_kafka_loop_detach(cmn_kafka_loop_t *kl)
{
    if (kl->readable)
        event_free(kl->readable);
    if (kl->tick)
        event_free(kl->tick);
    kl->readable = kl->tick = NULL;
    for (int i = 0; i < 2; i++) {
        if (kl->fds[i] >= 0)
            close(kl->fds[i]);
        kl->fds[i] = -1;
    }
}
