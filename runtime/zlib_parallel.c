/*
 * zlib_parallel.c — large one-shot gzip/deflate/deflateRaw on several
 * threadpool threads at once, the way pigz does it, with zlib itself.
 *
 * zlib compresses one stream on one core.  A large input is cut into
 * fixed-size blocks; each block is deflated independently on a threadpool
 * thread, and the pieces concatenate into ONE standard deflate stream:
 *   - every block uses the call's level/windowBits/memLevel/strategy;
 *   - block i > 0 is a raw deflate stream primed (deflateSetDictionary) with
 *     the last window of input before it, so matches may reach back across
 *     the cut and the ratio stays that of one stream.  The priming is the
 *     compressor's business only: the decoder already holds those bytes in
 *     its window, since it just produced them;
 *   - every block but the last ends with Z_SYNC_FLUSH (byte-aligned, no
 *     final bit), the last with Z_FINISH (the final bit);
 *   - block 0 is deflated with the call's wrapper (gzip or zlib), so zlib
 *     writes the header itself — with no preset dictionary (FDICT clear), as
 *     the decoder needs none;
 *   - the trailer (gzip: CRC-32 and length; zlib: Adler-32) is combined from
 *     per-block checksums with crc32_combine/adler32_combine.
 * The block size is fixed, so the output depends only on the input and the
 * options, never on the number of threads or on scheduling.  It is valid
 * gzip/deflate but not byte-identical to the single-stream (sync) output.
 *
 * Scheduling: each block is its own work item.  At most twice as many are
 * queued at once as the threadpool has threads (UV_THREADPOOL_SIZE, read as
 * libuv reads it); the next is queued from the loop when one finishes, so
 * other threadpool work (fs, dns, crypto, other jobs) queued meanwhile runs
 * after at most a couple of our blocks instead of after the whole job.  The
 * second block per thread is there so a thread that finishes one takes the
 * next at once rather than idling until the loop thread gets to run (which
 * on a busy machine may be a while).
 *
 * Ownership: the job (input copy, block table, outputs) belongs to the loop
 * thread; a worker thread touches only its own block's output fields and
 * reads the input and options, which do not change while blocks are queued.
 * On an error (or when the state is going away) no further block is queued;
 * the job is answered and freed once the blocks in flight have returned.
 */
#include "zlib_parallel.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* 256 KiB blocks: the ratio cost of cutting is ~0.01% of the output at this
 * size (the flush marker and a restarted Huffman block per cut; the priming
 * keeps the matches), a block holds a thread for only a few milliseconds at
 * level 6, which keeps other threadpool work responsive and the last
 * blocks well balanced, and 64 MiB makes only 256 loop round trips. */
#define ZPAR_BLOCK ((size_t)256 * 1024)
/* From 1 MiB (four blocks: the default pool's four threads each get one);
 * below that, a single stream finishes in a few milliseconds anyway. */
#define ZPAR_MIN_INPUT ((size_t)1024 * 1024)

/* what a block reports besides zlib's own (negative) codes */
#define ZPAR_TOO_LARGE 100
#define ZPAR_NO_MEMORY 101

typedef struct zpar_job zpar_job;

typedef struct {
  uv_work_t req;
  zpar_job *job;
  size_t index;
  /* written by the worker thread, read on the loop after it returns */
  unsigned char *out;
  size_t out_len;
  uLong check;            /* CRC-32 (gzip) or Adler-32 (zlib) of the block's input */
  int rc;                 /* 0, ZPAR_TOO_LARGE, ZPAR_NO_MEMORY or a zlib error code */
} zpar_block;

struct zpar_job {
  lstr_state *s;
  int cb_ref;
  zpar_opts o;
  unsigned char *in;
  size_t n;
  zpar_block *blocks;
  size_t nblocks;
  size_t next;            /* the next block to queue */
  size_t returned;        /* blocks back from the threadpool */
  size_t in_flight;
  size_t max_in_flight;
  size_t out_total;       /* output of the blocks back so far */
  int failed;             /* queue nothing more */
  char code[64], msg[160];
  int errnum;
};

/* ---- how many threads the pool has (as libuv's threadpool.c decides) ---- */

static uv_once_t pool_once = UV_ONCE_INIT;
static size_t pool_threads = 4;

static void read_pool_size(void) {
  const char *v = getenv("UV_THREADPOOL_SIZE");
  if (!v) return;
  long k = atol(v);
  pool_threads = k <= 0 ? 1 : k > 1024 ? 1024 : (size_t)k;
}

/* ---- one block, on a threadpool thread ---- */

static int wrapped_bits(const zpar_opts *o) {
  return o->wrap == ZPAR_GZIP ? o->window_bits + 16 : o->wrap == ZPAR_ZLIB ? o->window_bits : -o->window_bits;
}

