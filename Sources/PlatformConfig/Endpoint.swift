// The endpoint type lives in the pure `Endpoints` module, which the event loop and the clients share without
// pulling in YAML; the configuration keeps its names for it.
import Endpoints

package typealias Endpoint = Endpoints.Endpoint
package typealias EndpointParseError = Endpoints.EndpointParseError
