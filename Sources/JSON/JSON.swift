/// A JSON value (RFC 8259) that keeps what Foundation's `JSONSerialization` loses: integers stay
/// integers, booleans stay booleans, and object members keep the order in which they were written.
///
/// Used by the control protocol (`Protocols/control.md`) and the hub-wide event model.
/// Parse with ``JSON/parse(_:maxDepth:)``; write with ``JSON/serialized()`` or ``JSON/serializedBytes()``.
///
/// Equality of objects ignores member order (two objects are equal when they hold the same keys
/// with equal values); `.int(1)` and `.double(1)` are different values.
package enum JSON: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in 64 bits.
    case int(Int64)
    /// Any other number. Always finite when produced by the parser.
    case double(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)
}
