import PlatformConfig

extension PlatformConfiguration {
    /// Reads the secrets this decoded configuration names by file (`partitions[].secretFile`,
    /// `devices.framebuffers[].passwordFile`; `Deploy/config-reference.md`, secrets), relative to `base` unless
    /// absolute. Decoding only records the names, so the values stay free of I/O; the files are read here, in
    /// decoding order, before validation. A file that cannot be read is an issue at its key, reported where
    /// decoding reached that key, and leaves the decoder's placeholder in place.
    mutating func resolveSecretFiles(relativeTo base: String?, reader: YAMLReader) {
        for index in partitions.indices {
            guard let name = partitions[index].secretFile else { continue }
            do {
                partitions[index].secret = try SecretFile.read(name, relativeTo: base)
            } catch {
                let path = YAMLReader.child(YAMLReader.element("partitions", index), "secretFile")
                reader.reportDeferred(path, error.description)
            }
        }
        for index in devices.framebuffers.indices {
            guard let name = devices.framebuffers[index].passwordFile else { continue }
            do {
                devices.framebuffers[index].password = try SecretFile.read(name, relativeTo: base)
            } catch {
                let path = YAMLReader.child(YAMLReader.element("devices.framebuffers", index), "passwordFile")
                reader.reportDeferred(path, error.description)
            }
        }
    }
}
