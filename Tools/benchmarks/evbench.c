// Event fan-out load for the events benchmark (Tools/benchmarks/bench.py, "events"): the same client against the
// hub's control API and against Redis pub/sub, so neither figure is the cost of counting in Python.
//   evbench hub|redis SOCKET SUBSCRIBERS TOTAL
// SUBSCRIBERS threads each subscribe (hub: events.subscribe to kind irq.raised; Redis: SUBSCRIBE bench), then one
// publisher pipelines TOTAL publications in batches of 500 (hub: irq.raise; Redis: PUBLISH bench N), waiting for
// every answer of a batch before the next, as the Python client did. Each subscriber counts whole lines that are
// a delivered message (hub: a line holding "method":"event"; Redis: the RESP line "message" of each push).
// Prints: the slowest subscriber's count and the seconds from the first publication until every subscriber had
// TOTAL messages (or stopped: 10 s without data).
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int is_hub;
static const char *path;
static long total;
static pthread_barrier_t ready;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int connect_unix(void) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (fd < 0 || strlen(path) >= sizeof a.sun_path) { perror("socket"); exit(2); }
    strcpy(a.sun_path, path);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); exit(2); }
    return fd;
}

static void send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { perror("write"); exit(2); }
        p += w;
        n -= (size_t)w;
    }
}

// A reader of whole lines over a socket; a line cut by a read is kept until its end arrives.
struct lines {
    int fd;
    char buf[1 << 20];
    size_t have, start;
};

// The next whole line (without '\n') into *line / *len; 0 at end of stream or after 10 s without data.
static int next_line(struct lines *r, const char **line, size_t *len) {
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->have - r->start);
        if (nl) {
            *line = r->buf + r->start;
            *len = (size_t)(nl - *line);
            r->start = (size_t)(nl - r->buf) + 1;
            return 1;
        }
        memmove(r->buf, r->buf + r->start, r->have - r->start);
        r->have -= r->start;
        r->start = 0;
        if (r->have == sizeof r->buf) { fprintf(stderr, "line over 1 MiB\n"); exit(2); }
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0) return 0;
        ssize_t got = read(r->fd, r->buf + r->have, sizeof r->buf - r->have);
        if (got <= 0) return 0;
        r->have += (size_t)got;
    }
}

static int is_message(const char *line, size_t len) {
    if (is_hub) return memmem(line, len, "\"method\":\"event\"", 16) != NULL;
    return len == 8 && !memcmp(line, "message\r", 8);
}

struct subscriber {
    pthread_t thread;
    long seen;
    uint64_t done;
};

static void *subscribe(void *arg) {
    struct subscriber *s = arg;
    struct lines *r = calloc(1, sizeof *r);
    r->fd = connect_unix();
    const char *line;
    size_t len;
    if (is_hub) {
        static const char request[] =
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"events.subscribe\",\"params\":{\"filter\":{\"kinds\":[\"irq.raised\"]}}}\n";
        send_all(r->fd, request, sizeof request - 1);
        do {
            if (!next_line(r, &line, &len)) { fprintf(stderr, "no subscription\n"); exit(2); }
        } while (!memmem(line, len, "\"subscribed\":true", 17));
    } else {
        send_all(r->fd, "SUBSCRIBE bench\r\n", 17);
        do {
            if (!next_line(r, &line, &len)) { fprintf(stderr, "no subscription\n"); exit(2); }
        } while (!(len >= 2 && line[0] == ':'));
    }
    pthread_barrier_wait(&ready);
    while (s->seen < total && next_line(r, &line, &len)) s->seen += is_message(line, len);
    s->done = now_ns();
    close(r->fd);
    free(r);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 5 || (strcmp(argv[1], "hub") && strcmp(argv[1], "redis"))) {
        fprintf(stderr, "usage: evbench hub|redis SOCKET SUBSCRIBERS TOTAL\n");
        return 2;
    }
    is_hub = !strcmp(argv[1], "hub");
    path = argv[2];
    int count = atoi(argv[3]);
    total = atol(argv[4]);
    if (count < 1 || count > 1000 || total < 1) { fprintf(stderr, "bad subscribers/total\n"); return 2; }
    struct subscriber *subs = calloc((size_t)count, sizeof *subs);
    pthread_barrier_init(&ready, 0, (unsigned)count + 1);
    for (int i = 0; i < count; i++) pthread_create(&subs[i].thread, 0, subscribe, &subs[i]);

    struct lines *r = calloc(1, sizeof *r);
    r->fd = connect_unix();
    const char *line;
    size_t len;
    if (is_hub && !next_line(r, &line, &len)) { fprintf(stderr, "no greeting\n"); return 2; }
    pthread_barrier_wait(&ready);
    enum { batch = 500 };
    char *out = malloc(batch * 160);
    uint64_t started = now_ns();
    for (long sent = 0; sent < total;) {
        long n = total - sent < batch ? total - sent : batch;
        size_t used = 0;
        for (long i = 0; i < n; i++) {
            long k = sent + i;
            used += (size_t)(is_hub
                ? sprintf(out + used, "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"irq.raise\",\"params\":"
                                      "{\"partition\":\"rtos\",\"line\":%ld,\"as\":\"bench\"}}\n", k, k % 32)
                : sprintf(out + used, "PUBLISH bench %ld\r\n", k));
        }
        send_all(r->fd, out, used);
        for (long got = 0; got < n; got++)
            if (!next_line(r, &line, &len)) { fprintf(stderr, "publisher: answers stopped\n"); return 2; }
        sent += n;
    }
    long slowest = total;
    uint64_t last = started;
    for (int i = 0; i < count; i++) {
        pthread_join(subs[i].thread, 0);
        if (subs[i].seen < slowest) slowest = subs[i].seen;
        if (subs[i].done > last) last = subs[i].done;
    }
    printf("%ld %.6f\n", slowest, (double)(last - started) / 1e9);
    return 0;
}
