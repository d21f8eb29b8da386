import CHubSystem
import Glibc

/// Bytes from the kernel's CSPRNG, for nonces and issued secrets.
package enum SecureRandom {
    /// `count` random bytes read with getrandom(2), in as few calls as the kernel allows (requests up to 256
    /// bytes are never short once the pool is initialised; longer ones and signals may make them so, and the rest
    /// is asked for again). getrandom blocks only before the pool is first initialised, early in boot.
    package static func bytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            // SAFETY: getrandom writes at most `count - filled` bytes from the array's own storage at `filled`.
            let got = bytes.withUnsafeMutableBytes { buffer in
                hub_getrandom(buffer.baseAddress! + filled, UInt(count - filled))
            }
            if got > 0 {
                filled += Int(got)
            } else if got < 0 && errno != EINTR {
                // ENOSYS (kernels before 3.17) and EFAULT cannot occur on the systems the hub supports; a
                // predictable nonce would be worse than stopping.
                fatalError("getrandom failed: errno \(errno)")
            }
        }
        return bytes
    }
}
