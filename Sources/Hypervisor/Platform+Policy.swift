import PlatformConfig

/// Switching policy (`Protocols/policy.md` §3): the new policy, computed whole beforehand
/// (`EffectivePolicy.compute`), replaces every permission in one call on the loop's thread, so no send or raise
/// is judged by a mix of the two. What was accepted before the switch was judged once, by the policy then in
/// force, and is kept: queued messages are delivered, latched interrupts stay pending.
extension Platform {
    /// Puts `new` in force and returns what changed. Sends on a link that becomes forbidden lose their credit (the
    /// next `MSG_SEND` is answered `not_permitted`); a sender that may send again gets credit for every free slot
    /// (`CREDIT`). The links whose budget changes get it in the same step, each sender keeping the tokens it holds up
    /// to the new burst. Suspension, device grants and Ethernet ports are the hub's to carry out from the diff.
    @discardableResult
    package func applyPolicy(_ new: EffectivePolicy, actions: inout [Action]) -> PolicyDiff {
        let diff = new.diff(from: policy)
        policy = new
        for partition in partitions {
            partition.mayInterrupt = new.mayInterrupt[partition.name] ?? []
            partition.mayMessage = new.mayMessage[partition.name] ?? []
        }
        for link in links {
            for direction in 0..<2 {
                let sender = partitions[link.sender(of: direction)]
                let receiver = partitions[link.receiver(of: direction)]
                let may =
                    sender.mayMessage.contains(receiver.name)
                    && (link.runtime || !new.forbiddenLinks.contains(link.name))
                guard may != link.senderMayMessage[direction] else { continue }
                link.senderMayMessage[direction] = may
                if may {
                    grantCredit(link: link, direction: direction, actions: &actions)
                } else {
                    link.directions[direction].senderCredit = 0
                }
            }
        }
        for change in diff.ratesChanged {
            guard let index = linkIndex[change.link], !links[index].runtime else { continue }
            links[index].changeRateLimit(change.to, now: scheduler.now)
        }
        return diff
    }

    /// A partition's peers under the policy in force: the configured ones it still has, in configuration order,
    /// then those a profile added, sorted (`WELCOME` lists them).
    func policyOrder(_ configured: [String], _ effective: Set<String>) -> [String] {
        let kept = configured.filter { effective.contains($0) && partitionIndex[$0] != nil }
        return kept + effective.subtracting(kept).filter { partitionIndex[$0] != nil }.sorted()
    }
}
