/*
 * clone_fast.c — structured clone: the encoder's fast path.
 *
 * Most messages are small trees of plain values: numbers, strings,
 * booleans, json.null and tables of those, no buffers, no ports, no
 * transfer list.  clone.c's full encoder pays for its generality on every
 * message (a lua_pcall, two Lua tables to track identity and transfers, a
 * transfer-hook question per table, a realloc'ed buffer), which made a
 * small table cost ~1.5 us.  This path walks the same value with no Lua
 * call and no allocation until the end:
 *
 *   - the bytes go to a per-thread scratch buffer, reused by every message,
 *     and the message is then one malloc (header and bytes together);
 *   - table identity (shared references and cycles) is kept in a per-thread
 *     open-addressing set of table addresses, stamped with a generation
 *     number so that starting a message clears it in O(1);
 *   - it never raises: anything it does not handle (userdata, cdata,
 *     functions, light userdata other than json.null, nesting too deep, a
 *     stack that will not grow) makes it give up, and the caller runs the
 *     full encoder from the start, which produces the same bytes or the
 *     DataCloneError with its path.
 *
 * The output is byte for byte what clone.c's encoder writes for the same
 * value (the same traversal: array part 1..#t, then lua_next order
 * skipping those keys; objects numbered in the order first met).
 */
#include "clone_wire.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------ per-thread scratch state */

typedef struct seen_slot { const void *key; uint32_t gen, id; } seen_slot;

typedef struct scratch {
  unsigned char *buf;
  size_t cap;
  seen_slot *slots; /* open addressing, power-of-two size */
  size_t nslots, used;
  uint32_t gen;
} scratch;

/* Bigger buffers are given back after the message: one huge message should
 * not pin its size for the thread's life. */
#define SCRATCH_KEEP (64 * 1024)
#define SEEN_KEEP 4096

/* The thread's scratch, found through a thread-local pointer (two libc
 * calls fewer per message); the pthread key is only there so that the
 * thread's exit frees it. */
static _Thread_local scratch *thread_scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_destroy(void *p) {
  scratch *s = p;
  thread_scratch = NULL;
  free(s->buf);
  free(s->slots);
  free(s);
}

static void scratch_init(void) { pthread_key_create(&scratch_key, scratch_destroy); }

static scratch *scratch_get(void) {
  scratch *s = thread_scratch;
  if (s) return s;
  pthread_once(&scratch_once, scratch_init);
  s = calloc(1, sizeof *s);
  if (!s || pthread_setspecific(scratch_key, s) != 0) { free(s); return NULL; }
  return thread_scratch = s;
}

/* ------------------------------------------------------------ the walk */

typedef struct fenc {
  lua_State *L;
  scratch *s;
  size_t len;
  uint32_t nobjs;
  int depth;
  int top;      /* the stack top, tracked rather than asked for */
  int two_pass; /* the array part by index (see ftable) */
} fenc;

#define STACK_LEVELS 8

#define GIVE_UP (-1)

static int grow(fenc *e, size_t n) {
  scratch *s = e->s;
  size_t cap = s->cap ? s->cap : 512;
  while (cap - e->len < n) {
    if (cap > ((size_t)1 << 40)) return GIVE_UP; /* the full encoder says why */
    cap *= 2;
  }
  unsigned char *p = realloc(s->buf, cap);
  if (!p) return GIVE_UP;
  s->buf = p;
  s->cap = cap;
  return 0;
}

static inline int put(fenc *e, const void *p, size_t n) {
  if (e->s->cap - e->len < n && grow(e, n) != 0) return GIVE_UP;
  memcpy(e->s->buf + e->len, p, n);
  e->len += n;
  return 0;
}

static inline int put_u8(fenc *e, int c) {
  if (e->s->cap == e->len && grow(e, 1) != 0) return GIVE_UP;
  e->s->buf[e->len++] = (unsigned char)c;
  return 0;
}

static inline int put_varint(fenc *e, uint64_t v) {
  unsigned char tmp[10];
  return put(e, tmp, wire_varint(tmp, v));
}

static inline size_t hash_ptr(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ULL;
  return (size_t)(x ^ (x >> 32));
}

static int seen_grow(scratch *s) {
  size_t n = s->nslots ? s->nslots * 2 : 64;
  seen_slot *v = calloc(n, sizeof *v);
  if (!v) return GIVE_UP;
  for (size_t i = 0; i < s->nslots; i++) {
    seen_slot *o = &s->slots[i];
    if (o->gen != s->gen) continue;
    size_t j = hash_ptr(o->key) & (n - 1);
    while (v[j].gen == s->gen) j = (j + 1) & (n - 1);
    v[j] = *o;
  }
  free(s->slots);
  s->slots = v;
  s->nslots = n;
  return 0;
}

