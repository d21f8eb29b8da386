import CHubSystem

/// A host pseudo-terminal (`pty(7)`): the master the hub reads and writes, the slave serial tools open.
package struct PseudoTerminalPair {
    package var master: Int32
    package var slave: Int32
    /// The slave's path, `/dev/pts/N`.
    package var slavePath: String

    /// Opens a master (`posix_openpt`; `grantpt` and `unlockpt` fail as `unlockpt`), then its slave, both close-on-exec and
    /// without becoming the controlling terminal, and puts the slave in raw mode (no echo, no line editing,
    /// no CR/LF translation). The caller owns both descriptors.
    package static func open() throws(SystemError) -> PseudoTerminalPair {
        let master = hub_pty_open_master()
        guard master >= 0 else { throw .last("posix_openpt") }
        guard hub_pty_unlock(master) == 0 else {
            let error = SystemError.last("unlockpt")
            Descriptors.close(master)
            throw error
        }
        var name = [CChar](repeating: 0, count: 128)
        // SAFETY: ptsname_r writes at most name.count bytes, NUL included, into the array for the call.
        let code = hub_pty_slave_name(master, &name, name.count)
        guard code == 0 else {
            Descriptors.close(master)
            throw SystemError("ptsname_r", code: code)
        }
        let path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let slave: Int32
        do {
            slave = try Files.openTerminal(path)
        } catch {
            Descriptors.close(master)
            throw error
        }
        // Raw mode is best effort, as before: a terminal that refuses it still carries bytes.
        _ = hub_tty_make_raw(slave)
        return PseudoTerminalPair(master: master, slave: slave, slavePath: path)
    }
}
