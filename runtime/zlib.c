/*
 * zlib.c — `native.zlib`: deflate/inflate (zlib, gzip, raw, auto-detect)
 * and brotli, bound to zlib and libbrotli.
 *
 * One engine (`zengine`) wraps either library behind one verb, `push`:
 * feed some input with a flush mode, collect all the output that produces.
 * It is plain C data, so the same code runs
 *   - inline, for a streaming object (`native.zlib.new` → ZStream userdata,
 *     which lua/zlib.lua turns into a Transform stream), and
 *   - on libuv's threadpool, for the one-shot callback/promise forms
 *     (`run(kind, opts, data, cb)`), so compressing megabytes never blocks
 *     the loop.
 * Large compressions on the threadpool are cut into blocks deflated on
 * several threads at once (zlib_parallel.c); the sync forms and everything
 * else stay one stream.
 * Output is bounded by `maxOutputLength` (ERR_BUFFER_TOO_LARGE): a zip
 * bomb stops at the bound instead of exhausting memory.  Corrupt input is
 * an error with zlib's code (Z_DATA_ERROR...) or brotli's, never a crash.
 */
#include "lstr.h"
#include "zlib_parallel.h"
#include <brotli/decode.h>
#include <brotli/encode.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define ZSTREAM_MT "luster.zlib.ZStream"

enum { K_DEFLATE, K_INFLATE, K_GZIP, K_GUNZIP, K_DEFLATERAW, K_INFLATERAW, K_UNZIP,
       K_BROTLI_ENC, K_BROTLI_DEC };
static const char *const kind_names[] = { "deflate", "inflate", "gzip", "gunzip", "deflateRaw",
                                          "inflateRaw", "unzip", "brotliCompress", "brotliDecompress", NULL };

/* Node's flush values (zlib's) — brotli's operations are mapped from them */
enum { F_NONE = Z_NO_FLUSH, F_SYNC = Z_SYNC_FLUSH, F_FULL = Z_FULL_FLUSH, F_FINISH = Z_FINISH };

typedef struct { unsigned char *p; size_t len, cap; } obuf;

typedef struct {
  int kind;
  int ready;              /* the library stream is initialised */
  int ended;              /* the compressed stream ended (inflate) or was finished */
  z_stream z;
  BrotliEncoderState *be;
  BrotliDecoderState *bd;
  size_t chunk;           /* output grows by this much at a time */
  size_t max_output;      /* bound on the total output of one push */
  /* options kept for reset() */
  int level, window_bits, mem_level, strategy;
  unsigned char *dict;
  size_t dict_len;
  int brotli_params[16][2];
  int nbrotli_params;
  /* a streaming push may stop early: at most `limit` output bytes (0 = no
   * bound); then `consumed` says how much input was used and `more` that
   * output is still pending (call again with the rest of the input) */
  size_t limit, consumed;
  int more;
  /* the last error: code ("Z_DATA_ERROR", "ERR_BUFFER_TOO_LARGE"...), errno, message */
  char code[64], msg[160];
  int errnum;
} zengine;

static int is_brotli(int k) { return k == K_BROTLI_ENC || k == K_BROTLI_DEC; }
static int is_deflater(int k) { return k == K_DEFLATE || k == K_GZIP || k == K_DEFLATERAW; }

static void set_error(zengine *e, const char *code, int errnum, const char *msg) {
  snprintf(e->code, sizeof e->code, "%s", code);
  snprintf(e->msg, sizeof e->msg, "%s", msg);
  e->errnum = errnum;
}

static const char *zcode(int rc) {
  switch (rc) {
    case Z_NEED_DICT: return "Z_NEED_DICT";
    case Z_ERRNO: return "Z_ERRNO";
    case Z_STREAM_ERROR: return "Z_STREAM_ERROR";
    case Z_DATA_ERROR: return "Z_DATA_ERROR";
    case Z_MEM_ERROR: return "Z_MEM_ERROR";
    case Z_BUF_ERROR: return "Z_BUF_ERROR";
    case Z_VERSION_ERROR: return "Z_VERSION_ERROR";
    default: return "Z_UNKNOWN_ERROR";
  }
}

/* ---- set-up ---- */

