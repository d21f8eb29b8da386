/// One region of the screen's layout: a rectangle owned by one partition, stacked by `z`.
package struct LayoutRegion: Sendable, Equatable {
    package var name: String
    package var owner: String
    package var rect: ScreenRect
    /// Higher values are drawn on top.
    package var z: Int

    package init(name: String, owner: String, rect: ScreenRect, z: Int) {
        self.name = name
        self.owner = owner
        self.rect = rect
        self.z = z
    }
}

/// What a drawing command changed on the screen, for viewers to fetch.
package enum ScreenChange: Sendable, Equatable {
    /// These screen pixels changed.
    case damage(ScreenRect)
    /// The block at (`sourceX`, `sourceY`) moved to `destination` (RFB CopyRect).
    case move(sourceX: Int, sourceY: Int, destination: ScreenRect)
}

/// Ownership changes the hub turns into events (and guest notifications).
package enum OwnershipChange: Sendable, Equatable {
    case focus(from: String?, to: String?)
    case preempted(by: String)
    case released(by: String)
}

/// Why a drawing or ownership request was refused; `code` is a guest error code (`Protocols/guest.md` §5.5).
package struct FramebufferRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable {
        /// Guest error 15: the rectangle is not inside the surface.
        case outOfBounds
        /// Guest error 5: outside the partition's regions, or the action is not allowed.
        case notPermitted
        /// Guest error 8: the command does not decode (a PUT whose pixels are not w·h·4 bytes).
        case malformed
    }

    package var kind: Kind
    package var reason: String

    package init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    package var code: UInt16 {
        switch kind {
        case .outOfBounds: 15
        case .notPermitted: 5
        case .malformed: 8
        }
    }
    package var description: String { reason }
}

