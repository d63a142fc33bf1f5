/*
 * clone.c — structured clone: messages and the encoder.
 *
 * Owns the lstr_msg lifetime (bytes, retained blocks, transferred ports) and
 * the walk of a Lua value into the format described in clone_wire.h.  The
 * decoder is clone_decode.c, the Lua binding clone_lua.c.
 *
 * Encoding runs inside lua_pcall so that any Lua error (a DataCloneError we
 * raise, or out of memory) unwinds to one place that frees the half-built
 * message.  It is all-or-nothing: transfers are only validated and prepared
 * during the walk (empty block headers allocated, ports claimed) and are
 * committed -- sources detached, ports taken -- after the walk succeeded.
 *
 * Identity: tables and views are keyed by themselves in a `seen` table, buffers
 * by their block (lightuserdata), because two handles can share one block.
 */
#include "clone_wire.h"

#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const lstr_transfer_hook *clone_hooks[8];
int clone_nhooks;

int lstr_clone_register_transfer(const lstr_transfer_hook *hook) {
  if (clone_nhooks >= (int)(sizeof clone_hooks / sizeof clone_hooks[0])) return -1;
  clone_hooks[clone_nhooks++] = hook;
  return 0;
}

/* ---------------------------------------------------------------- messages */

void lstr_msg_free(lstr_msg *m) {
  if (!m) return;
  for (size_t i = 0; i < m->nblocks; i++) lstr_block_release(m->blocks[i]);
  for (size_t i = 0; i < m->nports; i++) {
    clone_port *p = &m->ports[i];
    if (!p->delivered && p->payload && p->hook->drop) p->hook->drop(p->payload);
  }
  free(m->blocks);
  free(m->handed);
  free(m->ports);
  if (m->buf != m->inline_buf) free(m->buf);
  free(m);
}

/* Recycled blocks only help if the next message fits: sizes are rounded
 * up, and blocks above MSG_RECYCLE_MAX are not kept. */
#define MSG_MIN_CAP 96
#define MSG_RECYCLE_MAX 4096

lstr_msg *clone_msg_new(size_t cap, lstr_msg_cache *c) {
  lstr_msg *m = NULL;
  if (c && c->head) {
    m = c->head;
    c->head = m->next;
    if (!c->head) c->tail = NULL;
    c->n--;
    if (m->cap < cap) { free(m); m = NULL; }
  }
  if (!m) {
    size_t want = cap < MSG_MIN_CAP ? MSG_MIN_CAP : (cap + 63) & ~(size_t)63;
    m = malloc(sizeof *m + want);
    if (!m) return NULL;
    cap = want;
  } else {
    cap = m->cap;
  }
  memset(m, 0, sizeof *m);
  m->buf = m->inline_buf;
  m->cap = cap;
  return m;
}

void lstr_msg_recycle(lstr_msg *m, lstr_msg_cache *c) {
  if (!m) return;
  if (!c || c->n >= LSTR_MSG_CACHE_MAX || m->buf != m->inline_buf || m->cap > MSG_RECYCLE_MAX ||
      m->blocks || m->handed || m->ports) {
    lstr_msg_free(m);
    return;
  }
  m->next = NULL;
  if (c->tail) c->tail->next = m; else c->head = m;
  c->tail = m;
  c->n++;
}

void lstr_msg_cache_move(lstr_msg_cache *dst, lstr_msg_cache *src) {
  /* one splice whatever the sizes: the channel calls this under its lock,
   * where walking the list block by block (to stop at the cap) made the
   * sender's posts wait */
  if (!src->head || dst->n >= LSTR_MSG_CACHE_MAX) return;
  if (dst->tail) dst->tail->next = src->head; else dst->head = src->head;
  dst->tail = src->tail;
  dst->n += src->n;
  memset(src, 0, sizeof *src);
}

void lstr_msg_cache_clear(lstr_msg_cache *c) {
  lstr_msg *m = c->head;
  while (m) {
    lstr_msg *next = m->next;
    free(m);
    m = next;
  }
  memset(c, 0, sizeof *c);
}

const char *lstr_msg_bytes(const lstr_msg *m, size_t *len) {
  *len = m->len;
  return (const char *)m->buf;
}

