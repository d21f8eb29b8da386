import CUV

/// A libuv failure: the operation that failed and libuv's error code (a negated errno or `UV_E*`).
public struct LoopError: Error, Equatable, Sendable, CustomStringConvertible {
    package let code: Int32
    package let operation: String

    package init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// libuv's symbolic name, such as `EADDRINUSE`.
    package var name: String { String(cString: uv_err_name(code)) }
    package var message: String { String(cString: uv_strerror(code)) }
    public var description: String { "\(operation): \(message) (\(name))" }

    package var isCancelled: Bool { code == Int32(UV_ECANCELED.rawValue) }
    package var isEndOfFile: Bool { code == Int32(UV_EOF.rawValue) }
    package var isAddressInUse: Bool { code == Int32(UV_EADDRINUSE.rawValue) }

    /// Throws when `result` is a libuv error code, so call sites read `try check(uv_x(...), "uv_x")`.
    static func check(_ result: Int32, _ operation: @autoclosure () -> String) throws(LoopError) {
        if result < 0 { throw LoopError(code: result, operation: operation()) }
    }
}
