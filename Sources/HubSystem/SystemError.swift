import Glibc

/// A system call that failed: what was asked (`operation`, e.g. `"TUNSETIFF"`) and the kernel's `errno`.
/// Callers decide the wording for their users from `code`; `description` is the plain form.
package struct SystemError: Error, Equatable, CustomStringConvertible {
    package var operation: String
    package var code: Int32

    package init(_ operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }

    /// The error of the call that just failed (reads `errno`; call it before anything else can change it).
    package static func last(_ operation: String) -> SystemError { SystemError(operation, code: errno) }

    /// The C library's wording of `code` (`strerror`).
    package var reason: String { SystemError.describe(code) }

    /// Whether a non-blocking call would have blocked (or was interrupted): try again later.
    package var wouldBlock: Bool { code == EAGAIN || code == EWOULDBLOCK || code == EINTR }

    package var description: String { "\(operation): \(reason)" }

    /// The C library's wording of an errno value.
    package static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }
}

extension SystemError {
    /// errno values callers word specially, named here so that callers need not import the C library.
    package static let permissionDenied = EPERM
    package static let accessDenied = EACCES
    package static let busy = EBUSY
    package static let alreadyExists = EEXIST
    package static let readOnlyFileSystem = EROFS
    package static let noSuchFile = ENOENT
    /// The device does not exist (no driver: ENOENT, ENODEV, ENXIO).
    package static let noDevice: Set<Int32> = [ENOENT, ENODEV, ENXIO]
}