lstr_msg *lstr_msg_from_bytes(const char *p, size_t len) {
  lstr_msg *m = clone_msg_new(len, NULL);
  if (!m) return NULL;
  memcpy(m->buf, p, len);
  m->len = len;
  return m;
}

/* Process messages hold only SharedArrayBuffers in `blocks` (transfers are
 * refused), so block i is descriptor i. */
size_t lstr_msg_nfds(const lstr_msg *m) { return m->nblocks; }

int lstr_msg_dup_fds(const lstr_msg *m, int *out) {
  for (size_t i = 0; i < m->nblocks; i++) {
    out[i] = lstr_fd_made(fcntl(m->blocks[i]->fd, F_DUPFD_CLOEXEC, 0));
    if (out[i] < 0) {
      while (i > 0) close(out[--i]);
      return -1;
    }
  }
  return (int)m->nblocks;
}

int lstr_msg_attach_fds(lstr_msg *m, const int *fds, size_t n) {
  int rc = 0;
  if (n && !m->blocks) {
    m->blocks = malloc(n * sizeof *m->blocks);
    m->handed = calloc(n, 1);
    if (!m->blocks || !m->handed) rc = -1;
    else m->capblocks = n;
  }
  for (size_t i = 0; i < n; i++) {
    if (rc != 0 || fds[i] < 0 || m->nblocks == m->capblocks) {
      if (fds[i] >= 0) close(fds[i]);
      rc = -1;
      continue;
    }
    lstr_block *b = lstr_block_from_fd(fds[i]);
    if (!b) { rc = -1; continue; }
    m->blocks[m->nblocks++] = b;
  }
  return rc;
}

/* ---------------------------------------------------------------- encoder */

enum { PATH_INDEX, PATH_KEY, PATH_TRANSFER };

typedef struct enc {
  lua_State *L;
  lstr_msg *m;
  int mode;
  int seen;     /* stack index: object -> id */
  int xfer;     /* stack index: block lightuserdata -> block index,
                   hook-claimed object -> -(port index + 1) */
  int classify; /* stack slot of luster.buffers' classify */
  int have_classify;
  int transfer; /* stack index of the transfer list, 0 if none */
  int nobjs;
  int depth;
  int in_key;   /* the failing value is a table key */
  struct { lstr_block *src, *dst; } *moves;
  size_t nmoves;
  int *port_src; /* transfer list position of each port */
  /* last, and not zeroed: entries are written before they are read */
  struct { int kind; int idx; lua_Number n; } path[LSTR_CLONE_MAX_DEPTH + 1];
} enc;

/* Append a path step for a key at stack index `idx` to the buffer on top. */
static void path_key(lua_State *L, luaL_Buffer *b, int idx) {
  static const char *const kw[] = {
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
    "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then",
    "true", "until", "while", NULL};
  char tmp[64];
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    int ident = n > 0 && !(s[0] >= '0' && s[0] <= '9');
    for (size_t i = 0; ident && i < n; i++) {
      unsigned char c = (unsigned char)s[i];
      ident = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }
    for (int i = 0; ident && kw[i]; i++) ident = strcmp(kw[i], s) != 0;
    if (ident) { luaL_addchar(b, '.'); luaL_addlstring(b, s, n); return; }
    luaL_addstring(b, "[\"");
    for (size_t i = 0; i < n && i < 200; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c == '"' || c == '\\') { luaL_addchar(b, '\\'); luaL_addchar(b, (char)c); }
      else if (c < 32 || c >= 127) { snprintf(tmp, sizeof tmp, "\\%d", c); luaL_addstring(b, tmp); }
      else luaL_addchar(b, (char)c);
    }
    luaL_addstring(b, "\"]");
    return;
  }
  case LUA_TNUMBER: {
    lua_Number d = lua_tonumber(L, idx);
    if (d == floor(d) && fabs(d) < 9007199254740992.0) snprintf(tmp, sizeof tmp, "[%lld]", (long long)d);
    else snprintf(tmp, sizeof tmp, "[%.14g]", d);
    luaL_addstring(b, tmp);
    return;
  }
  case LUA_TBOOLEAN:
    luaL_addstring(b, lua_toboolean(L, idx) ? "[true]" : "[false]");
    return;
  default:
    snprintf(tmp, sizeof tmp, "[<%s>]", luaL_typename(L, idx));
    luaL_addstring(b, tmp);
  }
}

