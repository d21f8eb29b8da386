extension PlatformConfiguration {
    /// The reference handset of DESIGN.md §1, the platform `hubd` runs without a configuration file.
    ///
    /// Its secrets are development secrets: they are fine while every endpoint is loopback, and must be
    /// replaced (preferably with `secretFile`) before a guest endpoint is exposed beyond this machine.
    public static let reference: PlatformConfiguration = referenceModel

    /// Step-1 stand-in: built in Swift until the YAML decoder lands.
    static var referenceModel: PlatformConfiguration {
        PlatformConfiguration(
            platform: PlatformInfo(
                name: "reference-handset",
                description: "One-CPU handset: baseband RTOS, Linux, a secure key partition and a management partition."
            ),
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
                    secret: "linux-dev-secret", mayInterrupt: ["rtos", "secure", "mgmt"],
                    mayMessage: ["rtos", "secure", "mgmt"],
                    devices: [
                        DeviceGrant(device: "fb0", access: .shared), DeviceGrant(device: "lan0", access: .shared),
                    ]),
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
                framebuffers: [FramebufferConfig(name: "fb0", width: 480, height: 800, bitsPerPixel: 32)]
            )
        )
    }
}
