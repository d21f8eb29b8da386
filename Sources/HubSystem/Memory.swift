import CHubSystem
import Glibc

/// The C heap's tuning (glibc `mallopt(3)`, `malloc_trim(3)`; `malloc.h` is not in Swift's Glibc module).
package enum Memory {
    /// Gives free heap pages back to the kernel wherever they are in the heap (`malloc_trim(0)`). After a
    /// burst of connections freed their buffers the free memory sits between live blocks, where the trim
    /// threshold alone (which only returns the top of the heap) never reaches it. True if memory was returned.
    @discardableResult
    package static func returnFreeMemory() -> Bool { hub_malloc_trim() != 0 }

    /// Allocations of at least `bytes` get their own `mmap` (`M_MMAP_THRESHOLD`); false if refused.
    @discardableResult
    package static func setMmapThreshold(_ bytes: Int32) -> Bool { hub_malloc_set_mmap_threshold(bytes) == 1 }

    /// Free memory at the heap's top beyond `bytes` goes back to the kernel (`M_TRIM_THRESHOLD`).
    @discardableResult
    package static func setTrimThreshold(_ bytes: Int32) -> Bool { hub_malloc_set_trim_threshold(bytes) == 1 }
}

/// The C library's math that Swift's standard library lacks.
package enum CMath {
    /// Base-2 logarithm.
    package static func log2(_ x: Double) -> Double { Glibc.log2(x) }
}
