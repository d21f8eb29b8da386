// The C side of HubSystem's kernel interfaces (include/hub_system.h says why they are in C).
#define _GNU_SOURCE 1

#include "hub_system.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <malloc.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

// ---- tun/tap ----

int hub_tun_open(void) { return open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC); }

/// A zeroed `struct ifreq` naming `name`; -1 with EINVAL when the name does not fit.
static int interface_request(const char *name, struct ifreq *request) {
    memset(request, 0, sizeof *request);
    size_t length = strlen(name);
    if (length == 0 || length >= IFNAMSIZ) {
        errno = EINVAL;
        return -1;
    }
    memcpy(request->ifr_name, name, length);
    return 0;
}

int hub_tun_attach_tap(int fd, const char *name) {
    struct ifreq request;
    if (interface_request(name, &request) != 0) return -1;
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    return ioctl(fd, TUNSETIFF, &request);
}

int hub_tun_set_persistent(int fd, int persistent) { return ioctl(fd, TUNSETPERSIST, persistent ? 1 : 0); }

/// Runs `request` on a throw-away datagram socket, keeping the ioctl's errno.
static int interface_ioctl(unsigned long command, struct ifreq *request) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return -1;
    int result = ioctl(sock, command, request);
    int saved = errno;
    close(sock);
    errno = saved;
    return result;
}

int hub_interface_set_ethernet_address(const char *name, const unsigned char address[6]) {
    struct ifreq request;
    if (interface_request(name, &request) != 0) return -1;
    request.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(request.ifr_hwaddr.sa_data, address, 6);
    return interface_ioctl(SIOCSIFHWADDR, &request);
}

int hub_interface_is_up(const char *name) {
    struct ifreq request;
    if (interface_request(name, &request) != 0) return -1;
    if (interface_ioctl(SIOCGIFFLAGS, &request) != 0) return -1;
    return (request.ifr_flags & IFF_UP) ? 1 : 0;
}

int hub_interface_bring_up(const char *name) {
    struct ifreq request;
    if (interface_request(name, &request) != 0) return -1;
    if (interface_ioctl(SIOCGIFFLAGS, &request) != 0) return -1;
    request.ifr_flags |= IFF_UP;
    return interface_ioctl(SIOCSIFFLAGS, &request);
}

// ---- memfd and seals ----

int hub_memfd_create(const char *name) { return memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING); }

int hub_memfd_add_seals(int fd, unsigned int seals) {
    int kernel = 0;
    if (seals & HUB_SEAL_SEAL) kernel |= F_SEAL_SEAL;
    if (seals & HUB_SEAL_SHRINK) kernel |= F_SEAL_SHRINK;
    if (seals & HUB_SEAL_GROW) kernel |= F_SEAL_GROW;
    if (seals & HUB_SEAL_WRITE) kernel |= F_SEAL_WRITE;
    return fcntl(fd, F_ADD_SEALS, kernel);
}

int hub_memfd_seals(int fd) {
    int kernel = fcntl(fd, F_GET_SEALS);
    if (kernel < 0) return -1;
    int seals = 0;
    if (kernel & F_SEAL_SEAL) seals |= HUB_SEAL_SEAL;
    if (kernel & F_SEAL_SHRINK) seals |= HUB_SEAL_SHRINK;
    if (kernel & F_SEAL_GROW) seals |= HUB_SEAL_GROW;
    if (kernel & F_SEAL_WRITE) seals |= HUB_SEAL_WRITE;
    return seals;
}

// ---- descriptor passing ----

ssize_t hub_send_with_descriptor(int socket, const void *bytes, size_t length, int descriptor) {
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct iovec vector = {.iov_base = (void *)bytes, .iov_len = length};
    struct msghdr message = {
        .msg_iov = &vector, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof control.buffer};
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &descriptor, sizeof(int));
    ssize_t sent;
    do {
        sent = sendmsg(socket, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    return sent;
}

ssize_t hub_receive_with_descriptor(int socket, void *buffer, size_t capacity, int *descriptor) {
    union {
        char buffer[CMSG_SPACE(sizeof(int) * 8)];
        struct cmsghdr align;
    } control;
    struct iovec vector = {.iov_base = buffer, .iov_len = capacity};
    struct msghdr message = {
        .msg_iov = &vector, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof control.buffer};
    *descriptor = -1;
    ssize_t count;
    do {
        count = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    } while (count < 0 && errno == EINTR);
    if (count < 0) return -1;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        size_t received = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t index = 0; index < received; index++) {
            int fd;
            memcpy(&fd, CMSG_DATA(header) + index * sizeof(int), sizeof fd);
            if (*descriptor < 0) {
                *descriptor = fd;
            } else {
                close(fd);
            }
        }
    }
    return count;
}

// ---- scheduling ----

int hub_sched_set_fifo(pid_t pid, int priority, int reset_on_fork) {
    struct sched_param parameters = {.sched_priority = priority};
    return sched_setscheduler(pid, SCHED_FIFO | (reset_on_fork ? SCHED_RESET_ON_FORK : 0), &parameters);
}

int hub_sched_is_fifo(pid_t pid) {
    int policy = sched_getscheduler(pid);
    if (policy < 0) return -1;
    return (policy & ~SCHED_RESET_ON_FORK) == SCHED_FIFO ? 1 : 0;
}

int hub_sched_set_other(pid_t pid, int reset_on_fork) {
    struct sched_param parameters = {.sched_priority = 0};
    return sched_setscheduler(pid, SCHED_OTHER | (reset_on_fork ? SCHED_RESET_ON_FORK : 0), &parameters);
}

long long hub_thread_cpu_demand_nanos(void) {
    int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char text[128];
    ssize_t got = read(fd, text, sizeof text - 1);
    close(fd);
    if (got <= 0) return -1;
    text[got] = 0;
    unsigned long long ran = 0, waited = 0;
    if (sscanf(text, "%llu %llu", &ran, &waited) != 2) return -1;
    return (long long)(ran + waited);
}

int hub_set_nice(pid_t pid, int nice) { return setpriority(PRIO_PROCESS, (id_t)pid, nice); }

// ---- pseudo-terminals ----

int hub_pty_open_master(void) { return posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC); }

int hub_pty_unlock(int master) { return grantpt(master) == 0 ? unlockpt(master) : -1; }

int hub_pty_slave_name(int master, char *name, size_t capacity) { return ptsname_r(master, name, capacity); }

int hub_tty_make_raw(int fd) {
    struct termios attributes;
    if (tcgetattr(fd, &attributes) != 0) return -1;
    cfmakeraw(&attributes);
    return tcsetattr(fd, TCSANOW, &attributes);
}

// ---- namespaces ----

int hub_unshare_network(void) { return unshare(CLONE_NEWNET); }

// ---- the C heap ----

int hub_malloc_trim(void) { return malloc_trim(0); }

int hub_malloc_set_mmap_threshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }

int hub_malloc_set_trim_threshold(int bytes) { return mallopt(M_TRIM_THRESHOLD, bytes); }

long hub_getrandom(void *buffer, unsigned long length) { return (long)getrandom(buffer, length, 0); }
