extension PlatformConfiguration {
    /// The reference handset (`Sources/ARCHITECTURE.md`, "The reference handset"), the platform `hubd` runs without a
    /// configuration file.
    ///
    /// Its secrets are development secrets: fine while every endpoint is loopback, to be replaced
    /// (preferably with `secretFile`) before any endpoint is reachable from other machines.
    ///
    /// Built here in Swift so the model needs no YAML parser; `referenceYAML` is the same handset as text, and
    /// the tests check that loading that text gives exactly this value.
    package static let reference = PlatformConfiguration(
        platform: PlatformInfo(
            name: "reference-handset",
            description:
                "One-CPU handset: a baseband RTOS, Linux, a secure key partition and a management partition."),
        hub: HubSettings(),
        partitions: [
            PartitionConfig(
                name: "rtos", schedulingClass: .realTime, priority: 0, memoryBytes: 64 << 20,
                secret: "rtos-dev-secret", mayInterrupt: ["linux", "secure"], mayMessage: ["linux", "secure"],
                devices: [
                    DeviceGrant(device: "modem0", access: .dedicated), DeviceGrant(device: "fb0", access: .shared),
                    DeviceGrant(device: "lan0", access: .shared),
                ], heartbeatMs: 1000),
            PartitionConfig(
                name: "linux", schedulingClass: .fairShare, priority: 8, weight: 100, memoryBytes: 512 << 20,
                secret: "linux-dev-secret", mayInterrupt: ["rtos", "mgmt"],
                mayMessage: ["rtos", "secure", "mgmt"],
                devices: [DeviceGrant(device: "fb0", access: .shared), DeviceGrant(device: "lan0", access: .shared)]),
            PartitionConfig(
                name: "secure", schedulingClass: .realTime, priority: 1, memoryBytes: 16 << 20,
                secret: "secure-dev-secret", mayInterrupt: ["rtos", "linux"], mayMessage: ["rtos", "linux"]),
            PartitionConfig(
                name: "mgmt", schedulingClass: .fairShare, priority: 12, weight: 50, memoryBytes: 32 << 20,
                secret: "mgmt-dev-secret", mayInterrupt: ["rtos", "linux", "secure"],
                mayMessage: ["rtos", "linux", "secure"]),
        ],
        links: [
            LinkConfig(name: "rtos-linux", a: "rtos", b: "linux"),
            LinkConfig(name: "rtos-secure", a: "rtos", b: "secure"),
            LinkConfig(name: "linux-secure", a: "linux", b: "secure"),
            LinkConfig(name: "mgmt-rtos", a: "mgmt", b: "rtos"),
            LinkConfig(name: "mgmt-linux", a: "mgmt", b: "linux"),
            LinkConfig(name: "mgmt-secure", a: "mgmt", b: "secure"),
        ],
        regions: [
            RegionConfig(
                name: "shared-status", sizeBytes: 4096,
                grants: [
                    RegionGrant(partition: "rtos", access: .readWrite),
                    RegionGrant(partition: "linux", access: .readOnly),
                ], doorbellLine: 1)
        ],
        devices: DevicesConfig(
            ethernet: [
                SegmentConfig(
                    name: "lan0",
                    ports: [
                        EthernetPortConfig(name: "rtos", partition: "rtos"),
                        EthernetPortConfig(name: "linux", partition: "linux"),
                    ])
            ],
            modems: [ModemConfig(name: "modem0", owner: "rtos", backend: .builtin)],
            framebuffers: [
                FramebufferConfig(
                    name: "fb0", width: 480, height: 800, bitsPerPixel: 32,
                    rfbEndpoints: [.tcp(host: "127.0.0.1", port: 5900)],
                    layout: [
                        ScreenRegionConfig(name: "status-bar", owner: "rtos", x: 0, y: 0, width: 480, height: 40, z: 1),
                        ScreenRegionConfig(name: "apps", owner: "linux", x: 0, y: 40, width: 480, height: 760, z: 0),
                    ],
                    defaultFocus: "linux", preemptors: ["rtos"], frameDoneLine: 8, inputLine: 9, refreshHz: 60)
            ]))

