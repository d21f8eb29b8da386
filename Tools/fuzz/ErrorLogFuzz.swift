// libFuzzer entry for the error-log file reader (Protocols/errorlog.md §4): every partition's file is read by it
// at start, whatever a crash, a full disk or a hand edit left there. Built by run-errorlog-fuzz.sh from the
// ErrorLog sources and the modules they import (Wire, Zlib, JSON) as one module.
//
// Properties checked beyond "does not crash":
// - the records read re-encode to exactly the bytes they came from, and the torn tail is the rest;
// - sequence numbers strictly ascend and every field is within its bounds;
// - a log built from what was read holds its bound.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzErrorLog(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // SAFETY: libFuzzer guarantees `data` points at `size` readable bytes for the duration of the call.
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let contents = try? ErrorLogFile.parse(bytes[...]) else { return 0 }
    var records: [UInt8] = []
    var previous: UInt64 = 0
    for entry in contents.entries {
        precondition(entry.sequence > previous && entry.sequence >= contents.base, "sequences do not ascend")
        precondition((1...ErrorLogFile.maxCodeBytes).contains(entry.code.utf8.count))
        precondition(entry.text.utf8.count <= ErrorLogFile.maxTextBytes)
        previous = entry.sequence
        records += ErrorLogFile.record(entry)
    }
    let end = bytes.count - contents.tornBytes
    precondition(end >= ErrorLogFile.headerBytes, "torn tail reaches into the header")
    precondition(Array(bytes[ErrorLogFile.headerBytes..<end]) == records, "records not canonical")
    let log = PartitionErrorLog(bound: ErrorLogBound(maxEntries: 3, maxBytes: 2048), contents: contents)
    precondition(log.count <= 3 && (log.bytes <= 2048 || log.count == 1), "bound not held")
    precondition(log.nextSequence > (log.entries.last?.sequence ?? 0))
    return 0
}
