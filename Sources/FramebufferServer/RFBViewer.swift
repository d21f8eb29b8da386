import DeviceKit
import EventLoop
import Framebuffer
import RFBWire

/// One VNC viewer: the socket, its RFB session state, its pixel format and encodings, its pending damage.
package final class RFBViewer {
    package let id: UInt64
    let connection: any ByteStream
    unowned let screen: FramebufferScreen
    private var session: RFBServerSession
    private let encoder = RFBUpdateEncoder()
    private var damage = ViewerDamage()
    /// The area of the viewer's outstanding FramebufferUpdateRequest, if any.
    private var requested: ScreenRect?
    private var touch = TouchTracker()
    private var cursorSent = false
    /// A DesktopSize rectangle is owed: the viewer announced the pseudo-encoding and has not had one
    /// for the current size (RFC 6143 §7.8.2 lets the server send it in any update once announced).
    private var desktopSizeDue = false
    private var closed = false
    package private(set) var initialised = false
    package private(set) var updatesSent: UInt64 = 0
    /// The peer's address, or `unix`.
    package let remote: String
    /// This connection's place in the screen's admission budgets: pending until ClientInit.
    var admission: AdmissionSlot?

    init(id: UInt64, connection: any ByteStream, screen: FramebufferScreen, session: RFBServerSession) {
        self.id = id
        self.connection = connection
        self.screen = screen
        self.session = session
        remote = connection.peerDescription ?? "unix"
    }

    package var pixelEncodingName: String {
        switch encoder.preferences.pixels {
        case RFBEncoding.hextile: "hextile"
        case RFBEncoding.zrle: "zrle"
        default: "raw"
        }
    }

    var bytesByEncoding: [Int32: UInt64] { encoder.bytesByEncoding }

    func start() {
        // Weak: the connection outlives the viewer while its last writes drain after close.
        connection.onData = { [weak self] bytes in self?.received(bytes) }
        connection.onEnd = { [weak self] _ in self?.close(reason: "viewer disconnected") }
        connection.onWriteError = { [weak self] error in self?.close(reason: "write failed: \(error)") }
        connection.write(session.greeting)
        do {
            try connection.startReading()
        } catch {
            close(reason: "cannot read: \(error)")
        }
    }

    func close(reason: String) {
        guard !closed else { return }
        closed = true
        admission?.release()
        connection.onData = nil
        connection.onEnd = nil
        connection.onWriteError = nil
        connection.closeAfterWrites()
        screen.viewerClosed(self, reason: reason)
    }

    private func received(_ bytes: ArraySlice<UInt8>) {
        guard !closed else { return }
        admission?.noteActivity()
        let output = session.feed(bytes)
        if !output.send.isEmpty { connection.write(output.send) }
        if let shared = output.initialised {
            // ClientInit ends the handshake: only now does the connection count as a viewer.
            if let admission, !admission.authenticate() {
                screen.counters.viewersRefused += 1
                return close(reason: "too many viewers (maxViewers \(screen.config.maxViewers))")
            }
            initialised = true
            screen.viewerInitialised(self, shared: shared)
        }
        for message in output.messages { handle(message) }
        if let reason = output.close {
            screen.counters.viewerProtocolErrors += 1
            screen.host.logger.info("\(screen.name): viewer \(remote) closed: \(reason)")
            close(reason: reason)
        }
    }

    private func handle(_ message: RFBClientMessage) {
        switch message {
        case .setPixelFormat(let format):
            encoder.format = format
        case .setEncodings(let encodings):
            let announcedBefore = encoder.preferences.desktopSize
            encoder.preferences = RFBEncodingPreferences(encodings)
            damage.supportsCopyRect = encoder.preferences.copyRect
            // First announcement: confirm the size in the next update, so the viewer knows the
            // server honours the pseudo-encoding (and any later change reaches it the same way).
            if encoder.preferences.desktopSize && !announcedBefore { desktopSizeDue = true }
        case .framebufferUpdateRequest(let incremental, let rect):
            let area = rect.intersection(screen.compositor.bounds)
            requested = (requested ?? area).union(area)
            if !incremental { damage.addAll(area) }
            sendUpdateIfReady()
        case .keyEvent(let down, let keysym):
            if let key = Keypad.key(forKeysym: keysym) {
                screen.deliverKey(key, down: down, keysym: keysym)
            } else {
                screen.counters.keysIgnored += 1
            }
        case .pointerEvent(let mask, let x, let y):
            if let action = touch.pointer(buttonMask: mask, x: x, y: y) {
                screen.deliverTouch(
                    action, x: min(x, screen.config.width - 1), y: min(y, screen.config.height - 1))
            }
        case .clientCutText:
            break  // the handset has no clipboard; the length was bounded by the decoder
        }
    }

    func add(_ changes: [ScreenChange]) {
        for change in changes { damage.add(change) }
    }

    /// Sends one update when the viewer asked for one, something changed, and its queue has room.
    func sendUpdateIfReady() {
        guard !closed, initialised, let area = requested, !damage.isEmpty || needsCursor || needsDesktopSize,
            connection.queuedWriteBytes < FramebufferScreen.viewerQueueLimit
        else { return }
        let (move, rects) = damage.take()
        var moves: [RFBUpdateEncoder.Move] = []
        if case .move(let sourceX, let sourceY, let destination)? = move {
            moves.append(RFBUpdateEncoder.Move(sourceX: sourceX, sourceY: sourceY, destination: destination))
        }
        let clipped = rects.map { $0.intersection(area) }.filter { !$0.isEmpty }
        let source = RFBPixelSource(
            pixels: screen.compositor.screen, width: screen.config.width, height: screen.config.height)
        let cursor = needsCursor ? RFBCursor.touchDot : nil
        cursorSent = cursorSent || cursor != nil
        let size = needsDesktopSize ? (width: screen.config.width, height: screen.config.height) : nil
        if size != nil { desktopSizeDue = false }
        screen.rectCache.use(generation: screen.compositor.generation)
        let bytes = encoder.update(
            source: source, rects: clipped, moves: moves, cursor: cursor, desktopSize: size, cache: screen.rectCache)
        requested = nil
        updatesSent += 1
        screen.counters.updatesSent += 1
        screen.counters.updateBytes += UInt64(bytes.count)
        connection.write(bytes) { [weak self] _ in
            // Room again: whatever coalesced meanwhile goes out on the viewer's next request.
            guard let self, !self.closed else { return }
            self.sendUpdateIfReady()
        }
    }

    private var needsCursor: Bool { encoder.preferences.cursor && !cursorSent }
    /// The size is fixed by the configuration, so the only DesktopSize owed is the confirmation after
    /// the announcement; a resizable screen would set `desktopSizeDue` on every viewer when it changes.
    private var needsDesktopSize: Bool { encoder.preferences.desktopSize && desktopSizeDue }
}