/// The shared screen: per-partition surfaces, the layout, focus and preemption, composed into `screen`.
///
/// Surfaces are screen-sized and drawn in screen coordinates; a partition may draw only inside one of
/// its regions, except while it preempts: then it draws a separate full-screen overlay that covers
/// everything and is discarded on release, so the picture underneath returns unchanged.
package struct Compositor: Sendable {
    package let width: Int
    package let height: Int
    /// Regions sorted by `z`, lowest first.
    package let regions: [LayoutRegion]
    /// Partitions allowed to preempt.
    package let preemptors: Set<String>
    package let defaultFocus: String?
    /// The composed screen, native pixels `0x00RRGGBB`.
    package private(set) var screen: [UInt32]
    /// Bumped whenever any screen pixel may have changed: encoded rectangles cached under one
    /// generation (`RFBRectCache`) are valid only while it stays the same.
    package private(set) var generation: UInt64 = 0
    package private(set) var focus: String?
    package private(set) var preemptor: String?
    private var focusBeforePreempt: String?
    private var surfaces: [String: Surface] = [:]
    private var overlay: Surface?
    /// Changes since the last `takeChanges()`.
    private var changes: [ScreenChange] = []

    package init(width: Int, height: Int, regions: [LayoutRegion], preemptors: Set<String>, defaultFocus: String?) {
        self.width = width
        self.height = height
        self.regions = regions.enumerated().sorted { ($0.element.z, $0.offset) < ($1.element.z, $1.offset) }.map(
            \.element)
        self.preemptors = preemptors
        self.defaultFocus = defaultFocus
        self.focus = defaultFocus
        screen = [UInt32](repeating: 0, count: width * height)
    }

    package var bounds: ScreenRect { ScreenRect(x: 0, y: 0, width: width, height: height) }

    /// Partitions that own at least one region, or may preempt.
    package var owners: [String] { Array(Set(regions.map(\.owner)).union(preemptors)).sorted() }

    /// The regions `partition` owns.
    package func regions(of partition: String) -> [LayoutRegion] { regions.filter { $0.owner == partition } }

    // MARK: Drawing

    /// What a guest may draw.
    package enum Command: Sendable, Equatable {
        case put(ScreenRect, pixels: ArraySlice<UInt8>)
        case fill(ScreenRect, colour: UInt32)
        case copy(sourceX: Int, sourceY: Int, destination: ScreenRect)
    }

    /// Applies one drawing command from `partition` to its surface (or its overlay while it preempts).
    package mutating func draw(_ command: Command, by partition: String) throws(FramebufferRefusal) {
        let onOverlay = preemptor == partition
        switch command {
        case .put(let rect, let pixels):
            try check(rect, by: partition, onOverlay: onOverlay)
            guard pixels.count == rect.area * 4 else {
                throw FramebufferRefusal(
                    .malformed,
                    "\(pixels.count) pixel bytes for a \(rect.width)x\(rect.height) rectangle (\(rect.area * 4) expected)"
                )
            }
            mutateSurface(of: partition, onOverlay: onOverlay) { $0.put(rect, bytes: pixels) }
            surfaceChanged(rect, by: partition, onOverlay: onOverlay)
        case .fill(let rect, let colour):
            try check(rect, by: partition, onOverlay: onOverlay)
            mutateSurface(of: partition, onOverlay: onOverlay) { $0.fill(rect, colour: colour) }
            surfaceChanged(rect, by: partition, onOverlay: onOverlay)
        case .copy(let sourceX, let sourceY, let destination):
            let source = ScreenRect(x: sourceX, y: sourceY, width: destination.width, height: destination.height)
            try check(source, by: partition, onOverlay: onOverlay)
            try check(destination, by: partition, onOverlay: onOverlay)
            mutateSurface(of: partition, onOverlay: onOverlay) {
                $0.copy(sourceX: sourceX, sourceY: sourceY, to: destination)
            }
            if isWhollyVisible(source, of: partition, onOverlay: onOverlay),
                isWhollyVisible(destination, of: partition, onOverlay: onOverlay)
            {
                recompose(destination)
                changes.append(.move(sourceX: sourceX, sourceY: sourceY, destination: destination))
            } else {
                surfaceChanged(destination, by: partition, onOverlay: onOverlay)
            }
        }
    }

    private func check(_ rect: ScreenRect, by partition: String, onOverlay: Bool) throws(FramebufferRefusal) {
        guard !rect.isEmpty, bounds.contains(rect) else {
            throw FramebufferRefusal(
                .outOfBounds,
                "rectangle \(rect.width)x\(rect.height)+\(rect.x)+\(rect.y) is outside the \(width)x\(height) surface")
        }
        if onOverlay { return }
        let own = regions(of: partition)
        guard own.contains(where: { $0.rect.contains(rect) }) else {
            let names = own.map(\.name).joined(separator: ", ")
            throw FramebufferRefusal(
                .notPermitted,
                "rectangle \(rect.width)x\(rect.height)+\(rect.x)+\(rect.y) is outside \(partition)'s region"
                    + (own.isEmpty ? "s (it owns none)" : " (\(names))"))
        }
    }

    private mutating func mutateSurface(of partition: String, onOverlay: Bool, _ body: (inout Surface) -> Void) {
        if onOverlay {
            body(&overlay!)
        } else {
            var surface = surfaces.removeValue(forKey: partition) ?? Surface(width: width, height: height)
            body(&surface)
            surfaces[partition] = surface
        }
    }

    private mutating func surfaceChanged(_ rect: ScreenRect, by partition: String, onOverlay: Bool) {
        if preemptor != nil && !onOverlay { return }  // hidden under the overlay until release
        recompose(rect)
        changes.append(.damage(rect))
    }

    /// True when every pixel of `rect` on screen comes from this partition's surface (or overlay).
    private func isWhollyVisible(_ rect: ScreenRect, of partition: String, onOverlay: Bool) -> Bool {
        if onOverlay { return true }
        if preemptor != nil { return false }
        guard let index = regions.lastIndex(where: { $0.owner == partition && $0.rect.contains(rect) }) else {
            return false
        }
        return !regions[(index + 1)...].contains { $0.owner != partition && $0.rect.intersects(rect) }
    }

    /// Rebuilds `rect` of the screen from the layout.
    private mutating func recompose(_ rect: ScreenRect) {
        let area = rect.intersection(bounds)
        guard !area.isEmpty else { return }
        generation &+= 1
        if let overlay {
            overlay.blit(area, into: &screen)
            return
        }
        let width = self.width
        screen.withUnsafeMutableBufferPointer { target in
            for y in area.y..<area.maxY {
                let start = y * width + area.x
                for index in start..<(start + area.width) { target[index] = 0 }
            }
        }
        for region in regions {
            let part = region.rect.intersection(area)
            guard !part.isEmpty, let surface = surfaces[region.owner] else { continue }
            surface.blit(part, into: &screen)
        }
    }

    /// Screen changes since the last call, in order.
    package mutating func takeChanges() -> [ScreenChange] {
        defer { changes.removeAll(keepingCapacity: true) }
        return changes
    }

    // MARK: Focus and preemption

    /// Gives input focus to `partition`; refused while another partition preempts.
    package mutating func setFocus(_ partition: String?) throws(FramebufferRefusal) -> [OwnershipChange] {
        if let preemptor, partition != preemptor {
            throw FramebufferRefusal(.notPermitted, "\(preemptor) holds the screen and input until it releases")
        }
        guard partition != focus else { return [] }
        if let partition, !owners.contains(partition) {
            throw FramebufferRefusal(.notPermitted, "\(partition) owns no region of this screen")
        }
        let previous = focus
        focus = partition
        return [.focus(from: previous, to: partition)]
    }

    /// `partition` takes the whole screen and the input until `release`.
    package mutating func preempt(by partition: String) throws(FramebufferRefusal) -> [OwnershipChange] {
        guard preemptors.contains(partition) else {
            throw FramebufferRefusal(.notPermitted, "\(partition) may not preempt this screen")
        }
        if preemptor == partition { return [] }
        if let preemptor {
            throw FramebufferRefusal(.notPermitted, "\(preemptor) already preempts this screen")
        }
        preemptor = partition
        focusBeforePreempt = focus
        overlay = Surface(width: width, height: height)
        recompose(bounds)
        changes.append(.damage(bounds))
        var result: [OwnershipChange] = [.preempted(by: partition)]
        if focus != partition {
            result.append(.focus(from: focus, to: partition))
            focus = partition
        }
        return result
    }

    /// Ends `partition`'s preemption: the overlay goes, focus returns to where it was.
    package mutating func release(by partition: String) throws(FramebufferRefusal) -> [OwnershipChange] {
        guard preemptor == partition else {
            throw FramebufferRefusal(.notPermitted, "\(partition) does not preempt this screen")
        }
        preemptor = nil
        overlay = nil
        recompose(bounds)
        changes.append(.damage(bounds))
        var result: [OwnershipChange] = [.released(by: partition)]
        let restored = focusBeforePreempt ?? defaultFocus
        focusBeforePreempt = nil
        if focus != restored {
            result.append(.focus(from: focus, to: restored))
            focus = restored
        }
        return result
    }

    /// A partition went away: its preemption ends; its surface stays (the last picture) until it redraws.
    package mutating func partitionDetached(_ partition: String) -> [OwnershipChange] {
        guard preemptor == partition else { return [] }
        return (try? release(by: partition)) ?? []
    }

    // MARK: Reading

    package func pixel(x: Int, y: Int) -> UInt32 { screen[y * width + x] }

    /// `rect` of the screen as native pixels, row-major.
    package func read(_ rect: ScreenRect) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(rect.area)
        for y in rect.y..<rect.maxY { out += screen[(y * width + rect.x)..<(y * width + rect.maxX)] }
        return out
    }
}
