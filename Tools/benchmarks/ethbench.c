// Load generator and trivial relay for the Ethernet benchmark (Tools/benchmarks/bench.py, "ethernet").
//   ethbench relay A B [WORK_NS] : listens on A and B (unix:PATH or tcp:HOST:PORT), copies bytes A->B and B->A;
//       with WORK_NS, spends that many nanoseconds of CPU (a clock loop) on every read before writing it out: a
//       calibration forwarder that shows how much a given amount of work per read costs in each placement.
//   ethbench relay-connect A B : connects to B (a peer already listening there), then listens on A (printing
//       "listening" once it accepts) and copies as `relay` does. The guest benchmark puts it between the two ends of its direct ping-pong: the four hops of a
//       round trip through the hub, with nothing done between them.
//   ethbench relay-uring A B : the same copy on io_uring (raw syscalls): each read's write and the next read are
//       submitted, and the next completion waited for, in one io_uring_enter, where the poll relay makes three
//       calls (poll, read, write). A calibration forwarder: what the I/O model alone is worth. Exits 3 when the
//       kernel refuses io_uring.
//   ethbench load SEND RECV SIZE N BATCH [RATE [PAIR]]
//       the receiver sends 3 frames first (so a switch learns it), then the sender writes N frames of SIZE bytes,
//       BATCH frames per write, at RATE frames/s (0: as fast as it can); PAIR (0-255) picks distinct MACs so
//       several pairs can share a switch. Prints "frames seconds seconds-from-first" as counted by the receiver.
//       With ETHBENCH_SENDER_CPU / ETHBENCH_RECEIVER_CPU set (a CPU number), the sending (main) thread and the
//       receiving thread each run on that CPU only: the benchmark fixes where the generator runs.
//   ethbench latency SEND RECV SIZE N RATE
//       one frame per write at RATE frames/s, each stamped with its send time; prints "frames p50_us p99_us".
//       SEND "direct" uses one socketpair (a direct connection, no process in between).
// Endpoints (what the generator connects to):
//   unix:PATH, tcp:HOST:PORT  stream with a 4-byte big-endian length prefix (QEMU -netdev stream)
//   vde:DIR                   a vde_switch datagram port, attached with the libvdeplug protocol (one frame per datagram)
//   vdeplug:DIR               a `vde_plug DIR` cable on a socketpair (2-byte big-endian length prefix)
//   tap:NAME                  an existing tap interface (one frame per read/write)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum kind { STREAM4, STREAM2, PACKET };
struct end { int fd; enum kind kind; pid_t child; };

// Set by relay-connect: a listening end prints "listening" once it accepts connections, before it waits in accept.
static int announce_listening;

static void listening_now(void) {
    if (!announce_listening) return;
    printf("listening\n");
    fflush(stdout);
}

