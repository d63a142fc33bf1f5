/*
 * zlib_parallel.h — block-parallel one-shot deflate on the threadpool
 * (zlib_parallel.c), used by zlib.c's `run` for large callback/promise
 * compressions.
 */
#ifndef ZLIB_PARALLEL_H
#define ZLIB_PARALLEL_H

#include "lstr.h"
#include <stddef.h>

/* The container around the one raw deflate stream */
enum { ZPAR_RAW, ZPAR_ZLIB, ZPAR_GZIP };

typedef struct {
  int wrap;                /* ZPAR_RAW, ZPAR_ZLIB or ZPAR_GZIP */
  int level, window_bits, mem_level, strategy;
  size_t max_output;       /* maxOutputLength: ERR_BUFFER_TOO_LARGE past it */
} zpar_opts;

/* Whether an input of n bytes with these options takes the parallel path
 * (large enough, and options it can honour exactly; a preset dictionary is
 * the caller's to exclude). */
int zpar_eligible(const zpar_opts *o, size_t n);

/* Copy data, compress it on the threadpool and call the function at stack
 * index cb_idx with (nil, output) or (err) on this state's loop.  Returns 0,
 * or raises a Lua error (out of memory) without calling back. */
int zpar_start(lua_State *L, const zpar_opts *o, const char *data, size_t n, int cb_idx);

#endif
