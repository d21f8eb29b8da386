import JSON
import ManagementWire
import PlatformConfig

/// A partition created by a `provision` command (`Protocols/management.md` §9): its policy (secret included)
/// and where it came from. The hub keeps these in its trusted state so they survive restarts.
package struct ProvisionedPartition: Equatable, Sendable {
    package var config: PartitionConfig
    /// The authority whose budget it counts against (the only one that may deprovision it).
    package var authority: String
    /// The counter of the command that created it.
    package var counter: UInt64
    /// When it was created, Unix milliseconds.
    package var createdAtMs: UInt64

    package init(config: PartitionConfig, authority: String, counter: UInt64, createdAtMs: UInt64) {
        self.config = config
        self.authority = authority
        self.counter = counter
        self.createdAtMs = createdAtMs
    }
}

/// The pure half of provisioning: reading a `provision` command's parameters, checking them against the
/// authority's budget, building the new partition's policy, and the state file's JSON. The hub supplies the
/// secret and carries the result out (`Protocols/management.md` §9).
package enum Provisioning {
    /// The parameters `provision` takes; all optional but `memoryBytes`.
    package static let parameterNames: Set<String> = [
        "class", "devices", "mayInterrupt", "mayMessage", "mayOpenLinks", "memoryBytes", "priority",
    ]
    /// At most this many names in one list parameter (more than any budget can grant).
    static let maxListEntries = 64

    /// The policy of the partition `command` asks for, or the refusal: `bad_parameters` (malformed),
    /// `name_taken` (any partition of the model has the name), `budget_exceeded` (one partition or one byte of
    /// memory too many for the authority), `not_in_budget` (a class, priority, device or peer the budget does
    /// not allow). `existing` are the names of every partition of the model; `provisioned` the partitions the
    /// hub provisioned so far (all authorities).
    package static func plan(
        _ command: ManagementCommand, budget: ProvisioningBudget?, existing: Set<String>,
        provisioned: [ProvisionedPartition], secret: String
    ) -> Result<PartitionConfig, ManagementRefusal> {
        let name = command.target
        guard let budget, budget.admitsName(name) else {
            return .failure(ManagementRefusal("not_authorised", "'\(command.authority)' has no budget for '\(name)'"))
        }
        if let extra = command.parameters.first(where: { !parameterNames.contains($0.key) }) {
            return .failure(ManagementRefusal("bad_parameters", "provision does not take the parameter \(extra.key)"))
        }
        guard command.softwareSHA256 == nil else {
            return .failure(ManagementRefusal("bad_parameters", "provision carries no software SHA-256"))
        }
        let request: Request
        switch Request.parse(command, budget: budget) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let parsed): request = parsed
        }
        if existing.contains(name) || provisioned.contains(where: { $0.config.name == name }) {
            return .failure(ManagementRefusal("name_taken", "a partition named '\(name)' exists"))
        }
        if let refusal = request.outsideBudget(budget) { return .failure(refusal) }
        let mine = provisioned.filter { $0.authority == command.authority }
        guard mine.count < budget.maxPartitions else {
            return .failure(
                ManagementRefusal(
                    "budget_exceeded", "partitions: '\(command.authority)' has \(mine.count) of \(budget.maxPartitions)"
                ))
        }
        var used: UInt64 = 0
        for partition in mine {
            let (sum, overflow) = used.addingReportingOverflow(partition.config.memoryBytes)
            used = overflow ? .max : sum
        }
        let (total, overflow) = used.addingReportingOverflow(request.memoryBytes)
        guard !overflow, total <= budget.maxMemoryBytes else {
            return .failure(
                ManagementRefusal(
                    "budget_exceeded",
                    "memoryBytes: \(used) in use + \(request.memoryBytes) asked > \(budget.maxMemoryBytes)"))
        }
        return .success(
            PartitionConfig(
                name: name, schedulingClass: request.schedulingClass, priority: request.priority,
                memoryBytes: request.memoryBytes, secret: secret, mayInterrupt: request.mayInterrupt,
                mayMessage: request.mayMessage, mayOpenLinks: request.mayOpenLinks,
                devices: request.devices.map { DeviceGrant(device: $0, access: .shared) },
                restart: RestartPolicy(mode: .never)))
    }

    /// Checks a `deprovision` command: no parameters; the target must be a partition this hub provisioned
    /// (`not_provisioned`: a configured partition, or no partition) for the same authority (`not_authorised`).
    /// Returns the position of the record in `provisioned`.
    package static func checkDeprovision(_ command: ManagementCommand, provisioned: [ProvisionedPartition]) -> Result<
        Int, ManagementRefusal
    > {
        if let extra = command.parameters.first {
            return .failure(ManagementRefusal("bad_parameters", "deprovision does not take the parameter \(extra.key)"))
        }
        guard command.softwareSHA256 == nil else {
            return .failure(ManagementRefusal("bad_parameters", "deprovision carries no software SHA-256"))
        }
        guard let index = provisioned.firstIndex(where: { $0.config.name == command.target }) else {
            return .failure(
                ManagementRefusal("not_provisioned", "'\(command.target)' is not a partition provisioned at run time"))
        }
        guard provisioned[index].authority == command.authority else {
            return .failure(
                ManagementRefusal(
                    "not_authorised", "'\(command.target)' counts against '\(provisioned[index].authority)''s budget"))
        }
        return .success(index)
    }

    /// What a `provision` command asks for, parsed and range-checked before any conversion.
    struct Request {
        var schedulingClass: SchedulingClass
        var priority: Int
        var memoryBytes: UInt64
        var mayInterrupt: [String]
        var mayMessage: [String]
        var devices: [String]
        var mayOpenLinks: Bool

        static func parse(_ command: ManagementCommand, budget: ProvisioningBudget) -> Result<
            Request, ManagementRefusal
        > {
            func bad(_ detail: String) -> Result<Request, ManagementRefusal> {
                .failure(ManagementRefusal("bad_parameters", detail))
            }
            let classText = command.parameter("class") ?? budget.classes.first?.rawValue ?? ""
            guard let schedulingClass = SchedulingClass(rawValue: classText) else {
                return bad("class must be real-time or fair-share")
            }
            guard let memoryText = command.parameter("memoryBytes") else { return bad("provision needs memoryBytes") }
            // 20 decimal digits hold any UInt64; more, or anything but digits, is refused before converting.
            guard let memoryBytes = decimal(memoryText, maxDigits: 20),
                PartitionConfig.memoryRange.contains(memoryBytes), memoryBytes % PartitionConfig.pageBytes == 0
            else { return bad("memoryBytes must be whole 4096-byte pages within \(PartitionConfig.memoryRange)") }
            var priority = budget.maxPriority
            if let text = command.parameter("priority") {
                guard let value = decimal(text, maxDigits: 2), value <= UInt64(PartitionConfig.priorityRange.upperBound)
                else { return bad("priority must be decimal within \(PartitionConfig.priorityRange)") }
                priority = Int(value)
            }
            var mayOpenLinks = false
            if let text = command.parameter("mayOpenLinks") {
                guard text == "true" || text == "false" else { return bad("mayOpenLinks must be true or false") }
                mayOpenLinks = text == "true"
            }
            var lists: [[String]] = []
            for key in ["mayInterrupt", "mayMessage", "devices"] {
                guard let list = names(command.parameter(key)) else {
                    return bad("\(key) must be up to \(maxListEntries) distinct comma-separated names")
                }
                lists.append(list)
            }
            if lists[0].contains(command.target) || lists[1].contains(command.target) {
                return bad("a partition does not interrupt or message itself")
            }
            return .success(
                Request(
                    schedulingClass: schedulingClass, priority: priority, memoryBytes: memoryBytes,
                    mayInterrupt: lists[0], mayMessage: lists[1], devices: lists[2], mayOpenLinks: mayOpenLinks))
        }

        /// The first thing asked for that the budget does not allow (`not_in_budget`).
        func outsideBudget(_ budget: ProvisioningBudget) -> ManagementRefusal? {
            func refuse(_ detail: String) -> ManagementRefusal { ManagementRefusal("not_in_budget", detail) }
            if !budget.classes.contains(schedulingClass) { return refuse("class \(schedulingClass.rawValue)") }
            if priority < budget.minPriority || priority > budget.maxPriority {
                return refuse("priority \(priority) is outside \(budget.minPriority)...\(budget.maxPriority)")
            }
            for peer in mayInterrupt + mayMessage where !budget.peers.contains(peer) {
                return refuse("peer '\(peer)' may not be granted")
            }
            for device in devices where !budget.devices.contains(device) {
                return refuse("device '\(device)' may not be shared")
            }
            return nil
        }
    }

    /// A decimal number of at most `maxDigits` digits, checked before conversion; nil otherwise.
    static func decimal(_ text: String, maxDigits: Int) -> UInt64? {
        DecimalParameter.value(text, maxDigits: maxDigits)
    }

    /// A comma-separated list of distinct names (empty or absent: none); nil when malformed.
    static func names(_ text: String?) -> [String]? {
        guard let text, !text.isEmpty else { return [] }
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard items.count <= maxListEntries, Set(items).count == items.count,
            items.allSatisfy({ PartitionConfig.isValidName($0) })
        else { return nil }
        return items
    }
}

