/// What one viewer still has to be sent: moves it can do itself (CopyRect) and rectangles to repaint.
///
/// Changes coalesce here between the viewer's requests, so a slow viewer simply receives fewer,
/// larger updates; nothing here grows without bound.
package struct ViewerDamage: Sendable {
    package private(set) var damage: DamageList
    package private(set) var move: ScreenChange?
    package var supportsCopyRect: Bool

    package init(maxRects: Int = 16, supportsCopyRect: Bool = false) {
        damage = DamageList(maxRects: maxRects)
        self.supportsCopyRect = supportsCopyRect
    }

    package var isEmpty: Bool { damage.isEmpty && move == nil }

    package mutating func add(_ change: ScreenChange) {
        switch change {
        case .damage(let rect):
            damage.add(rect)
        case .move(let sourceX, let sourceY, let destination):
            let source = ScreenRect(x: sourceX, y: sourceY, width: destination.width, height: destination.height)
            // A move is only safe if the viewer's copy of the source is current: no earlier move pending
            // and no pending damage inside the source. Otherwise repaint the destination.
            if supportsCopyRect, move == nil, !damage.rects.contains(where: { $0.intersects(source) }) {
                move = change
            } else {
                damage.add(destination)
            }
        }
    }

    package mutating func addAll(_ rect: ScreenRect) {
        damage.add(rect)
    }

    /// Takes everything pending: the move first, then the rectangles.
    package mutating func take() -> (move: ScreenChange?, rects: [ScreenRect]) {
        defer {
            move = nil
            damage.removeAll()
        }
        return (move, damage.rects)
    }
}
