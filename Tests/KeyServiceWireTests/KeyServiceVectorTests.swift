import Crypto
import Foundation
import KeyServiceWire
import Testing
import VectorSupport

/// The Swift key service codec against the shared vectors (`Protocols/keyservice.md`,
/// `Protocols/vectors/keyservice/messages.vectors`): requests and responses decode to the vectors' values and
/// encode back to their bytes, malformed ones get the spec's status, and the signatures verify with the TEST key.
@Suite struct KeyServiceVectorTests {
    static let vectors: [TestVector] = (try? VectorSet("keyservice/messages.vectors").vectors) ?? []
    static let statusNames: [String: KeyServiceStatus] = [
        "ok": .ok, "malformed": .malformed, "bad_version": .badVersion, "unknown_op": .unknownOp,
        "not_permitted": .notPermitted, "not_found": .notFound, "too_large": .tooLarge, "storage_full": .storageFull,
    ]
    static let opNames: [String: KeyServiceOp] = [
        "public_key": .publicKey, "sign": .sign, "verify": .verify, "put": .put, "get": .get, "stats": .stats,
    ]
    /// The TEST key's seed (the vectors' header): 00 01 … 1f.
    static var publicKey: Curve25519.Signing.PublicKey {
        try! Curve25519.Signing.PrivateKey(rawRepresentation: Array(0..<32) as [UInt8]).publicKey
    }

    private func json(_ vector: TestVector, _ key: String) throws -> [String: Any] {
        try #require(
            JSONSerialization.jsonObject(with: Data(try vector.text(key).utf8), options: .fragmentsAllowed)
                as? [String: Any])
    }

    private func bytes(_ object: [String: Any], _ key: String) throws -> [UInt8] {
        let hex = try #require((object[key] as? [String: Any])?["hex"] as? String)
        return try #require(HexText.decode(hex))
    }

    private func request(_ object: [String: Any]) throws -> KeyServiceRequest {
        switch object["op"] as? String {
        case "public_key": return .publicKey
        case "stats": return .stats
        case "sign": return .sign(data: try bytes(object, "data"))
        case "verify": return .verify(signature: try bytes(object, "signature"), data: try bytes(object, "data"))
        case "put": return .put(name: try #require(object["name"] as? String), value: try bytes(object, "value"))
        case "get": return .get(name: try #require(object["name"] as? String))
        default: throw VectorFormatError.unreadable(path: "op \(String(describing: object["op"]))")
        }
    }

    private func response(_ object: [String: Any]) throws -> KeyServiceResponse {
        let op = (object["op"] as? String).flatMap { Self.opNames[$0] }
        let number = object["op"] as? Int ?? 0
        let raw = op?.rawValue ?? UInt8(clamping: number)
        let statusName = try #require(object["status"] as? String)
        let status = try #require(Self.statusNames[statusName])
        guard status == .ok else {
            return KeyServiceResponse(op: raw, status: status, reason: object["reason"] as! String)
        }
        let result: KeyServiceResult
        switch try #require(op) {
        case .publicKey: result = .publicKey(try bytes(object, "public_key"))
        case .sign: result = .signature(try bytes(object, "signature"))
        case .verify: result = .valid(try #require(object["valid"] as? Bool))
        case .put: result = .stored
        case .get: result = .value(try bytes(object, "value"))
        case .stats:
            func number(_ key: String) throws -> UInt64 { UInt64(try #require(object[key] as? Int)) }
            result = .stats(
                KeyServiceStats(
                    requests: try number("requests"), signatures: try number("signatures"),
                    refused: try number("refused"), malformed: try number("malformed"),
                    dropped: object["dropped"] == nil ? nil : try number("dropped")))
        }
        return KeyServiceResponse(op: raw, status: .ok, result: result)
    }

    @Test func theVectorsAreThere() { #expect(Self.vectors.count >= 30) }

    @Test(arguments: vectors.filter { $0["kind"] == "request" })
    func requests(_ vector: TestVector) throws {
        let payload = try vector.bytes()
        if vector["expect"] != nil {
            let expected = try request(try json(vector, "expect"))
            #expect(KeyServiceCodec.decodeRequest(payload) == .success(expected))
            #expect(KeyServiceCodec.encode(expected) == payload)
            // Chunking cannot matter for a whole-message codec, but a cut request is never accepted as another.
            for cut in 0..<payload.count {
                if case .success(let other) = KeyServiceCodec.decodeRequest(payload[..<cut]) {
                    #expect(other != expected || cut == payload.count)
                }
            }
        } else {
            let error = try json(vector, "error")
            guard case .failure(let failure) = KeyServiceCodec.decodeRequest(payload) else {
                Issue.record("\(vector.name) decoded")
                return
            }
            #expect(failure.status == Self.statusNames[error["status"] as! String])
            #expect(Int(failure.op) == error["op"] as? Int)
        }
    }

    @Test(arguments: vectors.filter { $0["kind"] == "response" })
    func responses(_ vector: TestVector) throws {
        let payload = try vector.bytes()
        guard vector["expect"] != nil else {
            guard case .failure(let failure) = KeyServiceCodec.decodeResponse(payload) else {
                Issue.record("\(vector.name) decoded")
                return
            }
            #expect(failure.status == .malformed)
            return
        }
        let object = try json(vector, "expect")
        let expected = try response(object)
        #expect(KeyServiceCodec.decodeResponse(payload) == .success(expected))
        // A decoder that ignored part of the bytes (`stats` counters it does not know) encodes what it kept.
        let encoded = vector["encodesAs"] != nil ? try vector.bytes("encodesAs") : payload
        #expect(KeyServiceCodec.encode(expected) == encoded)
        if case .signature(let signature) = expected.result {
            #expect(Self.publicKey.isValidSignature(signature, for: try bytes(object, "signed")))
            #expect(!Self.publicKey.isValidSignature(signature, for: try bytes(object, "signed") + [0]))
        }
        if case .publicKey(let key) = expected.result { #expect(key == Array(Self.publicKey.rawRepresentation)) }
    }

    @Test func hostileRequestsAreRefusedWithoutTrapping() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let length = Int.random(in: 0..<80, using: &generator)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if bytes.count >= 2, Bool.random(using: &generator) { bytes[0] = 1 }
            switch KeyServiceCodec.decodeRequest(bytes) {
            case .success(let request): #expect(KeyServiceCodec.encode(request) == bytes)
            case .failure: break
            }
            if case .success(let response) = KeyServiceCodec.decodeResponse(bytes) {
                // A stats result keeps the counters this version knows (at most five) and ignores a later
                // version's after them (`Protocols/keyservice.md` §3.2): those are not encoded again.
                var kept = bytes
                if case .stats = response.result, bytes.count > 3 + 5 * 8 { kept = Array(bytes.prefix(3 + 5 * 8)) }
                #expect(KeyServiceCodec.encode(response) == kept)
            }
        }
        // The case the random inputs above once hit: six counters, the sixth a later version's.
        let sixCounters: [UInt8] = [1, 6, 0] + [UInt8](repeating: 7, count: 48)
        if case .success(let response) = KeyServiceCodec.decodeResponse(sixCounters) {
            #expect(KeyServiceCodec.encode(response) == Array(sixCounters.prefix(43)))
        } else {
            Issue.record("a stats result of six counters was refused")
        }
    }
}