static int engine_init(zengine *e) {
  int rc = Z_OK;
  int wb = e->window_bits;
  switch (e->kind) {
    case K_BROTLI_ENC:
      e->be = BrotliEncoderCreateInstance(NULL, NULL, NULL);
      if (!e->be) { set_error(e, "ERR_ZLIB_INITIALIZATION_FAILED", -1, "Initialization failed"); return -1; }
      for (int i = 0; i < e->nbrotli_params; i++)
        if (!BrotliEncoderSetParameter(e->be, (BrotliEncoderParameter)e->brotli_params[i][0],
                                       (uint32_t)e->brotli_params[i][1])) {
          set_error(e, "ERR_BROTLI_PARAM_SET_FAILED", -1, "Setting parameter failed");
          return -1;
        }
      e->ready = 1;
      return 0;
    case K_BROTLI_DEC:
      e->bd = BrotliDecoderCreateInstance(NULL, NULL, NULL);
      if (!e->bd) { set_error(e, "ERR_ZLIB_INITIALIZATION_FAILED", -1, "Initialization failed"); return -1; }
      e->ready = 1;
      return 0;
    case K_GZIP: case K_GUNZIP: wb += 16; break;
    case K_DEFLATERAW: case K_INFLATERAW: wb = -wb; break;
    case K_UNZIP: wb += 32; break;
  }
  memset(&e->z, 0, sizeof e->z);
  if (is_deflater(e->kind)) {
    rc = deflateInit2(&e->z, e->level, Z_DEFLATED, wb, e->mem_level, e->strategy);
    if (rc == Z_OK && e->dict) rc = deflateSetDictionary(&e->z, e->dict, (uInt)e->dict_len);
  } else {
    rc = inflateInit2(&e->z, wb);
    if (rc == Z_OK && e->dict && e->kind == K_INFLATERAW)
      rc = inflateSetDictionary(&e->z, e->dict, (uInt)e->dict_len);
  }
  if (rc != Z_OK) {
    set_error(e, "ERR_ZLIB_INITIALIZATION_FAILED", rc, "Initialization failed");
    return -1;
  }
  e->ready = 1;
  return 0;
}

static void engine_end(zengine *e) {
  if (!e->ready) return;
  if (e->kind == K_BROTLI_ENC) BrotliEncoderDestroyInstance(e->be);
  else if (e->kind == K_BROTLI_DEC) BrotliDecoderDestroyInstance(e->bd);
  else if (is_deflater(e->kind)) deflateEnd(&e->z);
  else inflateEnd(&e->z);
  e->be = NULL;
  e->bd = NULL;
  e->ready = 0;
}

static void engine_free(zengine *e) {
  engine_end(e);
  free(e->dict);
  e->dict = NULL;
}

/* ---- output ---- */

/* Make room for at least e->chunk more bytes, within max_output. */
static int obuf_room(zengine *e, obuf *o) {
  if (o->len >= e->max_output) {
    char m[96];
    snprintf(m, sizeof m, "Cannot create a Buffer larger than %zu bytes", e->max_output);
    set_error(e, "ERR_BUFFER_TOO_LARGE", -1, m);
    return -1;
  }
  if (o->cap - o->len >= e->chunk) return 0;
  size_t cap = o->cap ? o->cap : e->chunk;
  while (cap - o->len < e->chunk) cap *= 2;
  if (cap > e->max_output + e->chunk) cap = e->max_output + e->chunk;
  unsigned char *np = realloc(o->p, cap);
  if (!np) { set_error(e, "Z_MEM_ERROR", Z_MEM_ERROR, "out of memory"); return -1; }
  o->p = np;
  o->cap = cap;
  return 0;
}

/* How much of the room may be filled without passing max_output. */
static size_t room(zengine *e, obuf *o) {
  size_t r = o->cap - o->len, left = e->max_output - o->len;
  return r < left + 1 ? r : left + 1; /* one byte past the bound detects it */
}

/* ---- the one verb ---- */

