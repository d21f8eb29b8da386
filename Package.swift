// swift-tools-version: 6.0
// HandsetHub: a networked virtual device hub emulating a consolidated handset's hypervisor.
// Module dependencies are one-way (Sources/ARCHITECTURE.md, checked by Tools/check-imports): codecs never
// import EventLoop, the model never imports HubServer, executables are thin.
import PackageDescription

/// The hub's hot paths (the switch, the platform model, the server) run on one thread and keep their state
/// private; run-time exclusivity checks on their class fields cost a fifth of the per-frame forwarding time and
/// a tenth of the per-message time. Release builds drop them; debug builds, which the tests use, keep them, and
/// the static checks always apply.
let hotPathSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

/// hubd's release link. The static Swift runtime's link arguments export every symbol of the executable
/// (`-export-dynamic`), so at each start the dynamic loader hashed some 16,700 symbols and read 1.2 MB of
/// relative relocations (53,000, one per pointer in a position-independent executable): 2.5 MB of the file
/// resident for nothing. hubd is not a plug-in host, so nothing is exported; lld packs the relative
/// relocations (RELR, glibc 2.36 or later: Debian 12) into 10 kB. Idle RSS drops by about 3 MiB
/// (`Tools/bench --only startup`); the symbol table stays, for perf and crash backtraces.
let leanExecutableLink: [LinkerSetting] = [
    .unsafeFlags(
        ["-use-ld=lld", "-Xlinker", "--no-export-dynamic", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"],
        .when(configuration: .release))
]

let package = Package(
    name: "HandsetHub",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hubd", targets: ["hubd"]),
        .executable(name: "hubctl", targets: ["hubctl"]),
        .library(name: "HubGuest", targets: ["HubGuest"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // libuv's header and nothing else; only EventLoop imports it.
        .systemLibrary(
            name: "CUV", path: "Sources/CUV", pkgConfig: "libuv",
            providers: [.apt(["libuv1-dev"])]),
        // The one socket-address type (`unix:PATH`, `tcp:HOST:PORT`): parsing and printing, pure.
        .target(name: "Endpoints"),
        .target(name: "EventLoop", dependencies: ["CUV", "Endpoints"]),
        // Kernel interfaces Swift cannot import cleanly (tun/tap ioctls, memfd seals, SCM_RIGHTS, sched, PTYs,
        // malloc tuning) as plain C functions; only HubSystem imports it.
        .target(name: "CHubSystem"),
        // The system layer: typed Swift wrappers over the kernel calls the hub and its devices make.
        .target(name: "HubSystem", dependencies: ["CHubSystem"]),
        // zlib for ZRLE and PNG.
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // ISA-L's igzip, the fast deflate of ZRLE's default compression; only the Zlib module imports it.
        .systemLibrary(
            name: "CIsal", path: "Sources/CIsal", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        // Whole-buffer zlib and CRC-32, and the long-lived deflate stream of ZRLE: the one Swift wrapper of CZlib
        // (and of CIsal's fast deflate).
        .target(name: "Zlib", dependencies: ["CZlib", "CIsal"]),
        // libjpeg-turbo's TurboJPEG API, for Tight's JPEG rectangles; only the JPEG module imports it.
        .systemLibrary(
            name: "CTurboJPEG", path: "Sources/CTurboJPEG", pkgConfig: "libturbojpeg",
            providers: [.apt(["libturbojpeg0-dev"])]),
        // JPEG compression of pixel rectangles: the one Swift wrapper of CTurboJPEG.
        .target(name: "JPEG", dependencies: ["CTurboJPEG"]),
        // Pixel rectangles and their geometry, shared by the screen model and the RFB codec.
        .target(name: "ScreenGeometry"),
        // RFB 3.8 (RFC 6143): handshake, client messages, encoders. Pure: no sockets, no clock.
        .target(name: "RFBWire", dependencies: ["Zlib", "JPEG", "ScreenGeometry"]),
        // The shared screen: surfaces, layout, focus, preemption, damage, keypad mapping, PNG. Pure; it does not
        // depend on the RFB codec.
        .target(name: "Framebuffer", dependencies: ["Zlib", "ScreenGeometry"]),
        // The framebuffer guest channel's commands and events (Protocols/framebuffer.md §3): a pure codec.
        .target(name: "FramebufferWire"),
        .target(name: "Wire"),
        .target(name: "GuestWire", dependencies: ["Wire"]),
        // The key service's messages (Protocols/keyservice.md), carried on guest links: pure.
        .target(name: "KeyServiceWire"),
        // AT command lines, result codes and SMS PDUs (3GPP TS 27.007 / 27.005 / 23.040): pure codecs.
        .target(name: "ATWire"),
        // The built-in network simulator behind the modem's AT interface: pure, driven by a clock seam.
        .target(name: "Modem", dependencies: ["ATWire"]),
        // Ethernet framings, 802.1Q, VXLAN, pcap, frame patterns (pure codecs).
        .target(name: "EthernetWire", dependencies: ["Wire"]),
        // The virtual Ethernet switch: learning, VLANs, queues, impairments (pure, time passed in).
        .target(
            name: "Ethernet", dependencies: ["EthernetWire", "CCacheHint"], swiftSettings: hotPathSettings),
        // A processor cache hint Swift cannot express (a prefetch); header only, no library.
        .systemLibrary(name: "CCacheHint", path: "Sources/CCacheHint"),
        // A JSON value with a strict parser and a canonical serializer, shared by the control
        // protocol and the event model (Foundation's JSONSerialization loses integer/bool identity).
        .target(name: "JSON"),
        .target(name: "ControlWire", dependencies: ["Wire", "JSON"]),
        // Hub-wide event log: sequence numbers, topic filters, replay ring, bounded per-client outboxes.
        .target(name: "Events", dependencies: ["JSON"]),
        // The management command envelope (Protocols/management.md §2): a pure codec, no cryptography.
        .target(name: "ManagementWire"),
        // Verifying management commands (Protocols/management.md §4): authorities, k-of-n Ed25519 signatures,
        // counters, expiry, grants, key rotation, the audit log. Pure: time passed in, persistence the caller's.
        .target(
            name: "Management",
            dependencies: [
                "ManagementWire", "PlatformConfig", "JSON", .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // libyaml's event parser (Debian libyaml-dev); only the YAML module imports it.
        .systemLibrary(
            name: "CLibYAML", path: "Sources/CLibYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // YAML text to a node tree (scalars keep their text and style), bounded against hostile documents: the
        // one Swift wrapper of CLibYAML, without Foundation (which would bring its internationalisation data).
        .target(name: "YAML", dependencies: ["CLibYAML"]),
        // Configuration values, their validation, `Limits` and the reference handset: pure, no YAML parser, no I/O.
        .target(name: "PlatformConfig", dependencies: ["Endpoints"]),
        // Reads a configuration: YAML decoding (the YAML module's node tree, aliases bounded while composing) and
        // the files it names (the configuration itself, secret files), resolved after decoding.
        .target(name: "PlatformConfigLoader", dependencies: ["PlatformConfig", "JSON", "YAML"]),
        // The pure platform model: no I/O, no clock reads; the server converts its actions and events.
        .target(name: "Hypervisor", dependencies: ["PlatformConfig"], swiftSettings: hotPathSettings),
        // The virtualised power model (Protocols/power.md): partitions' states and wake locks, the platform
        // state, the battery integrated over time. Pure: time passed in.
        .target(name: "Power", dependencies: ["PlatformConfig"]),
        // What the hub offers a device (Sources/ARCHITECTURE.md, "Where a new device goes"): the device
        // protocol, guest channels, control methods as tables, the host protocol, deferred waits, admission and
        // the byte-stream protocol. Device modules import this, never HubServer.
        .target(
            name: "DeviceKit",
            dependencies: [
                "EventLoop", "ControlWire", "JSON", "GuestWire", "PlatformConfig",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The virtual Ethernet device: segments, their ports' transports, the eth.* methods (Protocols/ethernet.md).
        .target(
            name: "EthernetServer",
            dependencies: [
                "DeviceKit", "HubSystem", "Ethernet", "EthernetWire", "EventLoop", "ControlWire", "JSON", "GuestWire",
                "PlatformConfig", "Wire",
            ],
            swiftSettings: hotPathSettings),
        // The HTTP/1.1 request head and responses, and the Prometheus text format (Protocols/http.md). Pure.
        .target(name: "HTTPWire"),
        // The HTTP listener: /metrics, /healthz, /readyz, the http.* methods (Protocols/http.md).
        .target(
            name: "HTTPEndpoint",
            dependencies: ["DeviceKit", "HTTPWire", "EventLoop", "ControlWire", "JSON", "PlatformConfig"]),
        // The framebuffer device: screens, RFB viewers, guest drawing channels, fb.* methods and waits.
        .target(
            name: "FramebufferServer",
            dependencies: [
                "DeviceKit", "HubSystem", "EventLoop", "ControlWire", "JSON", "GuestWire", "PlatformConfig", "RFBWire",
                "Framebuffer", "FramebufferWire", "Zlib", "ScreenGeometry",
            ]),
        // The modem-simulator link (Protocols/modem.md §6.1): frames, their decoder, the hello. Pure.
        .target(name: "ModemSimWire", dependencies: ["Wire", "JSON"]),
        // The modem device: AT ports, the guest channel, the modem.* methods, the remote-simulator link and
        // `hubd modem-sim` (Protocols/modem.md).
        .target(
            name: "ModemServer",
            dependencies: [
                "DeviceKit", "HubSystem", "ATWire", "Modem", "ModemSimWire", "EventLoop", "ControlWire", "JSON",
                "GuestWire",
                "PlatformConfig", .product(name: "Logging", package: "swift-log"),
            ]),
        // The management plane on DeviceKit (Protocols/management.md): verification, trusted state and audit log
        // in hub.stateDirectory, the mgmt.* methods.
        .target(
            name: "ManagementServer",
            dependencies: [
                "DeviceKit", "EventLoop", "Management", "ManagementWire", "HubSystem", "ControlWire", "GuestWire",
                "JSON", "PlatformConfig",
            ]),
        // Persistent per-partition error logs (Protocols/errorlog.md): the entry, its on-disk record with
        // torn-tail tolerant loading, and the bound. Pure: the glue does the file calls.
        .target(name: "ErrorLog", dependencies: ["Wire", "Zlib", "JSON"]),
        // The error logs on DeviceKit: guests' ERROR_REPORT, the hub's faults, files in hub.stateDirectory,
        // the errors.* methods.
        .target(
            name: "ErrorLogServer",
            dependencies: [
                "DeviceKit", "ErrorLog", "HubSystem", "EventLoop", "ControlWire", "GuestWire", "JSON", "PlatformConfig",
            ]),
        // Log output for operators: one JSON object per line (`hubd --log-format json`).
        .target(
            name: "HubLogging",
            dependencies: ["HubSystem", "JSON", .product(name: "Logging", package: "swift-log")]),
        // Software images and the two slots per launched partition, with probation and fallback
        // (Protocols/management.md, "Images"): manifests, content digests, the journal, the executor API.
        .target(
            name: "SoftwareSlots",
            dependencies: ["HubSystem", "JSON", .product(name: "Crypto", package: "swift-crypto")]),
        // The signed-command layer's executor on the software slots (verified command -> slot operation, refusal
        // codes of Protocols/management.md §4) and the software.* control methods; never HubServer.
        .target(
            name: "SoftwareCommands",
            dependencies: [
                "SoftwareSlots", "Management", "ManagementWire", "DeviceKit", "ControlWire", "JSON", "PlatformConfig",
            ]),
        // What the hub applies to a launched guest's process from its partition (scheduler, cgroup, memory),
        // and what it could not apply and why; through HubSystem.
        .target(name: "PartitionResources", dependencies: ["HubSystem", "JSON", "PlatformConfig"]),
        // Launching, watching and restarting partitions' guest processes (Protocols/control.md §10), through the
        // SupervisorHost the hub implements.
        .target(
            name: "PartitionSupervision",
            dependencies: [
                "EventLoop", "Endpoints", "HubSystem", "Hypervisor", "JSON", "PartitionResources", "PlatformConfig",
                "SoftwareSlots", "Wire", .product(name: "Logging", package: "swift-log"),
            ]),
        // How the hub's loop thread is scheduled (hub.realTimePriority) and the real-time budget that puts it at
        // normal scheduling while a load saturates it; through HubSystem.
        .target(name: "RealTimeScheduling", dependencies: ["HubSystem", "JSON"]),
        // The platform model's control methods (irq.raise, msg.send, link.*, partition.list/get/counters) on
        // DeviceKit's ControlMethod tables; the hub's sessions and supervisors only through PlatformControlHost.
        // On the loop thread only, like the server: release builds drop the run-time exclusivity checks.
        .target(
            name: "PlatformControl",
            dependencies: ["DeviceKit", "ControlWire", "JSON", "Hypervisor", "PlatformConfig", "Events"],
            swiftSettings: hotPathSettings),
        // The events control family (events.subscribe/unsubscribe/recent/wait) on DeviceKit's ControlMethod tables
        // and DeferredWaits; the hub's event log and sessions only through EventControlHost. Publishing visits every
        // matching subscription's fields per event: release builds drop the run-time exclusivity checks there.
        .target(
            name: "EventControl", dependencies: ["DeviceKit", "ControlWire", "Events", "JSON", "PlatformConfig"],
            swiftSettings: hotPathSettings),
        // The power device family (Protocols/power.md): the power model's glue on DeviceKit.
        .target(
            name: "PowerServer",
            dependencies: ["DeviceKit", "Power", "GuestWire", "ControlWire", "JSON", "PlatformConfig", "EventLoop"]),
        .target(
            name: "HubServer",
            dependencies: [
                "PowerServer", "DeviceKit", "EthernetServer", "HTTPEndpoint", "ModemServer", "ManagementServer",
                "Management", "ErrorLogServer",
                "EventLoop", "Wire",
                "GuestWire", "ControlWire", "JSON", "Events",
                "PlatformConfig",
                "Hypervisor",
                "ATWire", "Modem", "EthernetWire", "Ethernet", "RFBWire", "Framebuffer", "FramebufferServer",
                "HubSystem", "PlatformConfigLoader", "Zlib", "SoftwareSlots", "ManagementWire",
                "SoftwareCommands", "PartitionResources", "PartitionSupervision", "PlatformControl", "EventControl",
                "RealTimeScheduling", .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: hotPathSettings),
        // The blocking client socket the Swift clients share: connect with a time limit, write all, wait, read.
        .target(name: "ClientSocket", dependencies: ["Endpoints"]),
        .target(
            name: "HubGuest",
            dependencies: [
                "GuestWire", "ManagementWire", "Wire", "Endpoints", "ClientSocket", "KeyServiceWire",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(name: "HubControlClient", dependencies: ["ControlWire", "JSON", "Endpoints", "ClientSocket"]),
        // A control client inside the hub's own process, over a socketpair: for the control-router fuzzer and
        // tests, never hubd.
        .target(name: "HubServerTesting", dependencies: ["HubServer", "EventLoop", "HubSystem"]),
        .executableTarget(
            name: "hubd",
            dependencies: [
                "HubServer", "DeviceKit", "ModemServer", "PlatformConfig", "PlatformConfigLoader",
                "HubSystem", "HubLogging",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            linkerSettings: leanExecutableLink),
        .executableTarget(
            name: "hubctl",
            dependencies: [
                "HubControlClient", "ControlWire", "JSON", "Management", "ManagementWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // Load generator for Tools/benchmarks: guest ping-pong, floods, throughput, many guests.
        .executableTarget(name: "hubbench", dependencies: ["HubGuest", "GuestWire", "Ethernet"]),
        .target(name: "TestSupport", dependencies: ["Hypervisor", "Wire", "EventLoop"]),
        // Fakes for testing device glue without sockets: byte stream, guest-channel endpoint, control caller, host.
        .target(
            name: "DeviceKitTesting",
            dependencies: [
                "DeviceKit", "EventLoop", "ControlWire", "JSON", "GuestWire", "PlatformConfig",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The vector-file loader and the chunking verifier: standard library only, so codec tests stay pure.
        .target(name: "VectorSupport"),
        .testTarget(name: "VectorSupportTests", dependencies: ["VectorSupport"]),
        .testTarget(name: "EndpointsTests", dependencies: ["Endpoints"]),
        .testTarget(name: "ClientSocketTests", dependencies: ["ClientSocket", "Endpoints"]),
        .testTarget(name: "EventLoopTests", dependencies: ["EventLoop", "Endpoints", "TestSupport"]),
        .testTarget(name: "HubSystemTests", dependencies: ["HubSystem"]),
        .testTarget(
            name: "SoftwareSlotsTests",
            dependencies: [
                "SoftwareSlots", "HubSystem", "JSON", "VectorSupport", "SoftwareCommands", "Management",
                "ManagementWire",
            ]),
        .testTarget(
            name: "EventControlTests",
            dependencies: [
                "EventControl", "Events", "DeviceKit", "DeviceKitTesting", "EventLoop", "ControlWire", "JSON",
                "PlatformConfig",
            ]),
        .testTarget(
            name: "PlatformControlTests",
            dependencies: [
                "PlatformControl", "Hypervisor", "JSON", "PlatformConfig", "Events", "ControlWire", "TestSupport",
            ]),
        .testTarget(name: "PartitionResourcesTests", dependencies: ["PartitionResources", "HubSystem", "JSON"]),
        .testTarget(name: "RealTimeSchedulingTests", dependencies: ["RealTimeScheduling"]),
        .testTarget(name: "WireTests", dependencies: ["Wire", "VectorSupport"]),
        .testTarget(name: "GuestWireTests", dependencies: ["GuestWire", "Wire", "VectorSupport"]),
        .testTarget(
            name: "KeyServiceWireTests",
            dependencies: ["KeyServiceWire", "VectorSupport", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "ATWireTests", dependencies: ["ATWire", "Wire", "VectorSupport"]),
        .testTarget(name: "ModemTests", dependencies: ["Modem", "ATWire", "VectorSupport", "TestSupport"]),
        .testTarget(name: "HubGuestTests", dependencies: ["HubGuest", "GuestWire", "Wire"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "YAMLTests", dependencies: ["YAML", "VectorSupport"], exclude: ["Cases"]),
        .testTarget(name: "EthernetWireTests", dependencies: ["EthernetWire", "Wire", "VectorSupport"]),
        .testTarget(name: "EthernetTests", dependencies: ["Ethernet", "EthernetWire", "VectorSupport"]),
        .testTarget(name: "ControlWireTests", dependencies: ["ControlWire", "Wire", "JSON", "VectorSupport"]),
        .testTarget(name: "EventsTests", dependencies: ["Events", "JSON", "TestSupport"]),
        .testTarget(
            name: "ManagementServerTests",
            dependencies: [
                "ManagementServer", "Management", "ManagementWire", "DeviceKit", "DeviceKitTesting", "ControlWire",
                "GuestWire", "JSON", "PlatformConfig", .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(name: "ErrorLogTests", dependencies: ["ErrorLog", "VectorSupport", "JSON"]),
        .testTarget(
            name: "ErrorLogServerTests",
            dependencies: [
                "ErrorLogServer", "ErrorLog", "DeviceKit", "DeviceKitTesting", "ControlWire", "JSON", "PlatformConfig",
                "HubSystem", "GuestWire",
            ]),
        .testTarget(name: "ManagementWireTests", dependencies: ["ManagementWire", "VectorSupport"]),
        .testTarget(
            name: "ManagementTests",
            dependencies: [
                "Management", "ManagementWire", "PlatformConfig", "JSON", "VectorSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(name: "RFBWireTests", dependencies: ["RFBWire", "CZlib", "Zlib", "JPEG", "Wire", "VectorSupport"]),
        .testTarget(name: "FramebufferTests", dependencies: ["Framebuffer", "Wire", "Zlib", "VectorSupport"]),
        .testTarget(
            name: "PlatformConfigTests",
            dependencies: ["PlatformConfig", "PlatformConfigLoader", "JSON", "VectorSupport"]),
        .testTarget(
            name: "PowerServerTests",
            dependencies: [
                "PowerServer", "Power", "DeviceKit", "DeviceKitTesting", "ControlWire", "JSON", "PlatformConfig",
                "GuestWire",
            ]),
        .testTarget(
            name: "PowerTests", dependencies: ["Power", "PlatformConfig", "PlatformConfigLoader", "VectorSupport"]),
        .testTarget(name: "FramebufferWireTests", dependencies: ["FramebufferWire", "Wire", "VectorSupport"]),
        .testTarget(
            name: "FramebufferServerTests",
            dependencies: [
                "FramebufferServer", "DeviceKit", "DeviceKitTesting", "EventLoop", "ControlWire", "JSON", "GuestWire",
                "PlatformConfig", "RFBWire", "Framebuffer", "FramebufferWire", "Zlib", "ScreenGeometry",
                "VectorSupport",
            ]),
        .testTarget(name: "HypervisorTests", dependencies: ["Hypervisor", "PlatformConfig", "TestSupport"]),
        .testTarget(
            name: "DeviceKitTests",
            dependencies: ["DeviceKit", "DeviceKitTesting", "EventLoop", "ControlWire", "JSON", "PlatformConfig"]),
        .testTarget(name: "HTTPWireTests", dependencies: ["HTTPWire", "JSON", "VectorSupport"]),
        .testTarget(
            name: "HTTPEndpointTests",
            dependencies: [
                "HTTPEndpoint", "HTTPWire", "DeviceKit", "DeviceKitTesting", "EventLoop", "ControlWire", "JSON",
                "PlatformConfig",
            ]),
        .testTarget(name: "ModemSimWireTests", dependencies: ["ModemSimWire", "Wire", "JSON", "VectorSupport"]),
        .testTarget(
            name: "ModemServerTests",
            dependencies: [
                "ModemServer", "ModemSimWire", "DeviceKit", "DeviceKitTesting", "Modem", "ATWire", "EventLoop",
                "ControlWire", "JSON", "PlatformConfig",
            ]),
        .testTarget(
            name: "EthernetServerTests",
            dependencies: [
                "EthernetServer", "DeviceKit", "DeviceKitTesting", "Ethernet", "EthernetWire", "EventLoop",
                "ControlWire", "JSON", "PlatformConfig", "HubSystem",
            ]),
        .testTarget(
            name: "HubServerTests",
            dependencies: [
                "HubServer", "DeviceKit", "HubControlClient", "HubGuest", "EventLoop", "TestSupport", "HubSystem",
                "EthernetWire", "GuestWire", "JSON", "Modem", "PlatformConfig", "PlatformConfigLoader",
                "ManagementWire", "KeyServiceWire", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
