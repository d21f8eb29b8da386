import JSON

/// Where a partition's software comes from: its configured `launch` command, or slot `a` or `b` in the state
/// directory (`Protocols/management.md` §"Images", slots).
package enum SlotName: String, Sendable, Equatable, CaseIterable {
    case configured, a, b

    /// The slot an upgrade writes: the one of `a`/`b` that is neither active nor `self`.
    var other: SlotName { self == .a ? .b : .a }
}

/// What is known of the image in a slot.
package struct SlotImage: Sendable, Equatable {
    package var name: String
    package var version: UInt64
    package var digest: String
    package var launch: [String]

    init(_ manifest: ImageManifest) {
        name = manifest.name
        version = manifest.version
        digest = manifest.digest
        launch = manifest.launch
    }

    init?(_ json: JSON?) {
        guard let json, let name = json["name"]?.stringValue, let version = json["version"]?.uint64Value,
            let digest = json["digest"]?.stringValue, let launch = json["launch"]?.arrayValue
        else { return nil }
        self.name = name
        self.version = version
        self.digest = digest
        self.launch = launch.compactMap(\.stringValue)
    }

    var json: JSON {
        [
            "name": .string(name), "version": .uint(version), "digest": .string(digest),
            "launch": .array(launch.map { .string($0) }),
        ]
    }
}

/// One partition's journaled slot state, `<stateDirectory>/software/<partition>/slots.json`, replaced as a
/// whole by a durable rename at every transition, so a hub killed at any point finds either the state before
/// or the state after a transition.
package struct SlotState: Sendable, Equatable {
    package var active: SlotName = .configured
    package var previous: SlotName?
    /// A slot being written; its content is incomplete until the switch that clears this.
    package var writing: SlotName?
    package var images: [SlotName: SlotImage] = [:]
    /// The active slot is on probation: it has not yet attached and stayed up for `probationMs`.
    package var probation = false
    /// Starts of the image on probation, counted before each start (so a hub killed mid-probation counts too).
    package var attempts = 0
    /// The rollback index: the highest version this partition committed.
    package var highestVersion: UInt64?
    package var lastRollback: String?

    package init() {}

    init?(json: JSON) {
        guard let active = json["active"]?.stringValue.flatMap(SlotName.init(rawValue:)) else { return nil }
        self.active = active
        previous = json["previous"]?.stringValue.flatMap(SlotName.init(rawValue:))
        writing = json["writing"]?.stringValue.flatMap(SlotName.init(rawValue:))
        for slot in [SlotName.a, .b] { images[slot] = SlotImage(json["images"]?[slot.rawValue]) }
        probation = json["probation"]?.boolValue ?? false
        attempts = json["attempts"]?.intValue ?? 0
        highestVersion = json["highestVersion"]?.uint64Value
        lastRollback = json["lastRollback"]?.stringValue
    }

    package var journalJSON: JSON {
        var imageMembers = JSONObject()
        for slot in [SlotName.a, .b] { if let image = images[slot] { imageMembers[slot.rawValue] = image.json } }
        return [
            "active": .string(active.rawValue), "previous": previous.map { .string($0.rawValue) } ?? .null,
            "writing": writing.map { .string($0.rawValue) } ?? .null, "images": .object(imageMembers),
            "probation": .bool(probation), "attempts": .int(Int64(attempts)),
            "highestVersion": highestVersion.map { .uint($0) } ?? .null,
            "lastRollback": lastRollback.map { .string($0) } ?? .null,
        ]
    }
}
