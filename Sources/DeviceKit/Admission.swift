import ControlWire
import EventLoop
import JSON
import Logging
import PlatformConfig

/// Why admission refused a connection or ended one (`data.reason` / counters under `hub.admission`).
package enum AdmissionRefusal: String, CaseIterable, Sendable, Error {
    /// The listener's budget of connections still in their handshake is full.
    case tooManyPending = "too_many_pending"
    /// The budget of authenticated connections (clients, sessions, viewers) is full.
    case tooManyClients = "too_many_clients"
    /// The handshake (authentication, RFB ClientInit, first frame) did not finish in time.
    case handshakeTimeout = "handshake_timeout"
    /// The authenticated peer sent nothing for its idle deadline.
    case idleTimeout = "idle_timeout"
    /// Another peer took precedence (a partition opening its own modem displaces raw AT clients).
    case displaced = "displaced"
    /// The pending budget was full when a newer connection arrived: the connection that had waited longest in
    /// its handshake gave way to it.
    case evicted = "evicted"
}

/// The limits one listener family enforces: `Protocols/control.md` §5 `hub.admission`.
package struct AdmissionPolicy {
    /// Connections accepted but not yet authenticated.
    package var maxPending: Int
    /// Authenticated connections.
    package var maxAuthenticated: Int
    /// Slots of each budget that only Unix-socket peers may take (the local administrator always has room).
    /// At most half of a budget is reserved, so a small budget still admits TCP peers.
    package var unixReserved: Int = 0
    /// Milliseconds from accept to the end of the handshake; 0: no deadline.
    package var handshakeMs: Int
    /// Milliseconds of silence after which an authenticated peer is closed; 0: never.
    package var idleMs: Int
    /// The `hub.limits` keys named in refusals.
    package var pendingLimit: String
    package var authenticatedLimit: String

    package init(
        maxPending: Int, maxAuthenticated: Int, unixReserved: Int = 0, handshakeMs: Int, idleMs: Int,
        pendingLimit: String, authenticatedLimit: String
    ) {
        self.maxPending = maxPending
        self.maxAuthenticated = maxAuthenticated
        self.unixReserved = unixReserved
        self.handshakeMs = handshakeMs
        self.idleMs = idleMs
        self.pendingLimit = pendingLimit
        self.authenticatedLimit = authenticatedLimit
    }

    package func allows(count: Int, of budget: Int, kind: Connection.Kind) -> Bool {
        guard kind == .tcp else { return count < budget }
        return count < budget - min(unixReserved, budget / 2)
    }
}

