/*
 * clone_decode.c — structured clone: the decoder.
 *
 * Builds a value from a message in the receiving state.  The bytes are not
 * trusted (cluster IPC arrives from another process, and the decoder is
 * fuzzed): every read is bounds-checked, every count is checked against the
 * bytes left before anything is allocated for it, nesting is limited, block
 * and port indexes are checked against the message, and references may only
 * name objects already built.
 *
 * It runs inside lua_pcall: a malformed message raises a DataCloneError
 * straight from where it is detected.  The only C resources held across Lua
 * calls live in the `dec` struct (the object info array and at most one
 * block not yet owned by a Lua handle) and are freed by lstr_msg_decode on
 * both paths.  Lua objects built so far are simply left to the GC.
 */
#include "clone_wire.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { OBJ_PENDING, OBJ_TABLE, OBJ_BUFFER, OBJ_VIEW, OBJ_PORT };

typedef struct dec {
  lua_State *L;
  lstr_msg *m;
  const unsigned char *p, *end;
  int objs;  /* stack index: id -> object */
  int make;  /* stack slot for luster.buffers' make */
  int have_make;
  int depth;
  struct { int kind; lstr_block *blk; } *info;
  size_t ninfo, capinfo;
  lstr_block *pending; /* owned here until a Lua handle holds it */
} dec;

static int fail(dec *d, const char *what) {
  return lstr_error(d->L, "DataCloneError", "malformed message: %s", what);
}

static size_t left(dec *d) { return (size_t)(d->end - d->p); }

static int get_u8(dec *d) {
  if (d->p >= d->end) fail(d, "truncated");
  return *d->p++;
}

static uint64_t get_varint(dec *d) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    int c = get_u8(d);
    if (shift == 63 && (c & 0x7e)) break; /* more than 64 bits */
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) return v;
  }
  fail(d, "bad varint");
  return 0;
}

static void get_raw(dec *d, void *out, size_t n) {
  if (left(d) < n) fail(d, "truncated");
  memcpy(out, d->p, n);
  d->p += n;
}

/* A new object id of the given kind (the object is stored later). */
static size_t new_obj(dec *d, int kind) {
  if (d->ninfo == d->capinfo) {
    size_t cap = d->capinfo ? d->capinfo * 2 : 16;
    void *ni = realloc(d->info, cap * sizeof *d->info);
    if (!ni) fail(d, "out of memory");
    d->info = ni;
    d->capinfo = cap;
  }
  d->info[d->ninfo].kind = kind;
  d->info[d->ninfo].blk = NULL;
  return d->ninfo++;
}

/* objs[id] = top of stack (left in place) */
static void set_obj(dec *d, size_t id) {
  lua_pushvalue(d->L, -1);
  lua_rawseti(d->L, d->objs, (int)id + 1);
}

/* Push luster.buffers' `make` (loading the module if no state did yet).
 * It is cached in a stack slot reserved by decode_body, so that loading it
 * midway through a table does not shift the stack under the caller. */
