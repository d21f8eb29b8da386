// Load generator and trivial relay for the Ethernet benchmark (Tools/benchmarks/bench.py, "ethernet").
//   ethbench relay A B             : listens on A and B (unix:PATH or tcp:PORT), copies bytes A->B and B->A
//   ethbench load SEND RECV SIZE N BATCH : the receiver sends 3 frames first (so a switch learns it), then the
//                                    sender writes N frames of SIZE bytes, BATCH frames per write (4-byte prefix);
//                                    prints "frames seconds" as counted by the receiver.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

static int endpoint(const char *spec, int listening) {
    int fd;
    if (strncmp(spec, "unix:", 5) == 0) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        strncpy(a.sun_path, spec + 5, sizeof a.sun_path - 1);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (listening) {
            unlink(a.sun_path);
            if (bind(fd, (void *)&a, sizeof a) || listen(fd, 1)) { perror("bind"); exit(1); }
            int c = accept(fd, 0, 0);
            close(fd);
            return c;
        }
        for (int i = 0; i < 500 && connect(fd, (void *)&a, sizeof a); i++) usleep(10000);
        return fd;
    }
    const char *port = strrchr(spec, ':') + 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(port))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (listening) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (void *)&a, sizeof a) || listen(fd, 1)) { perror("bind"); exit(1); }
        int c = accept(fd, 0, 0);
        close(fd);
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return c;
    }
    for (int i = 0; i < 500 && connect(fd, (void *)&a, sizeof a); i++) usleep(10000);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void writeall(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) { if (errno == EINTR) continue; perror("write"); exit(1); }
        p += w; n -= (size_t)w;
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

struct sink { int fd; long expected; long frames; double first, last; };

static void *receive(void *arg) {
    struct sink *s = arg;
    static uint8_t buf[1 << 20];
    size_t have = 0;
    while (s->frames < s->expected) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 2000) <= 0) break;  // idle 2 s: the rest was lost
        ssize_t r = read(s->fd, buf + have, sizeof buf - have);
        if (r <= 0) break;
        if (s->frames == 0 && have == 0) s->first = now();
        have += (size_t)r;
        size_t off = 0;
        while (have - off >= 4) {
            uint32_t len = (uint32_t)buf[off] << 24 | buf[off + 1] << 16 | buf[off + 2] << 8 | buf[off + 3];
            if (have - off - 4 < len) break;
            off += 4 + len;
            s->frames++;
        }
        memmove(buf, buf + off, have - off);
        have -= off;
        s->last = now();
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "relay")) {
        int a = endpoint(argv[2], 1), b = endpoint(argv[3], 1);
        static uint8_t buf[1 << 20];
        struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
        for (;;) {
            if (poll(p, 2, -1) < 0) continue;
            for (int i = 0; i < 2; i++) {
                if (!(p[i].revents & (POLLIN | POLLHUP))) continue;
                ssize_t r = read(p[i].fd, buf, sizeof buf);
                if (r <= 0) return 0;
                writeall(p[1 - i].fd, buf, (size_t)r);
            }
        }
    }
    if (argc != 7 || strcmp(argv[1], "load")) { fprintf(stderr, "usage: see the source\n"); return 2; }
    int size = atoi(argv[4]), batch = atoi(argv[6]);
    long n = atol(argv[5]);
    int tx = endpoint(argv[2], 0), rx = endpoint(argv[3], 0);
    uint8_t frame[4 + 9018];
    memset(frame, 0xab, sizeof frame);
    frame[0] = size >> 24; frame[1] = size >> 16; frame[2] = size >> 8; frame[3] = size;
    // Receiver 02:..:02 announces itself; the sender (02:..:01) sends to it.
    uint8_t rxmac[6] = {2, 0, 0, 0, 0, 2}, txmac[6] = {2, 0, 0, 0, 0, 1};
    uint8_t hello[4 + 64] = {0, 0, 0, 64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    memcpy(hello + 10, rxmac, 6);
    hello[16] = 0x88; hello[17] = 0xb5;
    for (int i = 0; i < 3; i++) writeall(rx, hello, sizeof hello);
    memcpy(hello + 10, txmac, 6);
    writeall(tx, hello, sizeof hello);  // the sender is learned too, so the receiver's hello is not flooded later
    usleep(200000);
    // Drain whatever the hellos produced on both sides.
    uint8_t scratch[65536];
    struct pollfd p = {.fd = tx, .events = POLLIN};
    while (poll(&p, 1, 50) > 0 && read(tx, scratch, sizeof scratch) > 0) {}
    p.fd = rx;
    while (poll(&p, 1, 50) > 0 && read(rx, scratch, sizeof scratch) > 0) {}
    memcpy(frame + 4, rxmac, 6);
    memcpy(frame + 10, txmac, 6);
    frame[16] = 0x88; frame[17] = 0xb5;
    size_t one = 4 + (size_t)size;
    uint8_t *block = malloc(one * (size_t)batch);
    for (int i = 0; i < batch; i++) memcpy(block + one * i, frame, one);
    struct sink s = {.fd = rx, .expected = n};
    pthread_t t;
    pthread_create(&t, 0, receive, &s);
    double start = now();
    for (long sent = 0; sent < n; sent += batch) {
        long k = n - sent < batch ? n - sent : batch;
        writeall(tx, block, one * (size_t)k);
    }
    pthread_join(t, 0);
    printf("%ld %.6f %.6f\n", s.frames, s.last - start, s.last - s.first);
    return 0;
}