/* The id of table `key` if met before (returns 1), else records it with
 * the next id (returns 0), or GIVE_UP. */
static int seen(fenc *e, const void *key, uint32_t *id) {
  scratch *s = e->s;
  if ((s->used + 1) * 2 > s->nslots && seen_grow(s) != 0) return GIVE_UP;
  size_t mask = s->nslots - 1, i = hash_ptr(key) & mask;
  for (;; i = (i + 1) & mask) {
    seen_slot *sl = &s->slots[i];
    if (sl->gen != s->gen) {
      sl->key = key;
      sl->gen = s->gen;
      sl->id = e->nobjs++;
      s->used++;
      return 0;
    }
    if (sl->key == key) { *id = sl->id; return 1; }
  }
}

static int fvalue(fenc *e, int idx, int type);

/* Room for n more bytes, so that the writes after it need no check. */
static inline int reserve(fenc *e, size_t n) {
  return e->s->cap - e->len < n && grow(e, n) != 0 ? GIVE_UP : 0;
}

/* The integer value of d when it is one the wire carries as T_INT
 * (integer-valued, below 2^53 in magnitude, not -0); 0 otherwise.  A
 * cast and back rather than floor(): floor() was a fifth of the walk. */
static inline int as_wire_int(lua_Number d, int64_t *out) {
  if (!(fabs(d) < 9007199254740992.0)) return 0; /* NaN fails this too */
  int64_t i = (int64_t)d;
  if ((lua_Number)i != d || (i == 0 && signbit(d))) return 0;
  *out = i;
  return 1;
}

/* The array index 1..narr that the key at k stands for, or 0. */
static inline size_t array_key(lua_State *L, int k, int ktype, size_t narr) {
  if (!narr || ktype != LUA_TNUMBER) return 0;
  lua_Number n = lua_tonumber(L, k);
  int64_t i;
  return n >= 1 && n <= (lua_Number)narr && as_wire_int(n, &i) ? (size_t)i : 0;
}

/* Each C API call is a few nanoseconds and a small table is a few dozen
 * of them, so the walk makes as few as it can: one lua_next pass over the
 * whole table.  The wire wants the array part 1..narr first, which that
 * pass yields in order as long as the table keeps those keys in its array
 * part (LuaJIT traverses it first, in index order); the missing ones are
 * the holes, written as nil.  When an index comes out of order (kept in
 * the hash part: a table filled from the top, say) the one pass cannot
 * tell, and the message is encoded again the two-pass way (RETRY). */
#define RETRY (-2)

static int ftable_two_pass(fenc *e, int idx, size_t narr, size_t *npairs) {
  lua_State *L = e->L;
  int top = e->top;
  for (size_t i = 1; i <= narr; i++) {
    lua_rawgeti(L, idx, (int)i);
    e->top = top + 1;
    int rc = fvalue(e, top + 1, lua_type(L, top + 1));
    lua_settop(L, top);
    e->top = top;
    if (rc) return rc;
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int k = top + 1, kt = lua_type(L, k);
    if (array_key(L, k, kt, narr)) { lua_settop(L, k); continue; }
    e->top = k + 1;
    int rc = fvalue(e, k, kt);
    if (!rc) rc = fvalue(e, k + 1, lua_type(L, k + 1));
    lua_settop(L, k);
    e->top = k;
    if (rc) { lua_settop(L, top); e->top = top; return rc; }
    (*npairs)++;
  }
  e->top = top;
  return 0;
}

static int ftable_one_pass(fenc *e, int idx, size_t narr, size_t *npairs) {
  lua_State *L = e->L;
  int top = e->top;
  size_t next_i = 1; /* the array index to write next */
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int k = top + 1, kt = lua_type(L, k);
    size_t i = array_key(L, k, kt, narr);
    int rc = 0;
    e->top = k + 1;
    if (i) {
      if (i < next_i) rc = RETRY; /* the pairs have begun, or out of order */
      for (; !rc && next_i < i; next_i++) rc = put_u8(e, T_NIL);
      if (!rc) rc = fvalue(e, k + 1, lua_type(L, k + 1));
      next_i = i + 1;
    } else {
      for (; !rc && next_i <= narr; next_i++) rc = put_u8(e, T_NIL); /* holes */
      if (!rc) rc = fvalue(e, k, kt);
      if (!rc) rc = fvalue(e, k + 1, lua_type(L, k + 1));
      (*npairs)++;
    }
    lua_settop(L, k);
    e->top = k;
    if (rc) { lua_settop(L, top); e->top = top; return rc; }
  }
  e->top = top;
  for (; next_i <= narr; next_i++)
    if (put_u8(e, T_NIL)) return GIVE_UP;
  return 0;
}

