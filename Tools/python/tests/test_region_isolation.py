"""A read-only region grant stays read-only against what the grantee's uid can do with the descriptor
(Protocols/guest.md §8.5): reopen it read-write through /proc/self/fd, give its inode the write bits back,
map it writable, mprotect a read-only mapping writable, write, ftruncate, fallocate. Meanwhile the
read-write grantee writes through its own mapping and the read-only one sees the bytes.

The attacker runs in a child that drops to `nobody` (a uid other than the hub's, as §8.5 requires of
isolated guests), so the test needs root to change uid and is skipped otherwise."""

from __future__ import annotations

import ctypes
import errno
import json
import mmap
import os

import pytest

from handsethub.guest import GuestClient

NOBODY = 65534
PROT_READ, PROT_WRITE, MAP_SHARED = 1, 2, 1
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2


def unix_guest_endpoint(hub) -> str:
    return next(address for address in hub.hub.guest if address.startswith("unix:"))


def region_fd(client: GuestClient, name: str) -> tuple[int, int, int]:
    """The descriptor, size and access of the named region's REGION_FD, which follows WELCOME."""
    region_id = next(r["id"] for r in client.welcome["regions"] if r["name"] == name)
    while True:
        frame = client.receive(timeout=5)
        assert frame is not None, "no REGION_FD"
        if frame.type == "REGION_FD" and frame.fields["region"] == region_id:
            return frame.fields["fd"], frame.fields["size"], frame.fields["access"]


def attacks(fd: int, size: int, by_path: bool) -> dict[str, str]:
    """Every way the descriptor's holder might write the region (by_path: also through the inode, reopen and
    chmod); each answer is 'refused <errno>' or 'SUCCEEDED'."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    results: dict[str, str] = {}

    def attempt(name, action):
        try:
            action()
            results[name] = "SUCCEEDED"
        except OSError as error:
            results[name] = f"refused {errno.errorcode.get(error.errno, error.errno)}"

    def libc_call(function, *arguments):
        if function(*arguments) == -1:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))

    def reopen(flags):
        reopened = os.open(f"/proc/self/fd/{fd}", flags)
        os.pwrite(reopened, b"EVIL", 0)

    if by_path:
        attempt("reopen O_RDWR via /proc/self/fd", lambda: reopen(os.O_RDWR))
        attempt("reopen O_WRONLY via /proc/self/fd", lambda: reopen(os.O_WRONLY))
        attempt("fchmod 0666", lambda: os.fchmod(fd, 0o666))
    attempt("mmap PROT_WRITE MAP_SHARED",
            lambda: mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE).write(b"EVIL"))

    def remap_writable():
        address = libc.mmap(None, size, PROT_READ, MAP_SHARED, fd, 0)
        if address in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap PROT_READ failed")
        libc_call(libc.mprotect, address, size, PROT_READ | PROT_WRITE)
        ctypes.memmove(address, b"EVIL", 4)

    attempt("mprotect PROT_WRITE on a read-only mapping", remap_writable)
    attempt("write", lambda: os.write(fd, b"EVIL"))
    attempt("pwrite", lambda: os.pwrite(fd, b"EVIL", 0))
    attempt("ftruncate grow", lambda: os.ftruncate(fd, size * 2))
    attempt("ftruncate shrink", lambda: os.ftruncate(fd, 0))
    attempt("fallocate grow", lambda: libc_call(libc.fallocate, fd, 0, 0, size * 2))
    attempt("fallocate punch hole",
            lambda: libc_call(libc.fallocate, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, size))
    return results


def attack_in_child(fd: int, size: int, uid: int | None) -> dict[str, str]:
    """Runs `attacks` in a forked child, as `uid` when given (else as the hub's uid, without the attacks by
    path, which that uid wins); returns its results."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, attack, report, exit without running pytest's cleanup
        status = 0
        try:
            os.close(reader)
            if uid is not None:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            os.write(writer, json.dumps(attacks(fd, size, by_path=uid is not None)).encode())
        except BaseException as error:  # noqa: BLE001 - report anything to the parent
            os.write(writer, json.dumps({"child error": repr(error)}).encode())
            status = 1
        finally:
            os._exit(status)
    os.close(writer)
    chunks = []
    while chunk := os.read(reader, 65536):
        chunks.append(chunk)
    os.close(reader)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks))


FD_LEVEL = ["mmap PROT_WRITE MAP_SHARED", "mprotect PROT_WRITE on a read-only mapping", "write", "pwrite",
            "ftruncate grow", "ftruncate shrink", "fallocate grow", "fallocate punch hole"]


@pytest.mark.skipif(os.geteuid() != 0, reason="changing to the nobody uid needs root")
def test_a_read_only_grant_holds_against_everything_its_uid_can_do_with_the_descriptor(hubd):
    hub = hubd()
    endpoint = unix_guest_endpoint(hub)
    with GuestClient.connect(endpoint, "rtos", "rtos-dev-secret", timeout=5) as rtos, \
            GuestClient.connect(endpoint, "linux", "linux-dev-secret", timeout=5) as linux:
        rw_fd, size, rw_access = region_fd(rtos, "shared-status")
        ro_fd, ro_size, ro_access = region_fd(linux, "shared-status")
        assert (rw_access, ro_access, ro_size) == (2, 1, size)
        with mmap.mmap(rw_fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as writer, \
                mmap.mmap(ro_fd, size, mmap.MAP_SHARED, mmap.PROT_READ) as reader:
            writer[0:16] = b"written by rtos!"
            assert reader[0:16] == b"written by rtos!"

            # A guest under another uid: every attack fails, the reopen included.
            as_nobody = attack_in_child(ro_fd, size, NOBODY)
            assert as_nobody == {
                "reopen O_RDWR via /proc/self/fd": "refused EACCES",
                "reopen O_WRONLY via /proc/self/fd": "refused EACCES",
                "fchmod 0666": "refused EPERM",
                "mmap PROT_WRITE MAP_SHARED": "refused EACCES",
                "mprotect PROT_WRITE on a read-only mapping": "refused EACCES",
                "write": "refused EBADF",
                "pwrite": "refused EBADF",
                "ftruncate grow": "refused EINVAL",
                "ftruncate shrink": "refused EINVAL",
                "fallocate grow": "refused EBADF",
                "fallocate punch hole": "refused EBADF",
            }, as_nobody
            # A guest under the hub's own uid: what the descriptor itself allows still fails (§8.5 says why
            # the reopen cannot be refused to that uid).
            as_hub_uid = attack_in_child(ro_fd, size, None)
            assert as_hub_uid == {name: as_nobody[name] for name in FD_LEVEL}, as_hub_uid

            # Nothing reached the region, and the writer still writes.
            assert reader[0:16] == b"written by rtos!"
            assert os.fstat(rw_fd).st_size == size
            writer[16:24] = b"and more"
            assert reader[0:24] == b"written by rtos!and more"
            region_id = next(r["id"] for r in linux.welcome["regions"] if r["name"] == "shared-status")
            assert linux.read_region(region_id, 0, 24) == b"written by rtos!and more"
        os.close(rw_fd)
        os.close(ro_fd)