static void push_make(dec *d) {
  lua_State *L = d->L;
  if (!d->have_make) {
    if (clone_push_cdata_hooks(L)) {
      lua_getfield(L, -1, "make");
      if (lua_isfunction(L, -1)) {
        lua_replace(L, d->make);
        d->have_make = 1;
      } else {
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    }
    if (!d->have_make) fail(d, "typed arrays are not available in this state");
  }
  lua_pushvalue(L, d->make);
}

static void make_buffer(dec *d, const char *tag, lstr_block *b) {
  push_make(d);
  lua_pushstring(d->L, tag);
  lua_pushnumber(d->L, (lua_Number)(uintptr_t)b);
  lua_call(d->L, 2, 1); /* the handle retains b */
}

static void dec_value(dec *d);

/* T_TABLE / T_TABLEH (with_hint) */
static void dec_table(dec *d, int with_hint) {
  lua_State *L = d->L;
  if (++d->depth > LSTR_CLONE_MAX_DEPTH) fail(d, "nested too deeply");
  uint64_t narr = get_varint(d);
  if (narr > left(d) || narr > INT32_MAX) fail(d, "array longer than the message");
  size_t nhash = with_hint ? (size_t)get_u8(d) : 0;
  if (nhash > left(d) / 2) nhash = left(d) / 2; /* a pair takes 2 bytes at least */
  lua_createtable(L, (int)narr, (int)nhash);
  set_obj(d, new_obj(d, OBJ_TABLE));
  int t = lua_gettop(L);
  for (uint64_t i = 1; i <= narr; i++) {
    dec_value(d);
    if (lua_isnil(L, -1)) lua_pop(L, 1);
    else lua_rawseti(L, t, (int)i);
  }
  for (;;) {
    if (d->p >= d->end) fail(d, "unterminated table");
    if (*d->p == T_END) { d->p++; break; }
    dec_value(d);
    if (lua_isnil(L, -1)) fail(d, "nil table key");
    if (lua_type(L, -1) == LUA_TNUMBER && isnan(lua_tonumber(L, -1))) fail(d, "NaN table key");
    dec_value(d);
    lua_rawset(L, t);
  }
  d->depth--;
}

/* T_AB / T_ABMOVED / T_SAB (tag already read): pushes the handle, returns
 * its block. */
static lstr_block *dec_buffer(dec *d, int tag) {
  lstr_msg *m = d->m;
  size_t id = new_obj(d, OBJ_PENDING);
  lstr_block *b;
  if (tag == T_AB) {
    uint64_t n = get_varint(d);
    if (n > left(d)) fail(d, "buffer longer than the message");
    b = d->pending = lstr_block_new((double)n, 0);
    if (!b) fail(d, "out of memory");
    get_raw(d, b->data, (size_t)n);
    make_buffer(d, "ab", b);
    d->pending = NULL;
    lstr_block_release(b); /* the handle holds it now */
  } else {
    uint64_t i = get_varint(d);
    if (i >= m->nblocks) fail(d, "no such block");
    b = m->blocks[i];
    if ((tag == T_SAB) != (b->shared != 0)) fail(d, "block kind mismatch");
    if (tag == T_ABMOVED && m->handed[i]) {
      /* decoded before: that receiver owns the bytes, this one gets a copy */
      b = d->pending = lstr_block_copy(b);
      if (!b) fail(d, "out of memory");
      make_buffer(d, "ab", b);
      d->pending = NULL;
      lstr_block_release(b);
    } else {
      make_buffer(d, tag == T_SAB ? "sab" : "ab", b);
      if (tag == T_ABMOVED) m->handed[i] = 1;
    }
  }
  d->info[id].kind = OBJ_BUFFER;
  d->info[id].blk = b;
  set_obj(d, id);
  return b;
}

static void dec_view(dec *d) {
  lua_State *L = d->L;
  size_t id = new_obj(d, OBJ_PENDING);
  int kind = get_u8(d);
  if (kind < 1 || kind > 10) fail(d, "bad view kind");
  uint64_t off = get_varint(d), len = get_varint(d);
  int tag = get_u8(d);
  lstr_block *b;
  if (tag == T_REF) {
    uint64_t ref = get_varint(d);
    if (ref >= d->ninfo || d->info[ref].kind != OBJ_BUFFER) fail(d, "view of a non-buffer");
    b = d->info[ref].blk;
  } else if (tag == T_AB || tag == T_ABMOVED || tag == T_SAB) {
    b = dec_buffer(d, tag);
    lua_pop(L, 1);
  } else {
    fail(d, "view of a non-buffer");
    return;
  }
  size_t size = clone_kind_size[kind];
  if (off % size || off > b->length || len > (b->length - off) / size)
    fail(d, "view out of its buffer's bounds");
  push_make(d);
  lua_pushstring(L, "view");
  lua_pushnumber(L, (lua_Number)(uintptr_t)b);
  lua_pushinteger(L, kind);
  lua_pushnumber(L, (lua_Number)off);
  lua_pushnumber(L, (lua_Number)len);
  lua_call(L, 5, 1);
  d->info[id].kind = OBJ_VIEW;
  set_obj(d, id);
}

static void dec_value(dec *d) {
  lua_State *L = d->L;
  if (!lua_checkstack(L, 8)) fail(d, "out of stack");
  int tag = get_u8(d);
  switch (tag) {
  case T_NIL: lua_pushnil(L); break;
  case T_FALSE: lua_pushboolean(L, 0); break;
  case T_TRUE: lua_pushboolean(L, 1); break;
  case T_NULL: lua_pushlightuserdata(L, NULL); break;
  case T_INT: {
    uint64_t z = get_varint(d);
    int64_t v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    if (v >= (int64_t)1 << 53 || v <= -((int64_t)1 << 53)) fail(d, "integer out of range");
    lua_pushnumber(L, (lua_Number)v);
    break;
  }
  case T_NUM: {
    double v;
    get_raw(d, &v, sizeof v);
    lua_pushnumber(L, v);
    break;
  }
  case T_STR: {
    uint64_t n = get_varint(d);
    if (n > left(d)) fail(d, "string longer than the message");
    lua_pushlstring(L, (const char *)d->p, (size_t)n);
    d->p += n;
    break;
  }
  case T_TABLE:
  case T_TABLEH: dec_table(d, tag == T_TABLEH); break;
  case T_REF: {
    uint64_t id = get_varint(d);
    if (id >= d->ninfo || d->info[id].kind == OBJ_PENDING) fail(d, "bad reference");
    lua_rawgeti(L, d->objs, (int)id + 1);
    break;
  }
  case T_I64:
  case T_U64: {
    uint64_t v;
    get_raw(d, &v, sizeof v);
    push_make(d);
    lua_pushstring(L, tag == T_I64 ? "i64" : "u64");
    lua_pushnumber(L, (lua_Number)(uint32_t)v);
    lua_pushnumber(L, (lua_Number)(uint32_t)(v >> 32));
    lua_call(L, 3, 1);
    break;
  }
  case T_AB:
  case T_ABMOVED:
  case T_SAB: dec_buffer(d, tag); break;
  case T_VIEW: dec_view(d); break;
  case T_PORT: {
    uint64_t i = get_varint(d);
    if (i >= d->m->nports) fail(d, "no such port");
    if (d->m->ports[i].delivered) fail(d, "port already delivered to another decode");
    clone_port *p = &d->m->ports[i];
    size_t id = new_obj(d, OBJ_PENDING);
    void *payload = p->payload;
    p->payload = NULL;
    p->delivered = 1; /* push() owns the payload from here on */
    if (p->hook->push(L, payload) != 0) fail(d, "port could not be received");
    d->info[id].kind = OBJ_PORT;
    set_obj(d, id);
    break;
  }
  default: fail(d, "unknown tag");
  }
}

/* ---- the fast path ----
 * Messages of plain values (no T_REF, buffers, views, int64 or ports) are
 * built directly, without lua_pcall, the id -> object table and the info
 * array that references need.  It never raises on bad bytes: anything
 * unexpected makes it give up, the stack is put back, and the full decoder
 * above runs from the start (and raises the DataCloneError, if any).
 * Lua errors it can meet are out of memory only, as for any C function. */

typedef struct fdec { lua_State *L; const unsigned char *p, *end; int depth, top; } fdec;

#define FSTACK_LEVELS 8

static int fget_varint(fdec *d, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && d->p < d->end; shift += 7) {
    int c = *d->p++;
    if (shift == 63 && (c & 0x7e)) return -1;
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) { *out = v; return 0; }
  }
  return -1;
}