/* Raise DataCloneError "<what> at <path> could not be cloned". */
static int enc_fail(enc *e, const char *what) {
  lua_State *L = e->L;
  luaL_Buffer b;
  lua_checkstack(L, 8);
  luaL_buffinit(L, &b);
  for (int i = 0; i < e->depth; i++) {
    if (e->path[i].kind == PATH_TRANSFER) {
      char tmp[48];
      snprintf(tmp, sizeof tmp, "transferList[%d]", (int)e->path[i].n);
      luaL_addstring(&b, tmp);
      continue;
    }
    if (i == 0) luaL_addstring(&b, "value");
    if (e->path[i].kind == PATH_INDEX) {
      char tmp[48];
      snprintf(tmp, sizeof tmp, "[%lld]", (long long)e->path[i].n);
      luaL_addstring(&b, tmp);
    } else {
      path_key(L, &b, e->path[i].idx);
    }
  }
  if (e->depth == 0) luaL_addstring(&b, "value");
  luaL_pushresult(&b);
  return lstr_error(L, "DataCloneError", "%s%s at %s could not be cloned", what,
                    e->in_key ? " (as a table key)" : "", lua_tostring(L, -1));
}

static void reserve(enc *e, size_t n) {
  lstr_msg *m = e->m;
  if (m->cap - m->len >= n) return;
  size_t cap = m->cap ? m->cap : 256;
  while (cap - m->len < n) {
    if (cap > ((size_t)1 << 46)) { lstr_error(e->L, "DataCloneError", "message too large"); return; }
    cap *= 2;
  }
  unsigned char *p = realloc(m->buf, cap);
  if (!p) { lstr_error(e->L, "DataCloneError", "out of memory"); return; }
  m->buf = p;
  m->cap = cap;
}

static void put(enc *e, const void *p, size_t n) {
  reserve(e, n);
  memcpy(e->m->buf + e->m->len, p, n);
  e->m->len += n;
}

static void put_u8(enc *e, int c) {
  unsigned char b = (unsigned char)c;
  put(e, &b, 1);
}

static void put_varint(enc *e, uint64_t v) {
  unsigned char tmp[10];
  put(e, tmp, wire_varint(tmp, v));
}

static size_t add_block(enc *e, lstr_block *b) {
  lstr_msg *m = e->m;
  if (m->nblocks == m->capblocks) {
    size_t cap = m->capblocks ? m->capblocks * 2 : 4;
    lstr_block **nb = realloc(m->blocks, cap * sizeof *nb);
    if (!nb) { lstr_block_release(b); lstr_error(e->L, "DataCloneError", "out of memory"); }
    m->blocks = nb;
    unsigned char *nh = realloc(m->handed, cap);
    if (!nh) { lstr_block_release(b); lstr_error(e->L, "DataCloneError", "out of memory"); }
    m->handed = nh;
    m->capblocks = cap;
  }
  m->handed[m->nblocks] = 0;
  m->blocks[m->nblocks] = b;
  return m->nblocks++;
}

/* If the object at idx (keyed by itself, or by `key` when not NULL) was met
 * before, write T_REF and return 1; else give it the next id, return 0. */
static int enc_identity(enc *e, int idx, void *key) {
  lua_State *L = e->L;
  if (key) lua_pushlightuserdata(L, key); else lua_pushvalue(L, idx);
  lua_rawget(L, e->seen);
  if (lua_isnumber(L, -1)) {
    put_u8(e, T_REF);
    put_varint(e, (uint64_t)lua_tonumber(L, -1));
    lua_pop(L, 1);
    return 1;
  }
  lua_pop(L, 1);
  if (key) lua_pushlightuserdata(L, key); else lua_pushvalue(L, idx);
  lua_pushinteger(L, e->nobjs++);
  lua_rawset(L, e->seen);
  return 0;
}

static void enc_value(enc *e, int idx);

