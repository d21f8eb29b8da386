// libuv's public header, plus the few helpers Swift cannot express directly.
#ifndef HANDSETHUB_CUV_SHIM_H
#define HANDSETHUB_CUV_SHIM_H
#include <uv.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/un.h>
#include <signal.h>
#include <unistd.h>
#include <fcntl.h>
#include <string.h>
#include <errno.h>
#include <sys/timerfd.h>

// Swift imports uv_handle_t* casts awkwardly; these keep the casts in one reviewed place.
static inline uv_handle_t *cuv_handle(void *h) { return (uv_handle_t *)h; }
static inline uv_stream_t *cuv_stream(void *h) { return (uv_stream_t *)h; }
#endif