/* Push the next value; 0, or -1 to give up.  `key`: it is a table key, so
 * nil and NaN are refused here, from the bytes, rather than by asking the
 * pushed value's type (each C API call costs; see clone_fast.c). */
static int fvalue(fdec *d, int key) {
  lua_State *L = d->L;
  if (d->p >= d->end) return -1;
  uint64_t n;
  switch (*d->p++) {
  case T_NIL: if (key) return -1; lua_pushnil(L); break;
  case T_FALSE: lua_pushboolean(L, 0); break;
  case T_TRUE: lua_pushboolean(L, 1); break;
  case T_NULL: lua_pushlightuserdata(L, NULL); break;
  case T_INT: {
    if (fget_varint(d, &n)) return -1;
    int64_t v = (int64_t)(n >> 1) ^ -(int64_t)(n & 1);
    if (v >= (int64_t)1 << 53 || v <= -((int64_t)1 << 53)) return -1;
    lua_pushnumber(L, (lua_Number)v);
    break;
  }
  case T_NUM: {
    double v;
    if ((size_t)(d->end - d->p) < sizeof v) return -1;
    memcpy(&v, d->p, sizeof v);
    d->p += sizeof v;
    if (key && isnan(v)) return -1;
    lua_pushnumber(L, v);
    break;
  }
  case T_STR:
    if (fget_varint(d, &n) || n > (uint64_t)(d->end - d->p)) return -1;
    lua_pushlstring(L, (const char *)d->p, (size_t)n);
    d->p += n;
    break;
  case T_TABLE:
  case T_TABLEH: {
    int with_hint = d->p[-1] == T_TABLEH;
    if (fget_varint(d, &n) || n > (uint64_t)(d->end - d->p) || n > INT32_MAX) return -1;
    size_t nhash = 0;
    if (with_hint) {
      if (d->p >= d->end) return -1;
      nhash = *d->p++;
      if (nhash > (size_t)(d->end - d->p) / 2) nhash = (size_t)(d->end - d->p) / 2;
    }
    if (++d->depth > LSTR_CLONE_MAX_DEPTH) return -1;
    /* a level holds the table, a key and a value: checked every few levels */
    if (d->depth % FSTACK_LEVELS == 1 && !lua_checkstack(L, 3 * FSTACK_LEVELS + 2)) return -1;
    lua_createtable(L, (int)n, (int)nhash);
    int t = ++d->top;
    for (uint64_t i = 1; i <= n; i++) {
      if (d->p < d->end && *d->p == T_NIL) { d->p++; continue; } /* a hole */
      if (fvalue(d, 0)) return -1;
      d->top--;
      lua_rawseti(L, t, (int)i);
    }
    for (;;) {
      if (d->p >= d->end) return -1;
      if (*d->p == T_END) { d->p++; break; }
      if (fvalue(d, 1) || fvalue(d, 0)) return -1;
      d->top -= 2;
      lua_rawset(L, t);
    }
    d->depth--;
    return 0; /* d->top counts the table already */
  }
  default: return -1; /* references, buffers, cdata, ports: the full decoder */
  }
  d->top++;
  return 0;
}

