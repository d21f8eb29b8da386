import Glibc

/// Opens (creating if needed) a Linux TAP interface through `/dev/net/tun` (TUNSETIFF with
/// IFF_TAP | IFF_NO_PI) and brings it up. Frames are read and written whole, one per syscall.
enum TapInterface {
    /// _IOW('T', 202, int)
    static let tunSetIff: UInt = 0x4004_54CA
    static let iffTap: Int16 = 0x0002
    static let iffNoPi: Int16 = 0x1000
    static let iffUp: Int16 = 0x1
    /// SIOCGIFFLAGS / SIOCSIFFLAGS.
    static let getFlags: UInt = 0x8913
    static let setFlags: UInt = 0x8914

    struct OpenError: Error, CustomStringConvertible {
        let description: String
    }

    /// Returns a non-blocking descriptor for the interface; `entry` names the configuration entry in errors.
    static func open(interface: String, entry: String) throws(OpenError) -> Int32 {
        let fd = Glibc.open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            switch code {
            case ENOENT, ENODEV, ENXIO:
                throw OpenError(
                    description:
                        "\(entry): cannot create tap '\(interface)': /dev/net/tun does not exist (load the tun module, or give a container --device /dev/net/tun)"
                )
            case EACCES, EPERM:
                throw OpenError(
                    description:
                        "\(entry): cannot create tap '\(interface)': no permission to open /dev/net/tun (run as root or with CAP_NET_ADMIN)"
                )
            default:
                throw OpenError(
                    description: "\(entry): cannot open /dev/net/tun: \(String(cString: strerror(code)))")
            }
        }
        var request = InterfaceRequest(name: interface)
        request.flags = iffTap | iffNoPi
        if request.ioctl(fd, tunSetIff) != 0 {
            let code = errno
            Glibc.close(fd)
            let reason =
                code == EPERM || code == EACCES
                ? "no permission (the hub needs CAP_NET_ADMIN to create a tap interface)"
                : code == EBUSY
                    ? "the interface exists and is not a free tap (another process holds it?)"
                    : String(cString: strerror(code))
            throw OpenError(description: "\(entry): cannot create tap '\(interface)': TUNSETIFF: \(reason)")
        }
        bringUp(interface)
        return fd
    }

    /// Sets IFF_UP so frames flow at once; failure is harmless (the test or admin may do it later).
    private static func bringUp(_ interface: String) {
        let sock = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard sock >= 0 else { return }
        defer { Glibc.close(sock) }
        var request = InterfaceRequest(name: interface)
        guard request.ioctl(sock, getFlags) == 0 else { return }
        request.flags |= iffUp
        _ = request.ioctl(sock, setFlags)
    }

    /// `struct ifreq` as bytes: the name in the first 16, the flags (a short) right after. Using raw bytes
    /// avoids depending on how the C union is imported.
    struct InterfaceRequest {
        var bytes = [UInt8](repeating: 0, count: 40)

        init(name: String) {
            for (index, byte) in name.utf8.prefix(15).enumerated() { bytes[index] = byte }
        }

        var flags: Int16 {
            get { Int16(bitPattern: UInt16(bytes[16]) | UInt16(bytes[17]) << 8) }
            set {
                let raw = UInt16(bitPattern: newValue)
                bytes[16] = UInt8(raw & 0xFF)
                bytes[17] = UInt8(raw >> 8)
            }
        }

        mutating func ioctl(_ fd: Int32, _ request: UInt) -> Int32 {
            // SAFETY: the buffer is 40 bytes, the size of struct ifreq on Linux; the kernel reads and writes within it.
            bytes.withUnsafeMutableBytes { Glibc.ioctl(fd, request, $0.baseAddress!) }
        }
    }
}