static int deflate_block(zpar_block *b) {
  const zpar_job *j = b->job;
  const zpar_opts *o = &j->o;
  size_t start = b->index * ZPAR_BLOCK;
  size_t len = j->n - start < ZPAR_BLOCK ? j->n - start : ZPAR_BLOCK;
  int last = b->index == j->nblocks - 1;
  const unsigned char *in = j->in + start;

  if (o->wrap == ZPAR_GZIP) b->check = crc32(0L, in, (uInt)len);
  else if (o->wrap == ZPAR_ZLIB) b->check = adler32(1L, in, (uInt)len);

  z_stream z;
  memset(&z, 0, sizeof z);
  int rc = deflateInit2(&z, o->level, Z_DEFLATED, b->index == 0 ? wrapped_bits(o) : -o->window_bits,
                        o->mem_level, o->strategy);
  if (rc != Z_OK) return rc;
  if (b->index > 0) {
    size_t window = (size_t)1 << o->window_bits;
    size_t dict = start < window ? start : window;
    rc = deflateSetDictionary(&z, in - dict, (uInt)dict);
    if (rc != Z_OK) { deflateEnd(&z); return rc; }
  }
  size_t cap = deflateBound(&z, (uLong)len) + 64;  /* room for the sync flush marker too */
  unsigned char *out = malloc(cap);
  if (!out) { deflateEnd(&z); return ZPAR_NO_MEMORY; }
  size_t out_len = 0;
  int flush = last ? Z_FINISH : Z_SYNC_FLUSH;
  z.next_in = (unsigned char *)in;
  z.avail_in = (uInt)len;
  for (;;) {
    if (out_len > o->max_output) { rc = ZPAR_TOO_LARGE; break; }
    if (out_len == cap) {
      unsigned char *np = realloc(out, cap * 2);
      if (!np) { rc = ZPAR_NO_MEMORY; break; }
      out = np;
      cap *= 2;
    }
    z.next_out = out + out_len;
    z.avail_out = (uInt)(cap - out_len);
    rc = deflate(&z, flush);
    out_len = cap - z.avail_out;
    if (rc == Z_STREAM_END) { rc = Z_OK; break; }
    if (rc != Z_OK) break;
    /* a sync flush is complete when deflate leaves output room unused */
    if (!last && z.avail_in == 0 && z.avail_out != 0) break;
  }
  deflateEnd(&z);
  if (rc == Z_OK && out_len > o->max_output) rc = ZPAR_TOO_LARGE;
  if (rc != Z_OK) { free(out); return rc; }
  unsigned char *fit = realloc(out, out_len ? out_len : 1);  /* blocks wait for their turn: give back the slack */
  b->out = fit ? fit : out;
  b->out_len = out_len;
  return 0;
}

static void block_work(uv_work_t *req) {
  zpar_block *b = req->data;
  b->rc = deflate_block(b);
}

/* ---- the job, on the loop thread ---- */

static void fail(zpar_job *j, const char *code, int errnum, const char *msg) {
  j->failed = 1;
  if (j->code[0]) return;  /* the first error is the one reported */
  snprintf(j->code, sizeof j->code, "%s", code);
  snprintf(j->msg, sizeof j->msg, "%s", msg);
  j->errnum = errnum;
}

static void fail_too_large(zpar_job *j) {
  char m[96];
  snprintf(m, sizeof m, "Cannot create a Buffer larger than %zu bytes", j->o.max_output);
  fail(j, "ERR_BUFFER_TOO_LARGE", -1, m);
}

static void fail_block(zpar_job *j, int rc) {
  switch (rc) {
    case ZPAR_TOO_LARGE: fail_too_large(j); break;
    case ZPAR_NO_MEMORY: fail(j, "Z_MEM_ERROR", Z_MEM_ERROR, "out of memory"); break;
    case Z_MEM_ERROR: fail(j, "Z_MEM_ERROR", rc, "out of memory"); break;
    case Z_STREAM_ERROR: fail(j, "ERR_ZLIB_INITIALIZATION_FAILED", rc, "Initialization failed"); break;
    default: fail(j, "Z_UNKNOWN_ERROR", rc, "deflate failed"); break;
  }
}

static void free_job(zpar_job *j) {
  if (j->blocks)
    for (size_t i = 0; i < j->nblocks; i++) free(j->blocks[i].out);
  free(j->blocks);
  free(j->in);
  free(j);
}

static void block_after(uv_work_t *req, int status);

static void queue_more(zpar_job *j) {
  while (!j->failed && j->in_flight < j->max_in_flight && j->next < j->nblocks) {
    zpar_block *b = &j->blocks[j->next];
    b->req.data = b;
    int rc = uv_queue_work(j->s->loop, &b->req, block_work, block_after);
    if (rc) {
      char m[96];
      snprintf(m, sizeof m, "uv_queue_work %s: %s", uv_err_name(rc), uv_strerror(rc));
      fail(j, uv_err_name(rc), rc, m);
      return;
    }
    j->next++;
    j->in_flight++;
  }
}

static void put_le32(unsigned char *p, uLong v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_be32(unsigned char *p, uLong v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (24 - 8 * i));
}

/* The blocks in order, then the trailer from the combined checksums.
 * NULL (the job failed) or the output, *len set. */
