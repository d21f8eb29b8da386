import ScreenGeometry

/// A rectangle on the screen. The compositor and the RFB encoders (`RFBRect`) share this one type from
/// `ScreenGeometry`, so neither depends on the other.
package typealias ScreenRect = PixelRect

/// Damage waiting for one consumer: a short list of rectangles that collapses to their bounding box
/// when it grows past `maxRects` (a slow viewer gets fewer, larger updates, never an unbounded list).
package struct DamageList: Sendable, Equatable {
    package private(set) var rects: [ScreenRect] = []
    package let maxRects: Int

    package init(maxRects: Int = 16) {
        self.maxRects = max(1, maxRects)
    }

    package var isEmpty: Bool { rects.isEmpty }

    package var bounds: ScreenRect {
        rects.reduce(ScreenRect(x: 0, y: 0, width: 0, height: 0)) { $0.union($1) }
    }

    package mutating func add(_ rect: ScreenRect) {
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

    package mutating func removeAll() { rects.removeAll(keepingCapacity: true) }
}