static void enc_number(enc *e, lua_Number d) {
  if (d == floor(d) && fabs(d) < 9007199254740992.0 && !(d == 0 && signbit(d))) {
    int64_t i = (int64_t)d;
    put_u8(e, T_INT);
    put_varint(e, ((uint64_t)i << 1) ^ (uint64_t)(i >> 63));
  } else {
    put_u8(e, T_NUM);
    put(e, &d, sizeof d);
  }
}

static void enc_table(enc *e, int idx) {
  lua_State *L = e->L;
  if (enc_identity(e, idx, NULL)) return;
  if (e->depth >= LSTR_CLONE_MAX_DEPTH || !lua_checkstack(L, 8))
    enc_fail(e, "a table nested too deeply");
  size_t narr = lua_objlen(L, idx);
  put_u8(e, T_TABLEH);
  put_varint(e, narr);
  size_t hint_at = e->m->len, npairs = 0;
  put_u8(e, 0); /* the number of pairs, known after the walk */
  int d = e->depth++;
  for (size_t i = 1; i <= narr; i++) {
    e->path[d].kind = PATH_INDEX;
    e->path[d].n = (lua_Number)i;
    lua_rawgeti(L, idx, (int)i);
    enc_value(e, lua_gettop(L));
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int k = lua_gettop(L) - 1;
    if (lua_type(L, k) == LUA_TNUMBER) {
      lua_Number n = lua_tonumber(L, k);
      if (n >= 1 && n <= (lua_Number)narr && n == floor(n)) { lua_pop(L, 1); continue; }
    }
    e->path[d].kind = PATH_KEY;
    e->path[d].idx = k;
    e->in_key = 1;
    enc_value(e, k);
    e->in_key = 0;
    enc_value(e, k + 1);
    lua_pop(L, 1);
    npairs++;
  }
  e->depth--;
  e->m->buf[hint_at] = (unsigned char)(npairs > 255 ? 255 : npairs);
  put_u8(e, T_END);
}

