// A hint to the processor, which Swift cannot express: start loading a cache line that the code will read soon,
// without waiting for it or faulting on it. No kernel call and no library: only the switch's MAC table uses it
// (Sources/Ethernet/MACTable.swift), for the index bucket the next eviction will write.
#ifndef CCACHEHINT_SHIM_H
#define CCACHEHINT_SHIM_H

// Read, and keep in every cache level: the line is written soon after.
static inline void cache_hint_prefetch_for_write(const void *address) { __builtin_prefetch(address, 1, 3); }

#endif
