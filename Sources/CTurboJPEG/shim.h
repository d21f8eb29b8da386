// libjpeg-turbo's TurboJPEG API (Debian libturbojpeg0-dev), for the Tight encoding's JPEG rectangles
// (Protocols/framebuffer.md §2.6). Only the JPEG module imports it.
#include <turbojpeg.h>
