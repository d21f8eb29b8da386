import Endpoints
import EventLoop
import JSON
import PlatformConfig
import SoftwareSlots

/// What a `PartitionSupervisor` needs of the hub (`Sources/ARCHITECTURE.md`, modules): the loop its processes and
/// timers run on, where a launched guest attaches and where a QEMU guest's NIC and serial line go, whether the
/// partition's guest is attached or suspended by management, the software slots that choose what it runs, and a
/// way to publish its state changes. The hub implements it; nothing here reaches the hub otherwise.
package protocol SupervisorHost: AnyObject {
    var loop: Loop { get }
    var configuration: PlatformConfiguration { get }
    /// Where launched guests attach (`HANDSETHUB_GUEST_ENDPOINT`).
    var guestEndpointForChildren: Endpoint? { get }
    /// Where an Ethernet stream port listens (a QEMU guest's NIC).
    func ethernetStreamEndpoint(segment: String, port: String) -> Endpoint?
    func isAttached(_ partition: String) -> Bool
    /// Whether management has the partition suspended (`partition.suspend`).
    func isSuspended(_ partition: String) -> Bool
    /// Whether the partition's attached guest negotiated `mark-good` (`Protocols/guest.md` §9.4).
    func marksGood(_ partition: String) -> Bool
    /// The software slots, when the hub has a state directory for them.
    var softwareSlots: SoftwareSlots? { get }
    /// Publishes a supervisor event (`partition.state`, `Protocols/control.md` §10).
    func publishSupervisorEvent(_ kind: String, partition: String, data: JSON)
}