static unsigned char *assemble(zpar_job *j, size_t *len) {
  size_t trailer = j->o.wrap == ZPAR_GZIP ? 8 : j->o.wrap == ZPAR_ZLIB ? 4 : 0;
  size_t total = j->out_total + trailer;
  if (total > j->o.max_output) { fail_too_large(j); return NULL; }
  unsigned char *out = malloc(total);
  if (!out) { fail(j, "Z_MEM_ERROR", Z_MEM_ERROR, "out of memory"); return NULL; }
  uLong check = j->o.wrap == ZPAR_GZIP ? crc32(0L, Z_NULL, 0) : adler32(0L, Z_NULL, 0);
  size_t at = 0;
  for (size_t i = 0; i < j->nblocks; i++) {
    zpar_block *b = &j->blocks[i];
    memcpy(out + at, b->out, b->out_len);
    at += b->out_len;
    free(b->out);
    b->out = NULL;
    z_off_t blen = (z_off_t)(j->n - i * ZPAR_BLOCK < ZPAR_BLOCK ? j->n - i * ZPAR_BLOCK : ZPAR_BLOCK);
    if (j->o.wrap == ZPAR_GZIP) check = crc32_combine(check, b->check, blen);
    else if (j->o.wrap == ZPAR_ZLIB) check = adler32_combine(check, b->check, blen);
  }
  if (j->o.wrap == ZPAR_GZIP) {
    put_le32(out + at, check);
    put_le32(out + at + 4, (uLong)(j->n & 0xffffffffu));  /* ISIZE: the length modulo 2^32 */
  } else if (j->o.wrap == ZPAR_ZLIB) {
    put_be32(out + at, check);
  }
  *len = total;
  return out;
}

/* Every block is back (or the job failed and the last one in flight is):
 * call back with the output or the error, then free the job. */
static void answer(zpar_job *j) {
  lua_State *L = j->s->L;
  if (L && j->cb_ref != LUA_NOREF) {
    size_t len = 0;
    unsigned char *out = j->failed ? NULL : assemble(j, &len);
    lstr_push_ref(L, j->cb_ref);
    lstr_unref(L, &j->cb_ref);
    if (!out) {
      lstr_push_error(L, j->code, "%s", j->msg);
      if (lua_istable(L, -1)) { lua_pushinteger(L, j->errnum); lua_setfield(L, -2, "errno"); }
      lua_pushnil(L);
    } else {
      lua_pushnil(L);
      lua_pushlstring(L, (const char *)out, len);
      free(out);
    }
    lstr_dispatch(j->s, 2);
  }
  free_job(j);
}

static void block_after(uv_work_t *req, int status) {
  zpar_block *b = req->data;
  zpar_job *j = b->job;
  j->in_flight--;
  j->returned++;
  if (status == UV_ECANCELED) fail(j, "ECANCELED", UV_ECANCELED, "cancelled");
  else if (b->rc) fail_block(j, b->rc);
  else {
    j->out_total += b->out_len;
    if (j->out_total > j->o.max_output) fail_too_large(j);
  }
  /* the state is closing (a worker terminated) or exiting: nobody to answer */
  if (!j->s->L || j->s->exiting) fail(j, "ECANCELED", UV_ECANCELED, "cancelled");
  queue_more(j);
  if (j->in_flight == 0 && (j->failed || j->returned == j->nblocks)) answer(j);
}

/* ---- entry ---- */

int zpar_eligible(const zpar_opts *o, size_t n) {
  /* zlib takes windowBits 8 only for the zlib wrapper, as 9: the single
   * stream keeps those exact semantics */
  return n >= ZPAR_MIN_INPUT && o->window_bits >= 9 && o->window_bits <= 15;
}

int zpar_start(lua_State *L, const zpar_opts *o, const char *data, size_t n, int cb_idx) {
  uv_once(&pool_once, read_pool_size);
  zpar_job *j = calloc(1, sizeof *j);
  if (!j) return lstr_error(L, "ERR_OUT_OF_MEMORY", "zlib: out of memory");
  j->o = *o;
  j->n = n;
  j->nblocks = (n + ZPAR_BLOCK - 1) / ZPAR_BLOCK;
  j->max_in_flight = 2 * pool_threads;
  j->cb_ref = LUA_NOREF;
  j->in = malloc(n ? n : 1);
  j->blocks = calloc(j->nblocks ? j->nblocks : 1, sizeof *j->blocks);
  if (!j->in || !j->blocks) { free_job(j); return lstr_error(L, "ERR_OUT_OF_MEMORY", "zlib: out of memory"); }
  memcpy(j->in, data, n);
  for (size_t i = 0; i < j->nblocks; i++) {
    j->blocks[i].job = j;
    j->blocks[i].index = i;
  }
  j->s = lstr_ctx(L);
  lua_pushvalue(L, cb_idx);
  j->cb_ref = lstr_ref(L);
  queue_more(j);
  if (j->in_flight == 0) {  /* not one block queued: nothing will call back */
    char code[64], msg[160];
    snprintf(code, sizeof code, "%s", j->code);
    snprintf(msg, sizeof msg, "%s", j->msg);
    lstr_unref(L, &j->cb_ref);
    free_job(j);
    return lstr_error(L, code, "%s", msg);
  }
  return 0;
}
