import ControlWire
import JSON

/// What a control method handler answers: a result now, an error now, or "later" for methods that
/// wait (`events.wait`), which then answer through `ControlCall.reply`.
public enum ControlReply {
    case result(JSON)
    case error(ControlError)
    case deferred
}

/// One request being served: its id, parameters and the session that sent it.
public final class ControlCall {
    public let id: JSON
    public let method: String
    public let params: JSON?
    weak var session: ControlSession?
    private(set) var answered = false

    init(id: JSON, method: String, params: JSON?, session: ControlSession) {
        self.id = id
        self.method = method
        self.params = params
        self.session = session
    }

    /// Answers a deferred call. Later answers are ignored; a vanished session swallows the answer.
    func reply(_ reply: ControlReply) {
        guard !answered else { return }
        switch reply {
        case .result(let value):
            answered = true
            session?.send(ControlResponse(id: id, result: value))
        case .error(let error):
            answered = true
            session?.send(ControlResponse(id: id, error: error))
        case .deferred:
            break
        }
    }

    var isAnswered: Bool { answered }
}

/// The method table. Each method group registers itself in its own `Hub+<Group>Methods.swift`.
final class ControlRouter {
    typealias Handler = (ControlCall) throws(ControlError) -> ControlReply

    struct Method {
        let name: String
        let summary: String
        /// Whether the method may be called before authenticating (only the handshake ones).
        let allowedUnauthenticated: Bool
        let handler: Handler
    }

    private(set) var methods: [String: Method] = [:]

    func register(
        _ name: String, summary: String, allowedUnauthenticated: Bool = false, _ handler: @escaping Handler
    ) {
        precondition(methods[name] == nil, "control method \(name) registered twice")
        methods[name] = Method(
            name: name, summary: summary, allowedUnauthenticated: allowedUnauthenticated, handler: handler)
    }

    var methodNames: [String] { methods.keys.sorted() }
}
