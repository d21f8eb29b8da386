// libFuzzer entry for the framebuffer guest channel's command decoder (Protocols/framebuffer.md §3.1): every
// CHANNEL_DATA a partition sends on its fb0 channel is decoded by it before anything is checked or drawn.
// Built by run-framebuffer-channel-fuzz.sh from the FramebufferWire sources as one module.
//
// Properties checked beyond "does not crash":
// - a decoded command encodes to bytes that decode to the same command (the values are the wire's);
// - every length the command carries is within what its u16/u8 fields can say, and PUT's pixels are the
//   bytes after its header, never more than were given.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFramebufferChannel(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // SAFETY: libFuzzer guarantees `data` points at `size` readable bytes for the duration of the call.
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let command = try? FramebufferGuestCommand.decode(bytes[...]) else { return 0 }
    func check(_ rect: ChannelRect) {
        precondition([rect.x, rect.y, rect.width, rect.height].allSatisfy { (0...0xffff).contains($0) })
    }
    switch command {
    case .put(let rect, _, let pixels):
        check(rect)
        precondition(pixels.count == size - 10, "PUT's pixels are not the bytes after its header")
    case .fill(let rect, let colour):
        check(rect)
        precondition(colour <= 0xff_ffff, "FILL's colour has a top byte")
    case .copy(_, _, let destination): check(destination)
    case .flush(let rects):
        precondition((1...FramebufferGuestCommand.maxFlushRects).contains(rects.count))
        rects.forEach(check)
    case .frame, .preempt, .release, .surface: break
    }
    guard let again = try? FramebufferGuestCommand.decode(command.encode()[...]) else {
        preconditionFailure("the encoder's output does not decode")
    }
    precondition(again == command, "encode → decode changed the command")
    return 0
}