static int ftable(fenc *e, int idx) {
  lua_State *L = e->L;
  uint32_t id;
  int r = seen(e, lua_topointer(L, idx), &id);
  if (r == GIVE_UP) return GIVE_UP;
  if (r == 1) return put_u8(e, T_REF) || put_varint(e, id) ? GIVE_UP : 0;
  if (e->depth >= LSTR_CLONE_MAX_DEPTH) return GIVE_UP;
  /* the stack grows by two slots a level: checked every STACK_LEVELS */
  if (e->depth % STACK_LEVELS == 0 && !lua_checkstack(L, 2 * STACK_LEVELS + 2)) return GIVE_UP;
  size_t narr = lua_objlen(L, idx);
  if (put_u8(e, T_TABLEH) || put_varint(e, narr)) return GIVE_UP;
  size_t hint_at = e->len, npairs = 0;
  if (put_u8(e, 0)) return GIVE_UP; /* the number of pairs, known after the walk */
  e->depth++;
  int rc = e->two_pass ? ftable_two_pass(e, idx, narr, &npairs) : ftable_one_pass(e, idx, narr, &npairs);
  if (rc) return rc;
  e->s->buf[hint_at] = (unsigned char)(npairs > 255 ? 255 : npairs);
  e->depth--;
  return put_u8(e, T_END);
}

static int fvalue(fenc *e, int idx, int type) {
  lua_State *L = e->L;
  switch (type) {
  case LUA_TNIL: return put_u8(e, T_NIL);
  case LUA_TBOOLEAN: return put_u8(e, lua_toboolean(L, idx) ? T_TRUE : T_FALSE);
  case LUA_TNUMBER: {
    lua_Number d = lua_tonumber(L, idx);
    if (reserve(e, 1 + sizeof d + 10)) return GIVE_UP;
    unsigned char *out = e->s->buf + e->len;
    int64_t i;
    if (as_wire_int(d, &i)) {
      out[0] = T_INT;
      e->len += 1 + wire_varint(out + 1, ((uint64_t)i << 1) ^ (uint64_t)(i >> 63));
    } else {
      out[0] = T_NUM;
      memcpy(out + 1, &d, sizeof d);
      e->len += 1 + sizeof d;
    }
    return 0;
  }
  case LUA_TSTRING: {
    size_t n;
    const char *p = lua_tolstring(L, idx, &n);
    if (n > ((size_t)1 << 40) || reserve(e, 1 + 10 + n)) return GIVE_UP;
    unsigned char *out = e->s->buf + e->len;
    out[0] = T_STR;
    size_t h = 1 + wire_varint(out + 1, n);
    memcpy(out + h, p, n);
    e->len += h + n;
    return 0;
  }
  case LUA_TLIGHTUSERDATA:
    return lua_touserdata(L, idx) == NULL ? put_u8(e, T_NULL) : GIVE_UP;
  case LUA_TTABLE: return ftable(e, idx);
  default: return GIVE_UP; /* userdata, cdata, functions...: the full encoder */
  }
}

/* One attempt at the whole value; GIVE_UP, RETRY or 0. */
static int fencode(fenc *e, int value_idx) {
  if (++e->s->gen == 0) { /* wrapped: stale stamps could match again */
    memset(e->s->slots, 0, e->s->nslots * sizeof *e->s->slots);
    e->s->gen = 1;
  }
  e->s->used = 0;
  e->len = 0;
  e->nobjs = 0;
  e->depth = 0;
  int top = e->top = lua_gettop(e->L);
  int rc = put_u8(e, CLONE_MAGIC) || put_u8(e, CLONE_VERSION) ? GIVE_UP : 0;
  if (!rc) rc = fvalue(e, value_idx, lua_type(e->L, value_idx));
  lua_settop(e->L, top);
  return rc;
}

lstr_msg *clone_encode_fast(lua_State *L, int value_idx, lstr_msg_cache *c) {
  fenc e = { L, scratch_get(), 0, 0, 0, 0, 0 };
  if (!e.s) return NULL;
  int rc = fencode(&e, value_idx);
  if (rc == RETRY) {
    e.two_pass = 1;
    rc = fencode(&e, value_idx);
  }
  lstr_msg *m = rc ? NULL : clone_msg_new(e.len, c);
  if (m) {
    memcpy(m->buf, e.s->buf, e.len);
    m->len = e.len;
  }
  if (e.s->cap > SCRATCH_KEEP) { free(e.s->buf); e.s->buf = NULL; e.s->cap = 0; }
  if (e.s->nslots > SEEN_KEEP) { free(e.s->slots); e.s->slots = NULL; e.s->nslots = 0; }
  return m;
}