static int tcp_or_unix(const char *spec, int listening) {
    int fd;
    if (strncmp(spec, "unix:", 5) == 0) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        strncpy(a.sun_path, spec + 5, sizeof a.sun_path - 1);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (listening) {
            unlink(a.sun_path);
            if (bind(fd, (void *)&a, sizeof a) || listen(fd, 1)) { perror("bind"); exit(1); }
            listening_now();
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
        listening_now();
        int c = accept(fd, 0, 0);
        close(fd);
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return c;
    }
    for (int i = 0; i < 500 && connect(fd, (void *)&a, sizeof a); i++) usleep(10000);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// The libvdeplug (vde2) attach protocol: a request on DIR/ctl names our datagram socket, the switch answers
// with its port's datagram address, and every frame is then one datagram with no header.
struct __attribute__((packed)) vde_request {
    uint32_t magic, version, type;
    struct sockaddr_un sock;
    char description[64];
};

static int vde_attach(const char *dir, int *control) {
    static int sequence;
    struct sockaddr_un ctl = {.sun_family = AF_UNIX};
    snprintf(ctl.sun_path, sizeof ctl.sun_path, "%s/ctl", dir);
    *control = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(*control, (void *)&ctl, sizeof ctl)) { perror("vde ctl"); exit(1); }
    int data = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un mine = {.sun_family = AF_UNIX};
    snprintf(mine.sun_path, sizeof mine.sun_path, "%s/.eb%d-%d", dir, getpid(), sequence++);
    unlink(mine.sun_path);
    if (bind(data, (void *)&mine, sizeof mine)) { perror("vde bind"); exit(1); }
    struct vde_request req = {.magic = 0xfeedface, .version = 3, .type = 0, .sock = mine};  // type 0: REQ_NEW_CONTROL, any port
    snprintf(req.description, sizeof req.description, "ethbench");
    if (send(*control, &req, sizeof req - sizeof req.description + strlen(req.description) + 1, 0) < 0) {
        perror("vde request");
        exit(1);
    }
    struct sockaddr_un port;
    if (recv(*control, &port, sizeof port, 0) != sizeof port) { fprintf(stderr, "vde: no port\n"); exit(1); }
    if (connect(data, (void *)&port, sizeof port)) { perror("vde connect"); exit(1); }
    int size = 4 << 20;
    setsockopt(data, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(data, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    return data;
}

static struct end endpoint(const char *spec) {
    struct end e = {.fd = -1, .kind = STREAM4, .child = 0};
    if (!strncmp(spec, "vde:", 4)) {
        int control;
        e.fd = vde_attach(spec + 4, &control);  // control stays open: it is the port's liveness signal
        e.kind = PACKET;
    } else if (!strncmp(spec, "vdeplug:", 8)) {
        int pair[2];
        socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
        e.child = fork();
        if (e.child == 0) {
            dup2(pair[1], 0);
            dup2(pair[1], 1);
            close(pair[0]);
            execlp("vde_plug", "vde_plug", spec + 8, (char *)0);
            _exit(127);
        }
        close(pair[1]);
        e.fd = pair[0];
        e.kind = STREAM2;
        usleep(100000);  // the plug attaches to the switch
    } else if (!strncmp(spec, "tap:", 4)) {
        e.fd = open("/dev/net/tun", O_RDWR);
        struct ifreq ifr = {0};
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
        strncpy(ifr.ifr_name, spec + 4, IFNAMSIZ - 1);
        if (e.fd < 0 || ioctl(e.fd, TUNSETIFF, &ifr)) { perror("tap"); exit(1); }
        e.kind = PACKET;
    } else {
        e.fd = tcp_or_unix(spec, 0);
    }
    return e;
}

static void writeall(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOBUFS || errno == EAGAIN) { usleep(50); continue; }
            perror("write");
            exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void sleep_until(uint64_t when) {
    struct timespec t = {.tv_sec = (time_t)(when / 1000000000u), .tv_nsec = (long)(when % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, 0) == EINTR) {}
}

static int prefix_width(enum kind k) { return k == STREAM4 ? 4 : k == STREAM2 ? 2 : 0; }

static void put_prefix(uint8_t *p, enum kind k, uint32_t len) {
    if (k == STREAM4) { p[0] = len >> 24; p[1] = len >> 16; p[2] = len >> 8; p[3] = len; }
    if (k == STREAM2) { p[0] = len >> 8; p[1] = len; }
}

struct sink {
    struct end e;
    long expected, frames;
    uint64_t first, last;
    uint8_t mac[6];
    uint64_t *latency;  // per-frame one-way delay (ns), when measuring latency
};

static int counts(struct sink *s, const uint8_t *f, size_t len) {
    if (len < 26 || f[12] != 0x88 || f[13] != 0xb5 || memcmp(f, s->mac, 6)) return 0;
    if (s->latency && s->frames < s->expected) {
        uint64_t sent;
        memcpy(&sent, f + 18, 8);
        s->latency[s->frames] = now_ns() - sent;
    }
    return 1;
}

static void *receive(void *arg) {
    struct sink *s = arg;
    static uint8_t buf[1 << 20];
    size_t have = 0;
    int width = prefix_width(s->e.kind);
    while (s->frames < s->expected) {
        struct pollfd p = {.fd = s->e.fd, .events = POLLIN};
        if (poll(&p, 1, 2000) <= 0) break;  // idle 2 s: the rest was lost
        ssize_t r = read(s->e.fd, buf + have, sizeof buf - have);
        if (r <= 0) break;
        if (s->frames == 0 && s->first == 0) s->first = now_ns();
        if (width == 0) {
            s->frames += counts(s, buf, (size_t)r);
        } else {
            have += (size_t)r;
            size_t off = 0;
            while (have - off >= (size_t)width) {
                uint32_t len = width == 4 ? (uint32_t)buf[off] << 24 | buf[off + 1] << 16 | buf[off + 2] << 8 | buf[off + 3]
                                          : (uint32_t)buf[off] << 8 | buf[off + 1];
                if (have - off - width < len) break;
                s->frames += counts(s, buf + off + width, len);
                off += width + len;
            }
            memmove(buf, buf + off, have - off);
            have -= off;
        }
        s->last = now_ns();
    }
    return 0;
}

static void drain(struct end e) {
    uint8_t scratch[65536];
    struct pollfd p = {.fd = e.fd, .events = POLLIN};
    while (poll(&p, 1, 50) > 0 && read(e.fd, scratch, sizeof scratch) > 0) {}
}

// The io_uring relay (`relay-uring`): one ring, a receive outstanding on each side; a receive's completion queues a
// send of what it read to the other side, linked to the next receive into the same buffer (so the buffer is not
// overwritten before it is sent), and the loop submits those and waits for the next completion in one call.
struct uring {
    int fd;
    unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    unsigned queued;
};

static int uring_init(struct uring *r, unsigned entries) {
    struct io_uring_params p = {0};
    r->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
    if (r->fd < 0) return -1;
    size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    int single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
    if (single) sq_size = cq_size = sq_size > cq_size ? sq_size : cq_size;
    uint8_t *sq = mmap(0, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
    if (sq == MAP_FAILED) return -1;
    uint8_t *cq = single ? sq : mmap(0, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                                     IORING_OFF_CQ_RING);
    if (cq == MAP_FAILED) return -1;
    r->sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                   r->fd, IORING_OFF_SQES);
    if (r->sqes == MAP_FAILED) return -1;
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    r->queued = 0;
    return 0;
}

// Queues one operation; published to the kernel by the store-release of the tail, submitted by the next enter.
static void uring_queue(struct uring *r, uint8_t op, int fd, void *buf, unsigned len, int msg_flags, uint8_t flags,
                        uint64_t user_data) {
    unsigned tail = *r->sq_tail, index = tail & *r->sq_mask;
    struct io_uring_sqe *e = &r->sqes[index];
    memset(e, 0, sizeof *e);
    e->opcode = op;
    e->fd = fd;
    e->addr = (uint64_t)(uintptr_t)buf;
    e->len = len;
    e->msg_flags = (uint32_t)msg_flags;
    e->flags = flags;
    e->user_data = user_data;
    r->sq_array[index] = index;
    __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
    r->queued++;
}

static int relay_uring(int a, int b) {
    static uint8_t bufs[2][1 << 20];
    int fds[2] = {a, b};
    struct uring r;
    if (uring_init(&r, 64)) { perror("io_uring_setup"); return 3; }
    for (int i = 0; i < 2; i++) uring_queue(&r, IORING_OP_RECV, fds[i], bufs[i], sizeof bufs[i], 0, 0, (uint64_t)i);
    for (;;) {
        int n = (int)syscall(__NR_io_uring_enter, r.fd, r.queued, 1, IORING_ENTER_GETEVENTS, NULL, 0);
        if (n < 0 && errno != EINTR) { perror("io_uring_enter"); return 1; }
        if (n >= 0) r.queued -= (unsigned)n < r.queued ? (unsigned)n : r.queued;
        unsigned head = *r.cq_head, tail = __atomic_load_n(r.cq_tail, __ATOMIC_ACQUIRE);
        for (; head != tail; head++) {
            struct io_uring_cqe *c = &r.cqes[head & *r.cq_mask];
            int side = (int)(c->user_data & 1);
            if (c->user_data >= 2) {  // a send: MSG_WAITALL sends it all or fails
                if (c->res < 0 && c->res != -ECANCELED) return 0;
                continue;
            }
            if (c->res == -ECANCELED) continue;
            if (c->res <= 0) return 0;
            uring_queue(&r, IORING_OP_SEND, fds[1 - side], bufs[side], (unsigned)c->res, MSG_WAITALL, IOSQE_IO_LINK,
                        2u + (unsigned)side);
            uring_queue(&r, IORING_OP_RECV, fds[side], bufs[side], sizeof bufs[side], 0, 0, (uint64_t)side);
        }
        __atomic_store_n(r.cq_head, head, __ATOMIC_RELEASE);
    }
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

// The poll relay: copies what either side sends to the other until one ends; `work_ns` of CPU spent per read.
static int relay(int a, int b, uint64_t work_ns) {
    static uint8_t buf[1 << 20];
    struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, -1) < 0) continue;
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP))) continue;
            ssize_t r = read(p[i].fd, buf, sizeof buf);
            if (r <= 0) return 0;
            if (work_ns) {
                uint64_t until = now_ns() + work_ns;
                while (now_ns() < until) {}
            }
            writeall(p[1 - i].fd, buf, (size_t)r);
        }
    }
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "relay")) {
        int a = tcp_or_unix(argv[2], 1), b = tcp_or_unix(argv[3], 1);
        return relay(a, b, argc == 5 ? strtoull(argv[4], 0, 10) : 0);
    }
    if (argc == 4 && !strcmp(argv[1], "relay-connect")) {
        announce_listening = 1;
        int b = tcp_or_unix(argv[3], 0), a = tcp_or_unix(argv[2], 1);
        return relay(a, b, 0);
    }
    if (argc == 4 && !strcmp(argv[1], "relay-uring")) {
        int a = tcp_or_unix(argv[2], 1), b = tcp_or_unix(argv[3], 1);
        return relay_uring(a, b);
    }
    int latency = argc == 7 && !strcmp(argv[1], "latency");
    if (!latency && (argc < 7 || argc > 9 || strcmp(argv[1], "load"))) {
        fprintf(stderr, "usage: see the source\n");
        return 2;
    }
    int size = atoi(argv[4]);
    long n = atol(argv[5]);
    int batch = latency ? 1 : atoi(argv[6]);
    double rate = latency ? atof(argv[6]) : argc > 7 ? atof(argv[7]) : 0;
    int pair = argc > 8 ? atoi(argv[8]) : 0;
    if (size < 64 || size > 9018 || n < 1 || batch < 1) { fprintf(stderr, "bad size/count/batch\n"); return 2; }
    struct end tx, rx;
    uint8_t rxmac[6] = {2, 0, 0, 0, (uint8_t)pair, 2}, txmac[6] = {2, 0, 0, 0, (uint8_t)pair, 1};
    if (!strcmp(argv[2], "direct")) {
        int sp[2];
        socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
        tx = (struct end){.fd = sp[0], .kind = STREAM4};
        rx = (struct end){.fd = sp[1], .kind = STREAM4};
    } else {
        tx = endpoint(argv[2]);
        rx = endpoint(argv[3]);
        // Receiver announces itself (broadcast); the sender too, so the receiver's hello is not flooded later.
        uint8_t hello[4 + 64] = {0};
        for (int side = 0; side < 2; side++) {
            struct end e = side ? tx : rx;
            int w = prefix_width(e.kind);
            put_prefix(hello, e.kind, 64);
            memset(hello + w, 0xff, 6);
            memcpy(hello + w + 6, side ? txmac : rxmac, 6);
            hello[w + 12] = 0x88;
            hello[w + 13] = 0xb6;  // not counted by the sink
            for (int i = 0; i < (side ? 1 : 3); i++) writeall(e.fd, hello, (size_t)(w + 64));
        }
        usleep(200000);
        drain(tx);
        drain(rx);
    }
    int width = prefix_width(tx.kind);
    size_t one = (size_t)(width + size);
    uint8_t *block = calloc((size_t)batch, one);
    for (int i = 0; i < batch; i++) {
        uint8_t *f = block + one * i;
        put_prefix(f, tx.kind, (uint32_t)size);
        memset(f + width, 0xab, (size_t)size);
        memcpy(f + width, rxmac, 6);
        memcpy(f + width + 6, txmac, 6);
        f[width + 12] = 0x88;
        f[width + 13] = 0xb5;
    }
    struct sink s = {.e = rx, .expected = n};
    memcpy(s.mac, rxmac, 6);
    if (latency) s.latency = calloc((size_t)n, sizeof(uint64_t));
    pthread_t t;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    const char *receiver_cpu = getenv("ETHBENCH_RECEIVER_CPU"), *sender_cpu = getenv("ETHBENCH_SENDER_CPU");
    if (receiver_cpu) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(atoi(receiver_cpu), &set);
        pthread_attr_setaffinity_np(&attributes, sizeof set, &set);
    }
    if (sender_cpu) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(atoi(sender_cpu), &set);
        if (sched_setaffinity(0, sizeof set, &set)) { perror("sched_setaffinity"); return 1; }
    }
    if (pthread_create(&t, &attributes, receive, &s)) { fprintf(stderr, "pthread_create failed\n"); return 1; }
    uint64_t start = now_ns();
    // A packet endpoint takes one frame per write whatever the batch.
    size_t per_write = tx.kind == PACKET ? 1 : (size_t)batch;
    for (long sent = 0; sent < n;) {
        long k = n - sent < (long)per_write ? n - sent : (long)per_write;
        if (rate > 0) sleep_until(start + (uint64_t)(sent / rate * 1e9));
        if (latency) {
            uint64_t stamp = now_ns();
            memcpy(block + width + 18, &stamp, 8);
        }
        if (tx.kind == PACKET) {
            for (long i = 0; i < k; i++) {
                if (write(tx.fd, block + one * (size_t)(i % batch), (size_t)size) < 0 && errno != ENOBUFS &&
                    errno != EAGAIN && errno != EINTR) {
                    perror("write");
                    exit(1);
                }
            }
        } else {
            writeall(tx.fd, block, one * (size_t)k);
        }
        sent += k;
    }
    pthread_join(t, 0);
    if (latency) {
        qsort(s.latency, (size_t)s.frames, sizeof(uint64_t), cmp);
        double p50 = s.frames ? s.latency[s.frames / 2] / 1e3 : 0;
        double p99 = s.frames ? s.latency[(size_t)(s.frames * 0.99)] / 1e3 : 0;
        printf("%ld %.1f %.1f\n", s.frames, p50, p99);
    } else {
        printf("%ld %.6f %.6f\n", s.frames, (s.last - start) / 1e9, (s.last - s.first) / 1e9);
    }
    if (tx.child) kill(tx.child, SIGTERM);
    if (rx.child) kill(rx.child, SIGTERM);
    return 0;
}