/* A buffer (SAB or AB) by its block; used for buffers and views' buffers. */
static void enc_buffer(enc *e, lstr_block *b) {
  if (b->shared) {
    if (enc_identity(e, 0, b)) return;
    if (e->mode == LSTR_CLONE_PROCESS) {
      /* its memfd goes with the bytes (lstr_msg_dup_fds) */
      if (lstr_block_export(b) != 0)
        enc_fail(e, "a SharedArrayBuffer without shared memory (no descriptor was left to make it)");
      if (e->m->nblocks >= LSTR_MSG_MAX_FDS)
        enc_fail(e, "a SharedArrayBuffer too many: at most 252 travel in one message");
    }
    size_t i = add_block(e, lstr_block_retain(b));
    put_u8(e, T_SAB);
    put_varint(e, i);
    return;
  }
  if (!b->data) enc_fail(e, "a detached ArrayBuffer");
  if (enc_identity(e, 0, b)) return;
  lua_State *L = e->L;
  lua_pushlightuserdata(L, b);
  lua_rawget(L, e->xfer);
  if (lua_isnumber(L, -1)) {
    put_u8(e, T_ABMOVED);
    put_varint(e, (uint64_t)lua_tonumber(L, -1));
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  put_u8(e, T_AB);
  put_varint(e, b->length);
  put(e, b->data, b->length);
}

int clone_push_cdata_hooks(lua_State *L) {
  for (int attempt = 0; attempt < 2; attempt++) {
    lua_getfield(L, LUA_REGISTRYINDEX, CLONE_HOOKS_KEY);
    if (lua_istable(L, -1)) return 1;
    lua_pop(L, 1);
    lstr_state *s = lstr_ctx(L);
    if (attempt || !s || s->load_buffers_ref == LUA_NOREF) break;
    /* luster.buffers loads on first use (bootstrap.lua); loading it sets
     * the hooks through native.clone's set_cdata_hooks */
    lstr_push_ref(L, s->load_buffers_ref);
    if (lua_pcall(L, 0, 0, 0) != 0) lua_pop(L, 1);
  }
  return 0;
}

/* luster.buffers' classify into its reserved stack slot.  0 if unavailable. */
static int have_classify(enc *e) {
  lua_State *L = e->L;
  if (e->have_classify) return 1;
  if (clone_push_cdata_hooks(L)) {
    lua_getfield(L, -1, "classify");
    if (lua_isfunction(L, -1)) {
      lua_replace(L, e->classify);
      e->have_classify = 1;
    } else {
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  return e->have_classify;
}

/* Ask luster.buffers what a cdata is: pushes its 5 answers. */
static const char *classify(enc *e, int idx) {
  lua_State *L = e->L;
  if (!have_classify(e)) return NULL;
  lua_pushvalue(L, e->classify);
  lua_pushvalue(L, idx);
  lua_call(L, 1, 5);
  return lua_tostring(L, -5);
}

static lstr_block *block_at(lua_State *L, int idx) {
  return (lstr_block *)(uintptr_t)lua_tonumber(L, idx);
}

static void enc_cdata(enc *e, int idx) {
  lua_State *L = e->L;
  const char *tag = classify(e, idx);
  if (!tag) enc_fail(e, "cdata");
  if (!strcmp(tag, "i64") || !strcmp(tag, "u64")) {
    uint64_t v = ((uint64_t)(uint32_t)lua_tonumber(L, -3) << 32) | (uint32_t)lua_tonumber(L, -4);
    put_u8(e, tag[0] == 'i' ? T_I64 : T_U64);
    put(e, &v, sizeof v);
  } else if (!strcmp(tag, "sab") || !strcmp(tag, "ab")) {
    enc_buffer(e, block_at(L, -4));
  } else if (!strcmp(tag, "view")) {
    lstr_block *b = block_at(L, -4);
    int kind = (int)lua_tointeger(L, -3);
    lua_Number off = lua_tonumber(L, -2), len = lua_tonumber(L, -1);
    if (!b->data && !b->shared) enc_fail(e, "a view of a detached ArrayBuffer");
    if (!enc_identity(e, idx, NULL)) {
      put_u8(e, T_VIEW);
      put_u8(e, kind);
      put_varint(e, (uint64_t)off);
      put_varint(e, (uint64_t)len);
      enc_buffer(e, b);
    }
  } else {
    enc_fail(e, "cdata");
  }
  lua_pop(L, 5);
}

/* Which hook claims the object at idx: index, or -1 (none). *state gets the
 * claim's answer. */
static int hook_of(lua_State *L, int idx, int *state) {
  for (int i = 0; i < clone_nhooks; i++) {
    int r = clone_hooks[i]->claim(L, idx);
    if (r) { *state = r; return i; }
  }
  return -1;
}

/* Tables and userdata may be transferred objects (ports). Returns 1 if
 * written as such. */
static int enc_port(enc *e, int idx) {
  lua_State *L = e->L;
  if (!clone_nhooks) return 0;
  lua_pushvalue(L, idx);
  lua_rawget(L, e->xfer);
  if (lua_isnumber(L, -1)) {
    int slot = -(int)lua_tointeger(L, -1) - 1;
    lua_pop(L, 1);
    if (!enc_identity(e, idx, NULL)) {
      put_u8(e, T_PORT);
      put_varint(e, (uint64_t)slot);
    }
    return 1;
  }
  lua_pop(L, 1);
  int state;
  int h = hook_of(L, idx, &state);
  if (h >= 0) {
    char what[96];
    snprintf(what, sizeof what, "a %s not listed in transferList", clone_hooks[h]->name);
    enc_fail(e, what);
  }
  return 0;
}

static void enc_value(enc *e, int idx) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
  case LUA_TNIL: put_u8(e, T_NIL); break;
  case LUA_TBOOLEAN: put_u8(e, lua_toboolean(L, idx) ? T_TRUE : T_FALSE); break;
  case LUA_TNUMBER: enc_number(e, lua_tonumber(L, idx)); break;
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    put_u8(e, T_STR);
    put_varint(e, n);
    put(e, s, n);
    break;
  }
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) != NULL) enc_fail(e, "a light userdata");
    put_u8(e, T_NULL); /* json.null */
    break;
  case LUA_TTABLE:
    if (!enc_port(e, idx)) enc_table(e, idx);
    break;
  case LSTR_TCDATA: enc_cdata(e, idx); break;
  case LUA_TUSERDATA:
    if (!enc_port(e, idx)) enc_fail(e, "a userdata");
    break;
  case LUA_TFUNCTION: enc_fail(e, "a function"); break;
  case LUA_TTHREAD: enc_fail(e, "a coroutine"); break;
  default: enc_fail(e, luaL_typename(L, idx));
  }
}