/// One listener family's admission: every listener (control, guest, RFB, raw AT, Ethernet stream/VDE) takes
/// a pending slot at accept, turns it into an authenticated one when its handshake succeeds, and gives it back
/// when the connection closes. Pending and authenticated connections have separate budgets, so peers that
/// never finish a handshake cannot lock out real clients; the handshake and idle deadlines end the peers that
/// hold a slot without using it. Every refusal is counted by reason.
package final class AdmissionGate {
    package let name: String
    package var policy: AdmissionPolicy
    package unowned let registry: AdmissionRegistry
    package private(set) var pending = 0
    package private(set) var authenticated = 0
    package private(set) var accepted: UInt64 = 0
    package private(set) var authenticatedTotal: UInt64 = 0
    package private(set) var refusals: [AdmissionRefusal: UInt64] = [:]
    package private(set) var acceptErrors: UInt64 = 0
    /// Pending slots in accept order, oldest first; entries that are no longer pending are skipped and
    /// compacted away, so the array stays within a small multiple of `maxPending`.
    private var pendingOrder: [AdmissionSlot] = []
    private var pendingOrderStart = 0
    private var acceptErrorLog = LogThrottle()

    package init(name: String, policy: AdmissionPolicy, registry: AdmissionRegistry) {
        self.name = name
        self.policy = policy
        self.registry = registry
    }

    /// Takes a pending slot for a just-accepted connection, or says why not (the caller answers the peer in its
    /// protocol and closes). `onDeadline` runs when the handshake or idle deadline passes; it must close.
    /// `handshakeDeadline: false` leaves out the handshake deadline (a control endpoint that asks for no token,
    /// whose "handshake" is only the first request: a local client may connect early and speak later).
    package func admit(_ kind: Connection.Kind, handshakeDeadline: Bool = true) -> Result<
        AdmissionSlot, AdmissionRefusal
    > {
        if !policy.allows(count: authenticated, of: policy.maxAuthenticated, kind: kind) {
            // Nobody could finish a handshake: say so now rather than after it.
            return .failure(refuse(.tooManyClients))
        }
        if !policy.allows(count: pending, of: policy.maxPending, kind: kind) {
            // A full pending budget evicts the connection that has waited longest in its handshake instead of
            // refusing the newcomer: peers that connect and stall cannot hold the door shut for a whole
            // handshake deadline; to keep real clients out they would have to open a budget's worth of
            // connections within each real client's handshake. A TCP newcomer only evicts TCP peers, so the
            // Unix share stays the local administrator's.
            guard evictOldestPending(for: kind) else { return .failure(refuse(.tooManyPending)) }
        }
        pending += 1
        accepted += 1
        let slot = AdmissionSlot(gate: self, kind: kind)
        rememberPending(slot)
        if handshakeDeadline { slot.armHandshakeDeadline() }
        return .success(slot)
    }

    private func rememberPending(_ slot: AdmissionSlot) {
        if pendingOrder.count - pendingOrderStart > 2 * policy.maxPending + 64 || pendingOrderStart > 1024 {
            pendingOrder = pendingOrder[pendingOrderStart...].filter { $0.isPending }
            pendingOrderStart = 0
        }
        pendingOrder.append(slot)
    }

    /// Ends the oldest pending connection a `kind` newcomer may displace; false when there is none.
    private func evictOldestPending(for kind: Connection.Kind) -> Bool {
        while pendingOrderStart < pendingOrder.count, !pendingOrder[pendingOrderStart].isPending {
            pendingOrderStart += 1
        }
        var index = pendingOrderStart
        while index < pendingOrder.count {
            let candidate = pendingOrder[index]
            if candidate.isPending && (kind != .tcp || candidate.kind == .tcp) {
                candidate.evict()
                return !candidate.isPending && policy.allows(count: pending, of: policy.maxPending, kind: kind)
            }
            index += 1
        }
        return false
    }

    /// Counts a refusal (also for refusals the listener's own rules make, like one peer per stream port).
    @discardableResult
    package func refuse(_ refusal: AdmissionRefusal) -> AdmissionRefusal {
        refusals[refusal, default: 0] += 1
        return refusal
    }

    fileprivate func promote(_ kind: Connection.Kind) -> Bool {
        guard policy.allows(count: authenticated, of: policy.maxAuthenticated, kind: kind) else {
            refuse(.tooManyClients)
            return false
        }
        pending -= 1
        authenticated += 1
        authenticatedTotal += 1
        return true
    }

    fileprivate func released(wasAuthenticated: Bool) {
        if wasAuthenticated { authenticated -= 1 } else { pending -= 1 }
        registry.connectionReleased()
    }

    /// Counts `listener`'s accept failures and logs them at a bounded rate.
    package func watch(_ listener: Listener) {
        listener.descriptorReserve = AdmissionRegistry.descriptorReserve
        listener.maxAcceptsPerPass = registry.limits.listenerAcceptsPerPass
        listener.onAcceptError = { [unowned self] error in self.acceptFailed(error) }
    }

    private func acceptFailed(_ error: LoopError) {
        acceptErrors += 1
        let interval = UInt64(registry.limits.acceptErrorLogIntervalMs)
        guard let suffix = acceptErrorLog.admit(nowMs: registry.loop.nowMilliseconds, intervalMs: interval) else {
            return
        }
        registry.logger.warning("\(name): accept failed: \(error)\(suffix); \(acceptErrors) so far")
    }

    package var json: JSON {
        var refused = JSONObject()
        for reason in AdmissionRefusal.allCases { refused[reason.rawValue] = .uint(refusals[reason] ?? 0) }
        return [
            "name": .string(name),
            "pending": .int(Int64(pending)),
            "authenticated": .int(Int64(authenticated)),
            "accepted": .uint(accepted),
            "authenticatedTotal": .uint(authenticatedTotal),
            "refused": .object(refused),
            "acceptErrors": .uint(acceptErrors),
            "limits": [
                "maxPending": .int(Int64(policy.maxPending)),
                "maxAuthenticated": .int(Int64(policy.maxAuthenticated)),
                "unixReserved": .int(Int64(min(policy.unixReserved, policy.maxPending / 2))),
                "handshakeMs": .int(Int64(policy.handshakeMs)),
                "idleMs": .int(Int64(policy.idleMs)),
            ],
        ]
    }
}

