extension Limits {
    /// The value of one limit, for listing limits through the control API.
    public func value(of field: Field) -> Int { field.get(self) }
}
