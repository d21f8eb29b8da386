import JSON

/// Constants of the control protocol (`Protocols/control.md`).
package enum ControlProtocol {
    /// The protocol version announced in the greeting; bumped only for incompatible changes.
    package static let version: Int64 = 1
    /// Method name of the greeting notification.
    package static let helloMethod = "hub.hello"
    /// Method name of event notifications.
    package static let eventMethod = "event"
    /// Method name of the marker sent in the event stream when a subscriber's outbox overflowed.
    package static let missedMethod = "events.missed"
}

/// The greeting the server sends on every new connection, before anything else:
/// `{"jsonrpc":"2.0","method":"hub.hello","params":{"server":"hubd","version":…,"protocol":1,"capabilities":[…],"auth":…}}`.
package struct HubHello: Sendable, Hashable {
    /// Whether the client must call `hub.authenticate` before anything else.
    package enum Auth: String, Sendable, Hashable {
        case none
        case token
    }

    package var server: String
    package var version: String
    package var protocolVersion: Int64
    /// Method groups and features this server offers (e.g. "events", "events.wait", "irq", "msg").
    package var capabilities: [String]
    package var auth: Auth

    package init(
        server: String = "hubd", version: String, protocolVersion: Int64 = ControlProtocol.version,
        capabilities: [String], auth: Auth
    ) {
        self.server = server
        self.version = version
        self.protocolVersion = protocolVersion
        self.capabilities = capabilities
        self.auth = auth
    }

    package var notification: ControlNotification {
        ControlNotification(
            method: ControlProtocol.helloMethod,
            params: [
                "server": .string(server), "version": .string(version), "protocol": .int(protocolVersion),
                "capabilities": .array(capabilities.map { .string($0) }), "auth": .string(auth.rawValue),
            ])
    }

    /// Reads a greeting; nil when `notification` is not a well-formed `hub.hello`.
    package init?(_ notification: ControlNotification) {
        guard notification.method == ControlProtocol.helloMethod, let params = notification.params,
            let server = params["server"]?.stringValue, let version = params["version"]?.stringValue,
            let protocolVersion = params["protocol"]?.int64Value,
            let authText = params["auth"]?.stringValue, let auth = Auth(rawValue: authText),
            let capabilities = params["capabilities"]?.arrayValue
        else { return nil }
        self.init(
            server: server, version: version, protocolVersion: protocolVersion,
            capabilities: capabilities.compactMap(\.stringValue), auth: auth)
    }
}