/// One connection's place in its gate: pending until `authenticate()`, then authenticated, until `release()`.
package final class AdmissionSlot {
    package enum Phase { case pending, authenticated, released }
    private unowned let gate: AdmissionGate
    package let kind: Connection.Kind
    package private(set) var phase = Phase.pending
    private var timer: Timer?
    private var lastActivityMs: UInt64
    /// Runs once when a deadline passes, after the refusal was counted; the owner answers and closes.
    package var onDeadline: ((AdmissionRefusal) -> Void)?

    fileprivate init(gate: AdmissionGate, kind: Connection.Kind) {
        self.gate = gate
        self.kind = kind
        lastActivityMs = gate.registry.loop.nowMilliseconds
    }

    package var isPending: Bool { phase == .pending }

    fileprivate func armHandshakeDeadline() {
        let deadline = gate.policy.handshakeMs
        guard deadline > 0 else { return }
        timer = try? Timer(loop: gate.registry.loop)
        timer?.start(afterMilliseconds: UInt64(deadline)) { [unowned self] in self.deadlinePassed(.handshakeTimeout) }
    }

    /// The peer sent something: the idle deadline counts from now. One store, so hot paths may call it.
    package func noteActivity() { lastActivityMs = gate.registry.loop.nowMilliseconds }

    /// The handshake succeeded. False when the authenticated budget is full (counted as `too_many_clients`);
    /// the caller then refuses the peer and closes.
    package func authenticate() -> Bool {
        guard phase == .pending else { return phase == .authenticated }
        guard gate.promote(kind) else { return false }
        phase = .authenticated
        timer?.close()
        timer = nil
        noteActivity()
        armIdleDeadline(after: gate.policy.idleMs)
        return true
    }

    private func armIdleDeadline(after milliseconds: Int) {
        guard gate.policy.idleMs > 0 else { return }
        if timer == nil { timer = try? Timer(loop: gate.registry.loop) }
        timer?.start(afterMilliseconds: UInt64(max(1, milliseconds))) { [unowned self] in self.idleCheck() }
    }

    private func idleCheck() {
        let idle = gate.policy.idleMs
        let silent = Int(gate.registry.loop.nowMilliseconds - lastActivityMs)
        if silent >= idle {
            deadlinePassed(.idleTimeout)
        } else {
            armIdleDeadline(after: idle - silent)
        }
    }

    /// A newer connection needs this pending slot (`AdmissionGate.admit`): counted and ended like a deadline.
    fileprivate func evict() { deadlinePassed(.evicted) }

    private func deadlinePassed(_ refusal: AdmissionRefusal) {
        guard phase != .released else { return }
        gate.refuse(refusal)
        let callback = onDeadline
        callback?(refusal)
        // An owner that did not close still loses its slot: the deadline is the hub's, not the peer's.
        release()
    }

    /// The connection closed (or is closing): the slot goes back to its budget. Safe to call repeatedly.
    package func release() {
        guard phase != .released else { return }
        let wasAuthenticated = phase == .authenticated
        phase = .released
        timer?.close()
        timer = nil
        onDeadline = nil
        gate.released(wasAuthenticated: wasAuthenticated)
    }
}