/* Validate and record one transferList entry (stack top); nothing moves yet. */
static void enc_transfer_entry(enc *e, int pos) {
  lua_State *L = e->L;
  int v = lua_gettop(L);
  int t = lua_type(L, v);
  if (t == LSTR_TCDATA) {
    const char *tag = classify(e, v);
    if (tag && !strcmp(tag, "ab")) {
      lstr_block *b = block_at(L, -4);
      lua_pop(L, 5);
      if (e->mode == LSTR_CLONE_PROCESS) enc_fail(e, "an ArrayBuffer transfer (not possible between processes)");
      if (!b->data) enc_fail(e, "a detached ArrayBuffer");
      if (b->flags & LSTR_BLOCK_UNTRANSFERABLE) enc_fail(e, "an ArrayBuffer marked as untransferable");
      lua_pushlightuserdata(L, b);
      lua_rawget(L, e->xfer);
      int dup = !lua_isnil(L, -1);
      lua_pop(L, 1);
      if (dup) enc_fail(e, "an ArrayBuffer listed twice");
      lstr_block *dst = lstr_block_new_header();
      if (!dst) lstr_error(L, "DataCloneError", "out of memory");
      size_t bi = add_block(e, dst);
      void *nm = realloc(e->moves, (e->nmoves + 1) * sizeof *e->moves);
      if (!nm) lstr_error(L, "DataCloneError", "out of memory");
      e->moves = nm;
      e->moves[e->nmoves].src = b;
      e->moves[e->nmoves].dst = dst;
      e->nmoves++;
      lua_pushlightuserdata(L, b);
      lua_pushinteger(L, (lua_Integer)bi);
      lua_rawset(L, e->xfer);
      return;
    }
    if (tag && !strcmp(tag, "sab")) enc_fail(e, "a SharedArrayBuffer (shared, never transferred)");
    enc_fail(e, "a value that is not transferable");
  }
  if (t == LUA_TTABLE || t == LUA_TUSERDATA) {
    int state;
    int h = hook_of(L, v, &state);
    if (h >= 0) {
      char what[96];
      if (e->mode == LSTR_CLONE_PROCESS) {
        snprintf(what, sizeof what, "a %s (not transferable between processes)", clone_hooks[h]->name);
        enc_fail(e, what);
      }
      if (state < 0) {
        snprintf(what, sizeof what, "a %s that cannot be transferred (closed or moved)", clone_hooks[h]->name);
        enc_fail(e, what);
      }
      lua_pushvalue(L, v);
      lua_rawget(L, e->xfer);
      int dup = !lua_isnil(L, -1);
      lua_pop(L, 1);
      if (dup) {
        snprintf(what, sizeof what, "a %s listed twice", clone_hooks[h]->name);
        enc_fail(e, what);
      }
      lstr_msg *m = e->m;
      void *np = realloc(m->ports, (m->nports + 1) * sizeof *m->ports);
      if (!np) lstr_error(L, "DataCloneError", "out of memory");
      m->ports = np;
      void *ns = realloc(e->port_src, (m->nports + 1) * sizeof *e->port_src);
      if (!ns) lstr_error(L, "DataCloneError", "out of memory");
      e->port_src = ns;
      e->port_src[m->nports] = pos;
      m->ports[m->nports].hook = clone_hooks[h];
      m->ports[m->nports].payload = NULL;
      m->ports[m->nports].delivered = 1; /* until take() succeeded */
      lua_pushvalue(L, v);
      lua_pushinteger(L, -(lua_Integer)m->nports - 1);
      lua_rawset(L, e->xfer);
      m->nports++;
      return;
    }
  }
  enc_fail(e, "a value that is not transferable");
}