/* 1 with the value pushed, or 0 with the stack as it was. */
int clone_decode_fast(lua_State *L, const lstr_msg *m) {
  if (m->nblocks || m->nports || m->len < 2 || m->buf[0] != CLONE_MAGIC || m->buf[1] != CLONE_VERSION)
    return 0;
  int top = lua_gettop(L);
  fdec d = { L, m->buf + 2, m->buf + m->len, 0, top };
  if (fvalue(&d, 0) == 0 && d.p == d.end) return 1;
  lua_settop(L, top);
  return 0;
}

/* lua_pcall'd: (dec*) -> value */
static int decode_body(lua_State *L) {
  dec *d = lua_touserdata(L, 1);
  if (left(d) < 2 || d->p[0] != CLONE_MAGIC || d->p[1] != CLONE_VERSION)
    fail(d, "not a luster message");
  d->p += 2;
  lua_pushnil(L);
  d->make = lua_gettop(L);
  lua_newtable(L);
  d->objs = lua_gettop(L);
  dec_value(d);
  if (d->p != d->end) fail(d, "trailing bytes");
  return 1;
}

int lstr_msg_decode(lua_State *L, lstr_msg *m) {
  if (clone_decode_fast(L, m)) return 0;
  return clone_decode_full(L, m);
}

int clone_decode_full(lua_State *L, lstr_msg *m) {
  dec d;
  memset(&d, 0, sizeof d);
  d.L = L;
  d.m = m;
  d.p = m->buf;
  d.end = m->buf + m->len;
  lua_pushcfunction(L, decode_body);
  lua_pushlightuserdata(L, &d);
  int rc = lua_pcall(L, 1, 1, 0);
  free(d.info);
  if (d.pending) lstr_block_release(d.pending);
  if (rc != 0) {
    if (!lua_istable(L, -1)) {
      const char *msg = lua_tostring(L, -1);
      lstr_push_error(L, "DataCloneError", "%s", msg ? msg : "cannot decode message");
      lua_remove(L, -2);
    }
    return -1;
  }
  return 0;
}
