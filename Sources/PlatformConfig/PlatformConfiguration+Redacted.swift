// What `hub.config` shows control clients (`Protocols/control.md`, hub.config): the configuration without secrets.
extension PlatformConfiguration {
    /// The configuration with every secret and token replaced, for showing to control clients.
    package var redacted: PlatformConfiguration {
        var copy = self
        if copy.hub.controlToken != nil { copy.hub.controlToken = "<redacted>" }
        for index in copy.partitions.indices {
            copy.partitions[index].secret = "<redacted>"
            copy.partitions[index].secretFile = nil
        }
        return copy
    }
}