/* lua_pcall'd: (enc*, value, transferList) */
static int encode_body(lua_State *L) {
  enc *e = lua_touserdata(L, 1);
  lua_newtable(L);
  e->seen = lua_gettop(L);
  lua_newtable(L);
  e->xfer = lua_gettop(L);
  lua_pushnil(L); /* classify, fetched when a cdata is met */
  e->classify = lua_gettop(L);
  e->transfer = lua_istable(L, 3) ? 3 : 0;
  if (!e->transfer && !lua_isnil(L, 3))
    return lstr_error(L, "ERR_INVALID_ARG_TYPE", "transferList must be an array (table)");

  put_u8(e, CLONE_MAGIC);
  put_u8(e, CLONE_VERSION);

  if (e->transfer) {
    int n = (int)lua_objlen(L, 3);
    e->path[0].kind = PATH_TRANSFER;
    e->depth = 1;
    for (int i = 1; i <= n; i++) {
      e->path[0].n = i;
      lua_rawgeti(L, 3, i);
      enc_transfer_entry(e, i);
      lua_pop(L, 1);
    }
    e->depth = 0;
  }

  enc_value(e, 2);

  /* Commit: nothing below can fail. */
  for (size_t i = 0; i < e->nmoves; i++) lstr_block_steal(e->moves[i].dst, e->moves[i].src);
  for (size_t i = 0; i < e->m->nports; i++) {
    clone_port *p = &e->m->ports[i];
    lua_rawgeti(L, 3, e->port_src[i]);
    p->payload = p->hook->take(L, lua_gettop(L));
    p->delivered = 0;
    lua_pop(L, 1);
  }
  return 0;
}

lstr_msg *lstr_msg_encode(lua_State *L, int value_idx, int transfer_idx, int mode) {
  return lstr_msg_encode_cached(L, value_idx, transfer_idx, mode, NULL);
}

lstr_msg *lstr_msg_encode_cached(lua_State *L, int value_idx, int transfer_idx, int mode,
                                 lstr_msg_cache *c) {
  if (value_idx < 0 && value_idx > LUA_REGISTRYINDEX) value_idx = lua_gettop(L) + value_idx + 1;
  if (transfer_idx < 0 && transfer_idx > LUA_REGISTRYINDEX) transfer_idx = lua_gettop(L) + transfer_idx + 1;
  /* plain values, nothing to transfer: clone_fast.c, or the full walk */
  if (!transfer_idx || lua_isnil(L, transfer_idx) ||
      (lua_type(L, transfer_idx) == LUA_TTABLE && lua_objlen(L, transfer_idx) == 0)) {
    lstr_msg *m = clone_encode_fast(L, value_idx, c);
    if (m) return m;
  }
  return clone_encode_full(L, value_idx, transfer_idx, mode);
}

lstr_msg *clone_encode_full(lua_State *L, int value_idx, int transfer_idx, int mode) {
  if (value_idx < 0 && value_idx > LUA_REGISTRYINDEX) value_idx = lua_gettop(L) + value_idx + 1;
  if (transfer_idx < 0 && transfer_idx > LUA_REGISTRYINDEX) transfer_idx = lua_gettop(L) + transfer_idx + 1;
  /* on the stack, and only its head cleared: a ~12 KB heap block per
   * message made glibc consolidate its bins on every post */
  enc e_, *e = &e_;
  memset(e, 0, offsetof(enc, path));
  lstr_msg *m = calloc(1, sizeof *m);
  if (!m) {
    lstr_push_error(L, "DataCloneError", "out of memory");
    return NULL;
  }
  e->L = L;
  e->m = m;
  e->mode = mode;
  lua_pushcfunction(L, encode_body);
  lua_pushlightuserdata(L, e);
  lua_pushvalue(L, value_idx);
  if (transfer_idx) lua_pushvalue(L, transfer_idx); else lua_pushnil(L);
  int rc = lua_pcall(L, 3, 0, 0);
  free(e->moves);
  free(e->port_src);
  if (rc != 0) {
    if (!lua_istable(L, -1)) {
      const char *msg = lua_tostring(L, -1);
      lstr_push_error(L, "DataCloneError", "%s", msg ? msg : "cannot clone");
      lua_remove(L, -2);
    }
    lstr_msg_free(m);
    return NULL;
  }
  return m;
}
