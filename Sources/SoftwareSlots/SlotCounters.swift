import JSON

/// What the software slots count (`software.status` `counters`).
package struct SlotCounters: Sendable, Equatable {
    package var upgradesStarted: UInt64 = 0
    package var upgradesCommitted: UInt64 = 0
    package var rollbacksAutomatic: UInt64 = 0
    package var rollbacksRequested: UInt64 = 0
    package var backups: UInt64 = 0
    package var installs: UInt64 = 0
    package var removals: UInt64 = 0
    package var refusals: [String: UInt64] = [:]

    mutating func refused(_ code: SlotRefusal.Code) { refusals[code.rawValue, default: 0] += 1 }

    var json: JSON {
        [
            "upgradesStarted": .uint(upgradesStarted), "upgradesCommitted": .uint(upgradesCommitted),
            "rollbacksAutomatic": .uint(rollbacksAutomatic), "rollbacksRequested": .uint(rollbacksRequested),
            "backups": .uint(backups), "installs": .uint(installs), "removals": .uint(removals),
            "refusals": .object(JSONObject(refusals.sorted { $0.key < $1.key }.map { ($0.key, JSON.uint($0.value)) })),
        ]
    }
}

extension SoftwareSlots {
    /// `software.status`: every managed partition's slots, versions, probation and last rollback.
    package var statusJSON: JSON {
        var partitions = JSONObject()
        for name in states.keys.sorted() {
            guard let state = states[name] else { continue }
            partitions[name] = partitionJSON(name, state)
        }
        return [
            "partitions": .object(partitions), "counters": counters.json,
            "probationMs": .int(Int64(settings.probationMs)),
            "maxStartAttempts": .int(Int64(settings.maxStartAttempts)),
        ]
    }

    private func partitionJSON(_ name: String, _ state: SlotState) -> JSON {
        var slots = JSONObject()
        for slot in [SlotName.a, .b] { slots[slot.rawValue] = state.images[slot]?.json ?? .null }
        return [
            "active": .string(state.active.rawValue),
            "version": state.images[state.active].map { .uint($0.version) } ?? .null,
            "digest": state.images[state.active].map { .string($0.digest) } ?? .null,
            "previous": state.previous.map { .string($0.rawValue) } ?? .null,
            "slots": .object(slots),
            "probation": state.probation
                ? ["attempts": .int(Int64(state.attempts)), "maxStartAttempts": .int(Int64(settings.maxStartAttempts))]
                : .null,
            "highestVersion": state.highestVersion.map { .uint($0) } ?? .null,
            "operationRunning": .bool(running.contains(name)),
            "lastRollback": state.lastRollback.map { .string($0) } ?? .null,
            "optional": .array(optionalSoftware(name).map { .string($0) }),
        ]
    }
}
