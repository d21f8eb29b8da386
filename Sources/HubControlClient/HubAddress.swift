// A control endpoint address as written in configurations, the ready file and `--hub`: every form
// `Endpoint(parsingClientAddress:)` accepts — `tcp:HOST:PORT` (IPv6 hosts in brackets: `tcp:[::1]:7400`),
// `HOST:PORT`, `unix:/path`, or a bare `/path` or `./path`.
import Endpoints

/// The control client's name for the shared `Endpoint`.
package typealias HubAddress = Endpoint

extension Endpoint {
    /// The default control endpoint of the reference handset.
    package static let defaultAddress = Endpoint.tcp(host: "127.0.0.1", port: 7400)
}
