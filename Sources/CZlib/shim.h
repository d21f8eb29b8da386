// zlib's header, for ZRLE (RFC 6143 §7.7.6) and PNG screenshots.
#include <zlib.h>

// deflateInit2/inflateInit are macros Swift cannot import; these wrappers pass the version and size.
static inline int czlib_deflate_init(z_streamp stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY);
}
// Raw deflate (no zlib header or trailer): ZRLE rectangles each compressed from a fresh state and spliced
// into a viewer's one zlib stream (Protocols/framebuffer.md §2.4).
static inline int czlib_deflate_init_raw(z_streamp stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
}
static inline int czlib_inflate_init(z_streamp stream) {
    return inflateInit(stream);
}
