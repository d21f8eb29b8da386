extension Limits {
    /// The value of one limit, for listing limits through the control API.
    package func value(of field: Field) -> Int { field.get(self) }
}

extension Limits.Field {
    /// Sets this limit in `limits`: the loader decodes `hub.limits` field by field.
    package func assign(_ value: Int, in limits: inout Limits) { set(&limits, value) }
}
