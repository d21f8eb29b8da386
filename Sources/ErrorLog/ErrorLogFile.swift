import Wire
import Zlib

/// The on-disk form of one partition's error log (`Protocols/errorlog.md` §4): a header, then records
/// appended one at a time. Pure: bytes in, values out; the hub's glue does the file calls.
///
/// A hub killed in the middle of an append leaves a torn last record. Loading stops at the first record that
/// does not read back whole and intact (length, CRC-32, fields), keeps every record before it and reports the
/// rest as the torn tail, so a crash never costs more than the entry being written.
package enum ErrorLogFile {
    /// `HHEL`.
    package static let magic: [UInt8] = [0x48, 0x48, 0x45, 0x4c]
    package static let version: UInt8 = 1
    /// Magic, version, 3 reserved bytes, base sequence, dropped count.
    package static let headerBytes = 24
    /// Length and CRC-32 before each record's body.
    package static let recordPrefixBytes = 8
    /// The shortest body: empty text, one-byte code.
    package static let minBodyBytes = 23
    /// The longest body: 64-byte code, 1024-byte text.
    package static let maxBodyBytes = 1 + 8 + 8 + 1 + 1 + 1 + maxCodeBytes + 2 + maxTextBytes
    package static let maxCodeBytes = 64
    package static let maxTextBytes = 1024

    /// The header: `base` is the smallest sequence number a record of the file may carry, `dropped` the entries
    /// the bound had dropped when the file was written.
    package static func header(base: UInt64, dropped: UInt64) -> [UInt8] {
        var writer = ByteWriter()
        writer.writeBytes(magic)
        writer.writeU8(version)
        writer.writeBytes([0, 0, 0])
        writer.writeU64BE(base)
        writer.writeU64BE(dropped)
        return writer.bytes
    }

    /// One record: length, CRC-32 of the body, body (§4.2).
    package static func record(_ entry: ErrorLogEntry) -> [UInt8] {
        var body = ByteWriter()
        body.writeU8(version)
        body.writeU64BE(entry.sequence)
        body.writeU64BE(entry.timeMs)
        body.writeU8(entry.source.rawValue)
        body.writeU8(entry.severity.rawValue)
        let code = Array(entry.code.utf8.prefix(maxCodeBytes))
        body.writeU8(UInt8(code.count))
        body.writeBytes(code)
        let text = Array(entry.text.utf8.prefix(maxTextBytes))
        body.writeU16BE(UInt16(text.count))
        body.writeBytes(text)
        var out = ByteWriter()
        out.writeU32BE(UInt32(body.bytes.count))
        out.writeU32BE(Zlib.crc32(body.bytes[...]))
        out.writeBytes(body.bytes)
        return out.bytes
    }

    /// What a file holds, before the bound is applied.
    package struct Contents: Sendable, Equatable {
        package var base: UInt64
        package var dropped: UInt64
        package var entries: [ErrorLogEntry]
        /// Bytes after the last intact record (0 for a file that ends cleanly).
        package var tornBytes: Int
        /// Why the tail was not read (nil when there is none): a kind of §4.3.
        package var tornKind: String?
    }

    /// Sequence numbers, `base` and `dropped` read from a file are below this (§4.3): counting on from there cannot
    /// overflow in any lifetime, and every count stays a JSON integer of the control API (`Protocols/control.md`
    /// §1). A damaged or forged header at 2^64 - 1 used to trap the hub at the partition's next entry.
    package static let sequenceLimit: UInt64 = 1 << 62

    /// Reads a whole file. A header that is not one (`bad_header`) is an error; anything wrong after it ends
    /// the records there (the torn tail).
    package static func parse(_ bytes: ArraySlice<UInt8>) throws(ErrorLogFileError) -> Contents {
        guard bytes.count >= headerBytes else { throw ErrorLogFileError(kind: "bad_header", detail: "too short") }
        let start = bytes.startIndex
        guard Array(bytes[start..<start + 4]) == magic else {
            throw ErrorLogFileError(kind: "bad_header", detail: "not an error log (magic)")
        }
        guard bytes[start + 4] == version else {
            throw ErrorLogFileError(kind: "bad_header", detail: "version \(bytes[start + 4])")
        }
        var reader = ByteReader(bytes[(start + 8)...])
        guard let base = try? reader.readU64BE(), let dropped = try? reader.readU64BE() else {
            throw ErrorLogFileError(kind: "bad_header", detail: "too short")
        }
        guard base < sequenceLimit && dropped < sequenceLimit else {
            throw ErrorLogFileError(kind: "bad_header", detail: "base or dropped at or above 2^62")
        }
        var contents = Contents(base: base, dropped: dropped, entries: [], tornBytes: 0, tornKind: nil)
        var offset = start + headerBytes
        while offset < bytes.endIndex {
            switch readRecord(bytes[offset...], after: contents.entries.last?.sequence ?? 0, base: base) {
            case .success(let (entry, length)):
                contents.entries.append(entry)
                offset += length
            case .failure(let kind):
                contents.tornBytes = bytes.endIndex - offset
                contents.tornKind = kind.rawValue
                return contents
            }
        }
        return contents
    }

    /// Why a record could not be read (§4.3).
    package enum RecordProblem: String, Error, Sendable {
        case truncated, badLength = "bad_length", badChecksum = "bad_checksum", badVersion = "bad_version"
        case badValue = "bad_value", badString = "bad_string", notAscending = "not_ascending"
        case trailingBytes = "trailing_bytes"
    }

    /// One record at the start of `bytes`: the entry and the bytes it took. `after` is the previous record's
    /// sequence number (sequences strictly ascend), `base` the header's.
    package static func readRecord(_ bytes: ArraySlice<UInt8>, after: UInt64, base: UInt64) -> Result<
        (ErrorLogEntry, Int), RecordProblem
    > {
        var reader = ByteReader(bytes)
        guard let length = try? reader.readU32BE(), let crc = try? reader.readU32BE() else {
            return .failure(.truncated)
        }
        // Checked before anything is sliced: a torn or garbage length never allocates.
        guard length >= minBodyBytes && length <= maxBodyBytes else { return .failure(.badLength) }
        guard let body = try? reader.readBytes(Int(length)) else { return .failure(.truncated) }
        guard Zlib.crc32(body) == crc else { return .failure(.badChecksum) }
        switch readBody(body) {
        case .failure(let problem): return .failure(problem)
        case .success(let entry):
            guard entry.sequence < sequenceLimit else { return .failure(.badValue) }
            guard entry.sequence > after && entry.sequence >= base && entry.sequence >= 1 else {
                return .failure(.notAscending)
            }
            return .success((entry, recordPrefixBytes + Int(length)))
        }
    }

    private static func readBody(_ body: ArraySlice<UInt8>) -> Result<ErrorLogEntry, RecordProblem> {
        var reader = ByteReader(body)
        do throws(DecodeError) {
            guard try reader.readU8() == version else { return .failure(.badVersion) }
            let sequence = try reader.readU64BE()
            let time = try reader.readU64BE()
            guard let source = ErrorLogSource(rawValue: try reader.readU8()),
                let severity = ErrorLogSeverity(rawValue: try reader.readU8())
            else { return .failure(.badValue) }
            let codeLength = Int(try reader.readU8())
            guard codeLength >= 1 && codeLength <= maxCodeBytes else { return .failure(.badLength) }
            guard let code = String(validating: try reader.readBytes(codeLength), as: UTF8.self) else {
                return .failure(.badString)
            }
            let textLength = Int(try reader.readU16BE())
            guard textLength <= maxTextBytes else { return .failure(.badLength) }
            guard let text = String(validating: try reader.readBytes(textLength), as: UTF8.self) else {
                return .failure(.badString)
            }
            guard reader.remaining == 0 else { return .failure(.trailingBytes) }
            return .success(
                ErrorLogEntry(
                    sequence: sequence, timeMs: time, source: source, severity: severity, code: code, text: text))
        } catch {
            return .failure(.truncated)
        }
    }
}

/// A file that is not an error log at all (its header): the glue sets it aside rather than guess.
package struct ErrorLogFileError: Error, Sendable, Equatable, CustomStringConvertible {
    package let kind: String
    package let detail: String
    package var description: String { "\(kind): \(detail)" }
}
