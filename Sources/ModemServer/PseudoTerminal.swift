import EventLoop
import Glibc

/// A host pseudo-terminal for a modem: the hub reads and writes the master side; serial tools open the
/// slave through a stable symlink. The hub keeps the slave open itself so the master never sees a
/// hang-up while no host program has the port open.
final class PseudoTerminal {
    let connection: Connection
    let slavePath: String
    let symlinkPath: String
    private var slaveFD: Int32

    /// `_IOW('T', 0x31, int)` and `_IOR('T', 0x30, unsigned int)` in the asm-generic ioctl layout
    /// (x86-64, arm64, riscv64).
    static let tiocsptlck: UInt = 0x4004_5431
    static let tiocgptn: UInt = 0x8004_5430

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(loop: Loop, symlink: String) throws(Failure) {
        // posix_openpt/grantpt/unlockpt/ptsname are hidden from Swift's Glibc module (they need
        // _XOPEN_SOURCE), so this does what glibc does on Linux: open /dev/ptmx, clear the lock with
        // TIOCSPTLCK and read the pts number with TIOCGPTN (devpts makes grantpt a no-op).
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw Failure(description: "open /dev/ptmx: errno \(errno)") }
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard ioctl(master, PseudoTerminal.tiocsptlck, &unlock) == 0,
            ioctl(master, PseudoTerminal.tiocgptn, &number) == 0
        else {
            let code = errno
            Glibc.close(master)
            throw Failure(description: "unlocking the PTY: errno \(code)")
        }
        slavePath = "/dev/pts/\(number)"
        let slave = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else {
            Glibc.close(master)
            throw Failure(description: "open \(slavePath): errno \(errno)")
        }
        // Raw mode: no echo, no line editing, no CR/LF translation; the modem does its own echo.
        var attributes = termios()
        tcgetattr(slave, &attributes)
        cfmakeraw(&attributes)
        tcsetattr(slave, TCSANOW, &attributes)
        slaveFD = slave
        symlinkPath = symlink
        var status = stat()
        if lstat(symlink, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFLNK else {
                Glibc.close(master)
                Glibc.close(slave)
                throw Failure(description: "\(symlink) exists and is not a symlink")
            }
            unlink(symlink)
        }
        guard Glibc.symlink(slavePath, symlink) == 0 else {
            let code = errno
            Glibc.close(master)
            Glibc.close(slave)
            throw Failure(description: "symlink \(symlink) -> \(slavePath): errno \(code)")
        }
        do {
            connection = try Connection.adopting(fileDescriptor: master, loop: loop)
        } catch {
            unlink(symlink)
            Glibc.close(master)
            Glibc.close(slave)
            throw Failure(description: "adopting the PTY master: \(error)")
        }
    }

    func close() {
        connection.close()
        if slaveFD >= 0 {
            Glibc.close(slaveFD)
            slaveFD = -1
        }
        var status = stat()
        if lstat(symlinkPath, &status) == 0, status.st_mode & S_IFMT == S_IFLNK { unlink(symlinkPath) }
    }
}
