import ControlWire
import JSON

/// What a control method handler answers: a result now, an error now, or "later" for methods that
/// wait (`events.wait`, `*.wait`), which then answer through `ControlCall.reply` (usually through
/// `DeferredWaits`).
package enum ControlReply {
    case result(JSON)
    /// A result already serialised as compact JSON text, written into the answer as it is (an answer asked for
    /// in tight loops, built from a `JSONTemplate`).
    case encodedResult([UInt8])
    case error(ControlError)
    case deferred
}

/// Whoever sent a control call: the hub's control session, or a test's fake. It is told when one of its calls
/// is answered, so it can write the answer and forget the call.
package protocol ControlCaller: AnyObject {
    /// The peer, for logs and for "who asked" texts (an address, or `unix`).
    var callerDescription: String { get }
    /// `call` was answered with `response`: send it.
    func answered(_ call: ControlCall, with response: ControlResponse)
}

/// One request being served: its id, parameters and the caller that sent it.
///
/// A call answered later (`ControlReply.deferred`) is held by its caller; when the caller goes away it calls
/// `callerClosed()`, which runs what `whenCallerCloses` registered (a wait cancels itself there).
package final class ControlCall {
    package let id: JSON
    package let method: String
    package let params: JSON?
    /// Who sent the call, until the caller closes (`callerClosed`, which lets it go). Held strongly: the first
    /// weak reference to an object gives it a side table, and from then on every retain and release of it takes
    /// the runtime's slow path. The caller is the hub's control session, counted several times per request. No
    /// cycle outlives a caller: it holds only its unanswered calls, and tells each when it closes.
    package private(set) var caller: (any ControlCaller)?
    package private(set) var isAnswered = false
    /// A JSON-RPC notification (no id): carried out, never answered (`Protocols/control.md` §3.1). It is still
    /// held like any deferred call while it waits, so that it is cancelled when its caller goes away.
    package let isNotification: Bool
    /// Work the method did beyond reading the request and writing the answer (an image decoded, pixels read), in
    /// bytes: the caller charges it to the pass's control budget with the rest.
    package var workBytes = 0
    private var onCallerClosed: (() -> Void)?

    package init(id: JSON, method: String, params: JSON?, caller: (any ControlCaller)?, isNotification: Bool = false) {
        self.id = id
        self.method = method
        self.params = params
        self.caller = caller
        self.isNotification = isNotification
    }

    /// Whether someone is still there to read the answer.
    package var hasCaller: Bool { caller != nil }

    /// Answers the call. Later answers are ignored; a vanished caller swallows the answer, and the caller of a
    /// notification drops it.
    package func reply(_ reply: ControlReply) {
        guard !isAnswered else { return }
        let response: ControlResponse
        switch reply {
        case .result(let value): response = ControlResponse(id: id, result: value)
        case .encodedResult(let text): response = ControlResponse(id: id, outcome: .encodedResult(text))
        case .error(let error): response = ControlResponse(id: id, error: error)
        case .deferred: return
        }
        isAnswered = true
        onCallerClosed = nil
        caller?.answered(self, with: response)
    }

    /// Runs `action` if the caller goes away before the call is answered (replaces an earlier action).
    package func whenCallerCloses(_ action: @escaping () -> Void) { onCallerClosed = action }

    /// The caller went away: the call will never be answered.
    package func callerClosed() {
        let action = onCallerClosed
        onCallerClosed = nil
        caller = nil
        if !isAnswered { action?() }
    }
}

/// One control method: its name (`<family>.<verb>`, `Protocols/control.md`), a one-line summary for
/// `hub.methods`, and its handler. A device describes its methods as a table of these and hands it to
/// `DeviceHost.register`; each handler is a named function of the device's `<X>Methods.swift`.
package struct ControlMethod {
    package typealias Handler = (ControlCall) throws(ControlError) -> ControlReply

    package let name: String
    package let summary: String
    /// Whether the method may be called before authenticating (only the handshake ones).
    package let allowedUnauthenticated: Bool
    package let handler: Handler

    package init(
        _ name: String, summary: String, allowedUnauthenticated: Bool = false, handler: @escaping Handler
    ) {
        self.name = name
        self.summary = summary
        self.allowedUnauthenticated = allowedUnauthenticated
        self.handler = handler
    }
}

extension ControlMethod {
    /// A method whose handler is one of `owner`'s methods, so a table names each handler on one line:
    /// `.bound("hub.info", "Version, uptime…", to: self, Hub.hubInfo)`. The owner is held unowned: it owns
    /// the router the table goes to and outlives it.
    package static func bound<Owner: AnyObject>(
        _ name: String, _ summary: String, allowedUnauthenticated: Bool = false, to owner: Owner,
        _ handler: @escaping (Owner) -> (ControlCall) throws(ControlError) -> ControlReply
    ) -> ControlMethod {
        ControlMethod(name, summary: summary, allowedUnauthenticated: allowedUnauthenticated) {
            [unowned owner] call throws(ControlError) in try handler(owner)(call)
        }
    }
}

/// The method table. The hub's own groups register in `Hub+<Group>Methods.swift`; devices hand theirs to
/// `DeviceHost.register` from `start`.
package final class ControlRouter {
    package typealias Handler = ControlMethod.Handler

    package private(set) var methods: [String: ControlMethod] = [:]

    package init() {}

    package func register(_ method: ControlMethod) {
        precondition(methods[method.name] == nil, "control method \(method.name) registered twice")
        methods[method.name] = method
    }

    package func register(_ table: [ControlMethod]) {
        for method in table { register(method) }
    }

    package func register(
        _ name: String, summary: String, allowedUnauthenticated: Bool = false, _ handler: @escaping Handler
    ) {
        register(
            ControlMethod(name, summary: summary, allowedUnauthenticated: allowedUnauthenticated, handler: handler))
    }

    package var methodNames: [String] { methods.keys.sorted() }
}