static int push_zlib(zengine *e, const unsigned char *in, size_t n, int flush, obuf *o) {
  e->z.next_in = (unsigned char *)in;
  e->z.avail_in = (uInt)n;
  for (;;) {
    if (e->limit && o->len >= e->limit) {
      e->consumed = n - e->z.avail_in;
      e->more = 1;
      return 0;
    }
    if (obuf_room(e, o)) return -1;
    size_t r = room(e, o);
    e->z.next_out = o->p + o->len;
    e->z.avail_out = (uInt)r;
    int rc = is_deflater(e->kind) ? deflate(&e->z, flush) : inflate(&e->z, flush);
    o->len += r - e->z.avail_out;
    if (o->len > e->max_output) { obuf_room(e, o); return -1; }
    if (rc == Z_NEED_DICT && e->dict) {
      rc = inflateSetDictionary(&e->z, e->dict, (uInt)e->dict_len);
      if (rc == Z_OK) continue;
    }
    if (rc == Z_STREAM_END) {
      if (is_deflater(e->kind)) { e->ended = 1; return 0; }
      /* gzip members may follow one another (gunzip and unzip read them all) */
      if ((e->kind == K_GUNZIP || e->kind == K_UNZIP) && e->z.avail_in >= 2 &&
          e->z.next_in[0] == 0x1f && e->z.next_in[1] == 0x8b) {
        inflateReset(&e->z);
        continue;
      }
      e->ended = 1;
      return 0;  /* bytes after the end of the stream are ignored, as Node does */
    }
    if (rc == Z_BUF_ERROR) {
      /* no progress possible: all input used (or no room, handled above) */
      if (e->z.avail_out != 0 || e->z.avail_in == 0) {
        if (flush == Z_FINISH && !is_deflater(e->kind) && !e->ended) {
          set_error(e, "Z_BUF_ERROR", Z_BUF_ERROR, "unexpected end of file");
          return -1;
        }
        return 0;
      }
      continue;
    }
    if (rc != Z_OK) {
      set_error(e, zcode(rc), rc, e->z.msg ? e->z.msg : zcode(rc));
      return -1;
    }
    if (e->z.avail_out != 0 && e->z.avail_in == 0 && flush != Z_FINISH) return 0;
    if (e->z.avail_out != 0 && e->z.avail_in == 0 && flush == Z_FINISH && !is_deflater(e->kind)) {
      set_error(e, "Z_BUF_ERROR", Z_BUF_ERROR, "unexpected end of file");
      return -1;
    }
  }
}

static int push_brotli(zengine *e, const unsigned char *in, size_t n, int flush, obuf *o) {
  const uint8_t *next_in = in;
  size_t avail_in = n;
  if (e->kind == K_BROTLI_ENC) {
    BrotliEncoderOperation op = flush == F_FINISH ? BROTLI_OPERATION_FINISH
                              : flush == F_NONE ? BROTLI_OPERATION_PROCESS : BROTLI_OPERATION_FLUSH;
    for (;;) {
      if (e->limit && o->len >= e->limit) { e->consumed = n - avail_in; e->more = 1; return 0; }
      if (obuf_room(e, o)) return -1;
      size_t r = room(e, o), avail_out = r;
      uint8_t *next_out = o->p + o->len;
      if (!BrotliEncoderCompressStream(e->be, op, &avail_in, &next_in, &avail_out, &next_out, NULL)) {
        set_error(e, "ERR_BROTLI_COMPRESSION_FAILED", -1, "Compression failed");
        return -1;
      }
      o->len += r - avail_out;
      if (o->len > e->max_output) { obuf_room(e, o); return -1; }
      if (avail_in == 0 && !BrotliEncoderHasMoreOutput(e->be)) {
        if (op == BROTLI_OPERATION_FINISH) {
          if (BrotliEncoderIsFinished(e->be)) { e->ended = 1; return 0; }
        } else {
          return 0;
        }
      }
    }
  }
  for (;;) {
    if (e->limit && o->len >= e->limit) { e->consumed = n - avail_in; e->more = 1; return 0; }
    if (obuf_room(e, o)) return -1;
    size_t r = room(e, o), avail_out = r;
    uint8_t *next_out = o->p + o->len;
    BrotliDecoderResult res = BrotliDecoderDecompressStream(e->bd, &avail_in, &next_in, &avail_out, &next_out, NULL);
    o->len += r - avail_out;
    if (o->len > e->max_output) { obuf_room(e, o); return -1; }
    if (res == BROTLI_DECODER_RESULT_ERROR) {
      /* Node's code: "ERR_" + the enum's prefix and name (the library's
       * string has the name only) */
      int ec = (int)BrotliDecoderGetErrorCode(e->bd);
      const char *group = ec >= -17 ? "_ERROR_FORMAT_" : ec <= -21 && ec >= -30 ? "_ERROR_ALLOC_" : "_ERROR_";
      char code[64];
      snprintf(code, sizeof code, "ERR_%s%s", group, BrotliDecoderErrorString((BrotliDecoderErrorCode)ec));
      set_error(e, code, ec, "Decompression failed");
      return -1;
    }
    if (res == BROTLI_DECODER_RESULT_SUCCESS) { e->ended = 1; return 0; }
    if (res == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) {
      if (flush == F_FINISH) {
        set_error(e, "Z_BUF_ERROR", Z_BUF_ERROR, "unexpected end of file");
        return -1;
      }
      return 0;
    }
    /* NEEDS_MORE_OUTPUT: loop for more room */
  }
}