    /// The reference handset as written in `Deploy/examples/reference-handset.yaml` (the tests keep the two equal).
    package static let referenceYAML: String = """
        # The reference handset: the platform hubd runs when no configuration is given.
        # It is the same model as the one built into hubd (`hubd --print-default-config` prints it in full).
        #
        # The secrets below are DEVELOPMENT secrets. They are acceptable only while every endpoint is on
        # loopback or a Unix socket; use secretFile with private files before exposing any endpoint.
        platform:
          name: reference-handset
          description: "One-CPU handset: a baseband RTOS, Linux, a secure key partition and a management partition."

        hub:
          controlEndpoints: [tcp:127.0.0.1:7400, unix:/tmp/handsethub/control.sock]
          guestEndpoints: [tcp:127.0.0.1:7401, unix:/tmp/handsethub/guest.sock]
          handshakeTimeoutMs: 5000

        partitions:
          # The telephony stack: always preempts, owns the modem and draws the status bar.
          - name: rtos
            class: real-time
            priority: 0
            memoryBytes: 64MiB
            secret: rtos-dev-secret
            mayInterrupt: [linux, secure]
            mayMessage: [linux, secure]
            devices:
              - {device: modem0, access: dedicated}
              - {device: fb0, access: shared}
              - {device: lan0, access: shared}
            heartbeatMs: 1000

          # The open OS: applications, the app region of the screen, the LAN.
          - name: linux
            class: fair-share
            priority: 8
            weight: 100
            memoryBytes: 512MiB
            secret: linux-dev-secret
            # The open OS reaches the secure partition only through messages: it may not interrupt it.
            mayInterrupt: [rtos, mgmt]
            mayMessage: [rtos, secure, mgmt]
            devices:
              - {device: fb0, access: shared}
              - {device: lan0, access: shared}

          # Holds the signing keys; answers rtos and linux.
          - name: secure
            class: real-time
            priority: 1
            memoryBytes: 16MiB
            secret: secure-dev-secret
            mayInterrupt: [rtos, linux]
            mayMessage: [rtos, linux]

          # Upgrades and logs; reaches everyone.
          - name: mgmt
            class: fair-share
            priority: 12
            weight: 50
            memoryBytes: 32MiB
            secret: mgmt-dev-secret
            mayInterrupt: [rtos, linux, secure]
            mayMessage: [rtos, linux, secure]

        links:
          - {name: rtos-linux, a: rtos, b: linux}
          - {name: rtos-secure, a: rtos, b: secure}
          - {name: linux-secure, a: linux, b: secure}
          - {name: mgmt-rtos, a: mgmt, b: rtos}
          - {name: mgmt-linux, a: mgmt, b: linux}
          - {name: mgmt-secure, a: mgmt, b: secure}

        regions:
          # The RTOS publishes signal strength, battery and call state; Linux reads it.
          - name: shared-status
            sizeBytes: 4KiB
            grants:
              - {partition: rtos, access: rw}
              - {partition: linux, access: ro}
            doorbellLine: 1

        devices:
          ethernet:
            - name: lan0
              mtu: 1500
              ports:
                - {name: rtos, partition: rtos}
                - {name: linux, partition: linux}
          modems:
            - name: modem0
              owner: rtos
              backend: builtin
          framebuffers:
            - name: fb0
              width: 480
              height: 800
              bitsPerPixel: 32
              # VNC viewers connect here (RFB 3.8, security None on loopback; see Protocols/framebuffer.md).
              rfbEndpoints: [tcp:127.0.0.1:5900]
              # The RTOS draws the status bar on top and may take the whole screen (an incoming call);
              # Linux draws the applications below it and has the keypad by default.
              layout:
                - {name: status-bar, owner: rtos, x: 0, y: 0, width: 480, height: 40, z: 1}
                - {name: apps, owner: linux, x: 0, y: 40, width: 480, height: 760, z: 0}
              defaultFocus: linux
              preemptors: [rtos]
              frameDoneLine: 8
              inputLine: 9
              refreshHz: 60
        """
}
