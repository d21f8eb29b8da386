// The kernel interfaces Swift cannot import cleanly, behind plain C functions. Only HubSystem imports this
// module (Sources/ARCHITECTURE.md, "Modules and their dependencies"; checked by Tools/check-imports).
//
// Why C: the declarations below live behind `_GNU_SOURCE` (memfd_create, file seals, SCHED_RESET_ON_FORK,
// ptsname_r, malloc.h), are macros (TUNSETIFF, SIOCSIFHWADDR, CMSG_*) or unions (`struct ifreq`) that Swift's
// Glibc module hides or imports badly. hub_system.c is compiled with `_GNU_SOURCE` and takes every constant and
// layout from the system headers, so no kernel value is typed by hand in Swift. This header includes nothing
// but the standard types, so it imports the same whatever Glibc's module was built with.
//
// Convention: a function returns a descriptor or a count (>= 0), or -1 with errno set, like the system call
// it wraps; EINTR is retried inside where the call is safe to repeat.
#ifndef HUB_SYSTEM_H
#define HUB_SYSTEM_H

#include <stddef.h>
#include <sys/types.h>

// ---- tun/tap (linux/if_tun.h, netdevice(7)) ----

/// Opens /dev/net/tun non-blocking and close-on-exec; -1 with errno.
int hub_tun_open(void);
/// TUNSETIFF with IFF_TAP | IFF_NO_PI on `fd` for interface `name` (at most IFNAMSIZ - 1 bytes); 0 or -1.
int hub_tun_attach_tap(int fd, const char *name);
/// TUNSETPERSIST: the interface outlives `fd` when `persistent` is non-zero; 0 or -1.
int hub_tun_set_persistent(int fd, int persistent);
/// SIOCSIFHWADDR (ARPHRD_ETHER) on `name` through a throw-away AF_INET datagram socket; 0 or -1.
int hub_interface_set_ethernet_address(const char *name, const unsigned char address[6]);
/// SIOCGIFFLAGS: 1 when the interface is up (IFF_UP), 0 when down, -1 with errno (ENODEV: no such interface).
int hub_interface_is_up(const char *name);
/// SIOCGIFFLAGS then SIOCSIFFLAGS with IFF_UP added; 0 or -1.
int hub_interface_bring_up(const char *name);

// ---- memfd and file seals (memfd_create(2), fcntl(2) F_ADD_SEALS) ----

/// Our own seal bits, translated to F_SEAL_* in hub_system.c.
enum {
    HUB_SEAL_SEAL = 1 << 0,
    HUB_SEAL_SHRINK = 1 << 1,
    HUB_SEAL_GROW = 1 << 2,
    HUB_SEAL_WRITE = 1 << 3,
};

/// memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING); -1 with errno.
int hub_memfd_create(const char *name);
/// fcntl(fd, F_ADD_SEALS, ...) with the HUB_SEAL_* bits in `seals`; 0 or -1.
int hub_memfd_add_seals(int fd, unsigned int seals);
/// fcntl(fd, F_GET_SEALS) as HUB_SEAL_* bits; -1 with errno.
int hub_memfd_seals(int fd);

// ---- descriptor passing (unix(7) SCM_RIGHTS) ----

/// sendmsg(2) of `length` bytes with `descriptor` as SCM_RIGHTS, MSG_NOSIGNAL | MSG_DONTWAIT; the count sent
/// or -1 with errno.
ssize_t hub_send_with_descriptor(int socket, const void *bytes, size_t length, int descriptor);
/// recvmsg(2) into `buffer` (MSG_CMSG_CLOEXEC); `*descriptor` is the first descriptor received or -1, and any
/// further descriptors in the same message are closed. The count read or -1 with errno.
ssize_t hub_receive_with_descriptor(int socket, void *buffer, size_t capacity, int *descriptor);

// ---- scheduling (sched(7)) ----

/// sched_setscheduler(pid, SCHED_FIFO [| SCHED_RESET_ON_FORK], priority); 0 or -1.
int hub_sched_set_fifo(pid_t pid, int priority, int reset_on_fork);
/// The policy of `pid` without SCHED_RESET_ON_FORK: 1 for SCHED_FIFO, 0 for any other, -1 with errno.
int hub_sched_is_fifo(pid_t pid);
/// sched_setscheduler(pid, SCHED_OTHER [| SCHED_RESET_ON_FORK], 0): back to normal scheduling; 0 or -1.
int hub_sched_set_other(pid_t pid, int reset_on_fork);
/// What the calling thread has wanted of a CPU so far, in nanoseconds: the time it ran plus the time it waited
/// runnable for a CPU (/proc/thread-self/schedstat, fields 1 and 2); -1 if that file cannot be read.
long long hub_thread_cpu_demand_nanos(void);
/// setpriority(PRIO_PROCESS, pid, nice); 0 or -1.
int hub_set_nice(pid_t pid, int nice);

// ---- pseudo-terminals (pty(7), termios(3)) ----

/// posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC): a new master, or -1 with errno.
int hub_pty_open_master(void);
/// grantpt and unlockpt on `master`, so its slave can be opened; 0 or -1.
int hub_pty_unlock(int master);
/// ptsname_r into `name`; 0 or an errno value.
int hub_pty_slave_name(int master, char *name, size_t capacity);
/// tcgetattr, cfmakeraw, tcsetattr(TCSANOW): no echo, no line editing, no CR/LF translation; 0 or -1.
int hub_tty_make_raw(int fd);

// ---- namespaces (namespaces(7)) ----

/// unshare(CLONE_NEWNET): the calling thread alone enters a new, empty network namespace (tests create tap
/// interfaces there without touching the host's); 0 or -1.
int hub_unshare_network(void);

// ---- the C heap (mallopt(3), malloc_trim(3)) ----

/// malloc_trim(0): 1 if memory was returned to the kernel.
int hub_malloc_trim(void);
/// mallopt(M_MMAP_THRESHOLD, bytes); 1 on success.
int hub_malloc_set_mmap_threshold(int bytes);
/// mallopt(M_TRIM_THRESHOLD, bytes); 1 on success.
int hub_malloc_set_trim_threshold(int bytes);

// ---- the kernel's random generator (getrandom(2), whose header the Glibc module does not import) ----

/// getrandom(buffer, length, 0): the number of bytes written, or -1 with errno set.
long hub_getrandom(void *buffer, unsigned long length);

#endif
