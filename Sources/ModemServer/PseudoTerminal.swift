import EventLoop
import HubSystem

/// A host pseudo-terminal for a modem: the hub reads and writes the master side; serial tools open the
/// slave through a stable symlink. The hub keeps the slave open itself so the master never sees a
/// hang-up while no host program has the port open.
final class PseudoTerminal {
    let connection: Connection
    let slavePath: String
    let symlinkPath: String
    private var slaveFD: Int32

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(loop: Loop, symlink: String) throws(Failure) {
        let pair: PseudoTerminalPair
        do {
            // The slave is in raw mode: no echo, no line editing, no CR/LF translation; the modem does its own echo.
            pair = try PseudoTerminalPair.open()
        } catch {
            let step =
                switch error.operation {
                case "posix_openpt": "open /dev/ptmx"
                case "unlockpt", "ptsname_r": "unlocking the PTY"
                default: error.operation
                }
            throw Failure(description: "\(step): errno \(error.code)")
        }
        slavePath = pair.slavePath
        slaveFD = pair.slave
        symlinkPath = symlink
        if Files.exists(symlink) {
            guard Files.isSymlink(symlink) else {
                Descriptors.close(pair.master)
                Descriptors.close(pair.slave)
                throw Failure(description: "\(symlink) exists and is not a symlink")
            }
            Files.remove(symlink)
        }
        do {
            try Files.makeSymlink(symlink, to: pair.slavePath)
        } catch {
            Descriptors.close(pair.master)
            Descriptors.close(pair.slave)
            throw Failure(description: "symlink \(symlink) -> \(pair.slavePath): errno \(error.code)")
        }
        do {
            connection = try Connection.adopting(fileDescriptor: pair.master, loop: loop)
        } catch {
            Files.remove(symlink)
            Descriptors.close(pair.master)
            Descriptors.close(pair.slave)
            throw Failure(description: "adopting the PTY master: \(error)")
        }
    }

    func close() {
        connection.close()
        if slaveFD >= 0 {
            Descriptors.close(slaveFD)
            slaveFD = -1
        }
        if Files.isSymlink(symlinkPath) { Files.remove(symlinkPath) }
    }
}