/// The state file's form (`hub.stateDirectory`/`provisioning/partitions.json`, `Protocols/management.md` §9).
extension Provisioning {
    package static func json(_ records: [ProvisionedPartition]) -> JSON {
        let entries: [JSON] = records.map { record in
            let config = record.config
            return [
                "name": .string(config.name), "authority": .string(record.authority),
                "counter": .string(String(record.counter)), "createdAtMs": .string(String(record.createdAtMs)),
                "class": .string(config.schedulingClass.rawValue), "priority": .int(Int64(config.priority)),
                "memoryBytes": .string(String(config.memoryBytes)), "secret": .string(config.secret),
                "mayInterrupt": .array(config.mayInterrupt.map { .string($0) }),
                "mayMessage": .array(config.mayMessage.map { .string($0) }),
                "mayOpenLinks": .bool(config.mayOpenLinks),
                "devices": .array(config.devices.map { .string($0.device) }),
            ]
        }
        return ["version": 1, "partitions": .array(entries)]
    }

    /// Reads the state file; nil when it is not one (the hub then refuses to start rather than forget a
    /// partition or issue its name twice).
    package static func records(from json: JSON) -> [ProvisionedPartition]? {
        guard json["version"]?.intValue == 1, let entries = json["partitions"]?.arrayValue else { return nil }
        var records: [ProvisionedPartition] = []
        for entry in entries {
            guard let name = entry["name"]?.stringValue, PartitionConfig.isValidName(name),
                let authority = entry["authority"]?.stringValue,
                let counter = entry["counter"]?.stringValue.flatMap({ decimal($0, maxDigits: 20) }),
                let created = entry["createdAtMs"]?.stringValue.flatMap({ decimal($0, maxDigits: 20) }),
                let schedulingClass = entry["class"]?.stringValue.flatMap(SchedulingClass.init(rawValue:)),
                let priority = entry["priority"]?.intValue, PartitionConfig.priorityRange.contains(Int(priority)),
                let memory = entry["memoryBytes"]?.stringValue.flatMap({ decimal($0, maxDigits: 20) }),
                PartitionConfig.memoryRange.contains(memory),
                let secret = entry["secret"]?.stringValue, !secret.isEmpty,
                let mayInterrupt = entry["mayInterrupt"]?.arrayValue?.compactMap(\.stringValue),
                let mayMessage = entry["mayMessage"]?.arrayValue?.compactMap(\.stringValue),
                let mayOpenLinks = entry["mayOpenLinks"]?.boolValue,
                let devices = entry["devices"]?.arrayValue?.compactMap(\.stringValue)
            else { return nil }
            let config = PartitionConfig(
                name: name, schedulingClass: schedulingClass, priority: Int(priority), memoryBytes: memory,
                secret: secret, mayInterrupt: mayInterrupt, mayMessage: mayMessage, mayOpenLinks: mayOpenLinks,
                devices: devices.map { DeviceGrant(device: $0, access: .shared) }, restart: RestartPolicy(mode: .never))
            // One name once: a file naming a partition twice is not one the hub wrote.
            guard !records.contains(where: { $0.config.name == name }) else { return nil }
            records.append(
                ProvisionedPartition(config: config, authority: authority, counter: counter, createdAtMs: created))
        }
        return records
    }
}
