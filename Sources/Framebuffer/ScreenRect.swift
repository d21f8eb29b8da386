import RFBWire

/// Screen rectangles are RFB rectangles: the compositor and the RFB encoders share one type.
public typealias ScreenRect = RFBRect

extension RFBRect {
    public var isEmpty: Bool { width <= 0 || height <= 0 }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var area: Int { isEmpty ? 0 : width * height }

    public func intersection(_ other: RFBRect) -> RFBRect {
        let left = max(x, other.x)
        let top = max(y, other.y)
        let right = min(maxX, other.maxX)
        let bottom = min(maxY, other.maxY)
        guard right > left, bottom > top else { return RFBRect(x: 0, y: 0, width: 0, height: 0) }
        return RFBRect(x: left, y: top, width: right - left, height: bottom - top)
    }

    public func intersects(_ other: RFBRect) -> Bool { !intersection(other).isEmpty }

    public func contains(_ other: RFBRect) -> Bool {
        other.x >= x && other.y >= y && other.maxX <= maxX && other.maxY <= maxY
    }

    /// The bounding box of both.
    public func union(_ other: RFBRect) -> RFBRect {
        if isEmpty { return other }
        if other.isEmpty { return self }
        let left = min(x, other.x)
        let top = min(y, other.y)
        return RFBRect(x: left, y: top, width: max(maxX, other.maxX) - left, height: max(maxY, other.maxY) - top)
    }
}

/// Damage waiting for one consumer: a short list of rectangles that collapses to their bounding box
/// when it grows past `maxRects` (a slow viewer gets fewer, larger updates, never an unbounded list).
public struct DamageList: Sendable, Equatable {
    public private(set) var rects: [ScreenRect] = []
    public let maxRects: Int

    public init(maxRects: Int = 16) {
        self.maxRects = max(1, maxRects)
    }

    public var isEmpty: Bool { rects.isEmpty }

    public var bounds: ScreenRect {
        rects.reduce(ScreenRect(x: 0, y: 0, width: 0, height: 0)) { $0.union($1) }
    }

    public mutating func add(_ rect: ScreenRect) {
        guard !rect.isEmpty else { return }
        if rects.contains(where: { $0.contains(rect) }) { return }
        var merged = rect
        // Absorb rectangles the new one covers, or that merge cheaply (bounding box wastes little).
        var index = 0
        while index < rects.count {
            let other = rects[index]
            let box = merged.union(other)
            if merged.contains(other) || (merged.intersects(other) && box.area <= merged.area + other.area) {
                merged = box
                rects.remove(at: index)
                index = 0
                continue
            }
            index += 1
        }
        rects.append(merged)
        if rects.count > maxRects { rects = [bounds] }
    }

    public mutating func removeAll() { rects.removeAll(keepingCapacity: true) }
}