/* Feed n bytes with a flush mode; output is appended to o.  0 or -1 (e->code set). */
static int engine_push(zengine *e, const unsigned char *in, size_t n, int flush, obuf *o) {
  e->consumed = n;
  e->more = 0;
  if (!e->ready) { set_error(e, "ERR_ZLIB_BINDING_CLOSED", -1, "zlib binding closed"); return -1; }
  if (e->ended && !is_deflater(e->kind)) return 0;  /* input after the end is ignored */
  return is_brotli(e->kind) ? push_brotli(e, in, n, flush, o) : push_zlib(e, in, n, flush, o);
}

/* ---- options (from a table prepared by lua/zlib.lua) ---- */

static lua_Integer opt_int(lua_State *L, int t, const char *k, lua_Integer def) {
  lua_getfield(L, t, k);
  lua_Integer v = lua_isnumber(L, -1) ? lua_tointeger(L, -1) : def;
  lua_pop(L, 1);
  return v;
}

static int engine_from_opts(lua_State *L, zengine *e, int kind, int t) {
  memset(e, 0, sizeof *e);
  e->kind = kind;
  e->level = (int)opt_int(L, t, "level", Z_DEFAULT_COMPRESSION);
  e->window_bits = (int)opt_int(L, t, "windowBits", 15);
  e->mem_level = (int)opt_int(L, t, "memLevel", 8);
  e->strategy = (int)opt_int(L, t, "strategy", Z_DEFAULT_STRATEGY);
  e->chunk = (size_t)opt_int(L, t, "chunkSize", 16 * 1024);
  lua_getfield(L, t, "maxOutputLength");
  e->max_output = lua_isnumber(L, -1) ? (size_t)lua_tonumber(L, -1) : (size_t)1 << 32;
  lua_pop(L, 1);
  lua_getfield(L, t, "dictionary");
  if (lua_isstring(L, -1)) {
    size_t n;
    const char *d = lua_tolstring(L, -1, &n);
    e->dict = malloc(n ? n : 1);
    if (!e->dict) { lua_pop(L, 1); return -1; }
    memcpy(e->dict, d, n);
    e->dict_len = n;
  }
  lua_pop(L, 1);
  lua_getfield(L, t, "params");
  if (lua_istable(L, -1)) {
    lua_pushnil(L);
    while (lua_next(L, -2) && e->nbrotli_params < 16) {
      if (lua_isnumber(L, -2) && lua_isnumber(L, -1)) {
        e->brotli_params[e->nbrotli_params][0] = (int)lua_tointeger(L, -2);
        e->brotli_params[e->nbrotli_params++][1] = (int)lua_tointeger(L, -1);
      }
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return 0;
}

static int raise_engine(lua_State *L, zengine *e) {
  lstr_push_error(L, e->code, "%s", e->msg);
  if (lua_istable(L, -1)) {
    lua_pushinteger(L, e->errnum);
    lua_setfield(L, -2, "errno");
  }
  return lua_error(L);
}

/* ---- the streaming object ---- */

static zengine *check_zs(lua_State *L) { return luaL_checkudata(L, 1, ZSTREAM_MT); }

/* new(kind, opts) -> ZStream */
static int zlib_new(lua_State *L) {
  int kind = luaL_checkoption(L, 1, NULL, kind_names);
  luaL_checktype(L, 2, LUA_TTABLE);
  zengine *e = lua_newuserdata(L, sizeof *e);
  if (engine_from_opts(L, e, kind, 2)) return lstr_error(L, "ERR_OUT_OF_MEMORY", "zlib: out of memory");
  luaL_getmetatable(L, ZSTREAM_MT);
  lua_setmetatable(L, -2);
  if (engine_init(e)) return raise_engine(L, e);
  return 1;
}

/* zs:push(data, flush[, limit]) -> output bytes (maybe ''), ended, consumed, more
 * With a limit, output stops near `limit` bytes: `consumed` input bytes were
 * used and, when `more`, the caller pushes the unused rest again (or ''
 * with the same flush) for the output still pending. */
static int zs_push(lua_State *L) {
  zengine *e = check_zs(L);
  size_t n;
  const char *in = luaL_optlstring(L, 2, "", &n);
  int flush = (int)luaL_optinteger(L, 3, F_NONE);
  e->limit = (size_t)luaL_optinteger(L, 4, 0);
  obuf o = { 0 };
  int rc = engine_push(e, (const unsigned char *)in, n, flush, &o);
  e->limit = 0;
  if (rc == 0) lua_pushlstring(L, o.p ? (const char *)o.p : "", o.len);
  free(o.p);
  if (rc) return raise_engine(L, e);
  lua_pushboolean(L, e->ended);
  lua_pushinteger(L, (lua_Integer)e->consumed);
  lua_pushboolean(L, e->more);
  return 4;
}

/* zs:reset() — start a new stream with the same options */
static int zs_reset(lua_State *L) {
  zengine *e = check_zs(L);
  engine_end(e);
  e->ended = 0;
  if (engine_init(e)) return raise_engine(L, e);
  return 0;
}

/* zs:params(level, strategy) — deflate only, as Node's */
static int zs_params(lua_State *L) {
  zengine *e = check_zs(L);
  if (!is_deflater(e->kind) || !e->ready) return lstr_error(L, "ERR_INVALID_STATE", "params() needs a deflate stream");
  e->level = (int)luaL_checkinteger(L, 2);
  e->strategy = (int)luaL_checkinteger(L, 3);
  int rc = deflateParams(&e->z, e->level, e->strategy);
  if (rc != Z_OK && rc != Z_BUF_ERROR) { set_error(e, zcode(rc), rc, "deflateParams failed"); return raise_engine(L, e); }
  return 0;
}

/* zs:bytes() -> total input read, total output written (bytesWritten in Node) */
static int zs_bytes(lua_State *L) {
  zengine *e = check_zs(L);
  lua_pushnumber(L, is_brotli(e->kind) ? 0 : (lua_Number)e->z.total_in);
  return 1;
}

static int zs_close(lua_State *L) {
  engine_free(check_zs(L));
  return 0;
}

/* ---- one-shot, sync or on the threadpool ---- */

typedef struct {
  uv_work_t req;
  lstr_state *s;
  int cb_ref;
  zengine e;
  unsigned char *in;
  size_t n;
  obuf out;
  int rc;
} zjob;

static void run_zjob(zjob *j) {
  j->rc = engine_init(&j->e);
  if (j->rc == 0) j->rc = engine_push(&j->e, j->in, j->n, F_FINISH, &j->out);
  engine_free(&j->e);
}

static void free_zjob(zjob *j) {
  engine_free(&j->e);
  free(j->in);
  free(j->out.p);
  free(j);
}

static void zjob_work(uv_work_t *req) { run_zjob(req->data); }

static void zjob_after(uv_work_t *req, int status) {
  zjob *j = req->data;
  lua_State *L = j->s->L;
  if (L && j->cb_ref != LUA_NOREF) {
    lstr_push_ref(L, j->cb_ref);
    lstr_unref(L, &j->cb_ref);
    if (status == UV_ECANCELED) { j->rc = -1; set_error(&j->e, "ECANCELED", -1, "cancelled"); }
    if (j->rc) {
      lstr_push_error(L, j->e.code, "%s", j->e.msg);
      if (lua_istable(L, -1)) { lua_pushinteger(L, j->e.errnum); lua_setfield(L, -2, "errno"); }
      lua_pushnil(L);
    } else {
      lua_pushnil(L);
      lua_pushlstring(L, j->out.p ? (const char *)j->out.p : "", j->out.len);
    }
    lstr_dispatch(j->s, 2);
  }
  free_zjob(j);
}

/* Whether a threadpool compression of n bytes goes block-parallel, and with
 * what: deflaters only, and not with a preset dictionary (one is for small
 * inputs, and its FDICT/DICTID header stays the single stream's business). */
static int parallel_opts(const zengine *e, size_t n, zpar_opts *po) {
  if (!is_deflater(e->kind) || e->dict) return 0;
  po->wrap = e->kind == K_GZIP ? ZPAR_GZIP : e->kind == K_DEFLATE ? ZPAR_ZLIB : ZPAR_RAW;
  po->level = e->level;
  po->window_bits = e->window_bits;
  po->mem_level = e->mem_level;
  po->strategy = e->strategy;
  po->max_output = e->max_output;
  return zpar_eligible(po, n);
}

/* run(kind, opts, data[, cb]) -> output (sync) | nothing (cb(err, output) later) */
static int zlib_run(lua_State *L) {
  int kind = luaL_checkoption(L, 1, NULL, kind_names);
  luaL_checktype(L, 2, LUA_TTABLE);
  size_t n;
  const char *data = luaL_checklstring(L, 3, &n);
  if (!lua_isfunction(L, 4)) {
    /* sync: no copy of the input, output straight into a Lua string */
    zengine e;
    if (engine_from_opts(L, &e, kind, 2)) return lstr_error(L, "ERR_OUT_OF_MEMORY", "zlib: out of memory");
    obuf o = { 0 };
    int rc = engine_init(&e);
    if (rc == 0) rc = engine_push(&e, (const unsigned char *)data, n, F_FINISH, &o);
    engine_free(&e);
    if (rc == 0) lua_pushlstring(L, o.p ? (const char *)o.p : "", o.len);
    free(o.p);
    if (rc) return raise_engine(L, &e);
    return 1;
  }
  zengine e;
  if (engine_from_opts(L, &e, kind, 2)) { engine_free(&e); return lstr_error(L, "ERR_OUT_OF_MEMORY", "zlib: out of memory"); }
  zpar_opts po;
  if (parallel_opts(&e, n, &po)) {
    engine_free(&e);
    return zpar_start(L, &po, data, n, 4);
  }
  zjob *j = calloc(1, sizeof *j);
  if (!j) { engine_free(&e); return lstr_error(L, "ERR_OUT_OF_MEMORY", "zlib: out of memory"); }
  j->e = e;
  j->in = malloc(n ? n : 1);
  if (!j->in) { free_zjob(j); return lstr_error(L, "ERR_OUT_OF_MEMORY", "zlib: out of memory"); }
  memcpy(j->in, data, n);
  j->n = n;
  j->s = lstr_ctx(L);
  lua_pushvalue(L, 4);
  j->cb_ref = lstr_ref(L);
  j->req.data = j;
  int rc = uv_queue_work(j->s->loop, &j->req, zjob_work, zjob_after);
  if (rc) { lstr_unref(L, &j->cb_ref); free_zjob(j); return lstr_uv_error(L, rc, "uv_queue_work"); }
  return 0;
}

/* crc32(data[, value]) -> number, as zlib.crc32 in Node 22 */
static int zlib_crc32(lua_State *L) {
  size_t n;
  const char *p = luaL_checklstring(L, 1, &n);
  uLong c = (uLong)luaL_optnumber(L, 2, 0);
  lua_pushnumber(L, (lua_Number)crc32(c, (const Bytef *)p, (uInt)n));
  return 1;
}

static const luaL_Reg zs_methods[] = {
  {"push", zs_push}, {"reset", zs_reset}, {"params", zs_params},
  {"bytes", zs_bytes}, {"close", zs_close}, {NULL, NULL}
};

static int zs_gc(lua_State *L) { engine_free(check_zs(L)); return 0; }

static const luaL_Reg zlib_funcs[] = {
  {"new", zlib_new},
  {"run", zlib_run},
  {"crc32", zlib_crc32},
  {NULL, NULL}
};

int luaopen_native_zlib(lua_State *L) {
  lstr_new_class(L, ZSTREAM_MT, zs_methods, zs_gc);
  luaL_register(L, "native.zlib", zlib_funcs);
  return 1;
}