/// Every admission gate of the hub, for `hub.admission`; also returns freed heap after connection bursts.
package final class AdmissionRegistry {
    package let loop: Loop
    package let logger: Logger
    package let limits: Limits
    package private(set) var gates: [AdmissionGate] = []
    private var releasedSinceTrim = 0
    private var trimTimer: Timer?
    package private(set) var memoryTrims: UInt64 = 0
    /// Connections that must close before freed memory is handed back (one trim a second at most).
    package static let trimAfterReleases = 32
    /// Descriptors kept free below the open-file limit for the hub's own work (`Listener.descriptorReserve`).
    package static let descriptorReserve = 64

    /// Hands freed heap back to the system (`ProcessResources.returnFreeMemory`, passed in by the hub so that
    /// this module makes no OS call of its own).
    private let returnFreeMemory: () -> Void

    package init(loop: Loop, limits: Limits, logger: Logger, returnFreeMemory: @escaping () -> Void) {
        self.returnFreeMemory = returnFreeMemory
        self.loop = loop
        self.limits = limits
        self.logger = logger
    }

    package func gate(_ name: String, _ policy: AdmissionPolicy) -> AdmissionGate {
        let gate = AdmissionGate(name: name, policy: policy, registry: self)
        gates.append(gate)
        return gate
    }

    fileprivate func connectionReleased() {
        releasedSinceTrim += 1
        guard releasedSinceTrim >= AdmissionRegistry.trimAfterReleases else { return }
        if trimTimer == nil {
            trimTimer = try? Timer(loop: loop)
            // A pending trim must not keep a finished loop alive.
            trimTimer?.unreference()
        }
        guard let trimTimer, !trimTimer.isActive else { return }
        trimTimer.start(afterMilliseconds: 1000) { [unowned self] in
            self.releasedSinceTrim = 0
            self.memoryTrims += 1
            self.returnFreeMemory()
        }
    }

    package func close() {
        trimTimer?.close()
        trimTimer = nil
    }

    package var json: JSON {
        .array(gates.map(\.json))
    }
}

extension AdmissionGate {
    /// A human-readable refusal naming the limit, for protocols whose errors carry text.
    package func refusalText(_ refusal: AdmissionRefusal) -> String {
        switch refusal {
        case .tooManyPending:
            "\(refusal.rawValue): \(policy.pendingLimit) (\(policy.maxPending)) connections already in their handshake"
        case .tooManyClients:
            "\(refusal.rawValue): \(policy.authenticatedLimit) (\(policy.maxAuthenticated)) already connected"
        case .handshakeTimeout: "\(refusal.rawValue): handshake not completed within \(policy.handshakeMs) ms"
        case .idleTimeout: "\(refusal.rawValue): nothing received for \(policy.idleMs) ms"
        case .displaced: "\(refusal.rawValue): the owner took the device"
        case .evicted:
            "\(refusal.rawValue): \(policy.pendingLimit) (\(policy.maxPending)) reached; the longest handshake gave way"
        }
    }

    /// The JSON-RPC error for a control refusal (`Protocols/control.md` §2.6).
    package func controlError(_ refusal: AdmissionRefusal) -> ControlError {
        switch refusal {
        case .tooManyPending:
            ControlError.limitExceeded(policy.pendingLimit, value: Int64(policy.maxPending), reason: refusal.rawValue)
        case .tooManyClients:
            ControlError.limitExceeded(
                policy.authenticatedLimit, value: Int64(policy.maxAuthenticated), reason: refusal.rawValue)
        case .handshakeTimeout:
            ControlError(
                code: .timeout, reason: refusal.rawValue, message: refusalText(refusal),
                details: ["limit": "controlHandshakeMs", "timeoutMs": .int(Int64(policy.handshakeMs))])
        case .idleTimeout:
            ControlError(
                code: .timeout, reason: refusal.rawValue, message: refusalText(refusal),
                details: ["limit": "controlIdleMs", "timeoutMs": .int(Int64(policy.idleMs))])
        case .displaced:
            ControlError(code: .unavailable, reason: refusal.rawValue, message: refusalText(refusal))
        case .evicted:
            ControlError.limitExceeded(policy.pendingLimit, value: Int64(policy.maxPending), reason: refusal.rawValue)
        }
    }
}
