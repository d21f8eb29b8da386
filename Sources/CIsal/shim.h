// Intel ISA-L's igzip (Debian libisal-dev): a deflate compressor several times faster than zlib's level 1,
// for ZRLE's default compression (Protocols/framebuffer.md §2.4). Only the Zlib module imports it.
#include <isa-l/igzip_lib.h>

// The level-1 hash buffer size (a macro of macros Swift does not import).
static inline unsigned int cisal_level1_buffer_size(void) { return ISAL_DEF_LVL1_DEFAULT; }
