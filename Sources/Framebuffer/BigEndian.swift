// The PNG encoder's big-endian helper (it was shared with the guest-channel codec, now in FramebufferWire).
@inline(__always)
func be32(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
}
