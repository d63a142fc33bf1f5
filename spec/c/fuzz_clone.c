/*
 * fuzz_clone.c — libFuzzer target for the structured-clone serializer.
 *
 * Every input is treated as the flat bytes of a message from another process
 * (lstr_msg_from_bytes) and checked three ways:
 *
 *   1. the decoder answers with a value or a DataCloneError, never a crash,
 *      an out-of-bounds read or a leak;
 *   2. the two decoders agree: when the fast one (clone_decode_fast) takes
 *      the message, the full one (clone_decode_full) takes it too and builds
 *      the same value (compared by encoding both with the full encoder: the
 *      two decoders size and fill tables alike, so equal values give equal
 *      bytes);
 *   3. the two encoders agree: the decoded value, encoded by the fast path
 *      (clone_encode_fast) whenever it does not give up, gives exactly the
 *      bytes of the full encoder (clone_encode_full).
 *
 * So the fuzzer drives both paths from C on values the decoder builds from
 * arbitrary bytes: nested tables, shared references and cycles, binary
 * strings, every number, typed arrays (over luster.buffers, loaded from the
 * source tree: LUSTER_LUA_DIR; its FFI calls need -rdynamic).
 *
 * One Lua state serves every input (collected between inputs): the runtime's
 * allocator context is a stand-in lstr_state whose load_buffers hook loads
 * luster.buffers, as bootstrap.lua's does.  The runtime's errors.c needs a
 * whole state, so the functions the serializer calls are small stand-ins.
 *
 *   scripts/fuzz fuzz_clone 150
 */
#include "clone_wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LUSTER_LUA_DIR
#define LUSTER_LUA_DIR "lua"
#endif

static void push_error(lua_State *L, const char *code, const char *fmt, va_list ap) {
  lua_createtable(L, 0, 2);
  lua_pushstring(L, code);
  lua_setfield(L, -2, "code");
  lua_pushvfstring(L, fmt, ap);
  lua_setfield(L, -2, "message");
}

void lstr_push_error(lua_State *L, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  push_error(L, code, fmt, ap);
  va_end(ap);
}

int lstr_error(lua_State *L, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  push_error(L, code, fmt, ap);
  va_end(ap);
  return lua_error(L);
}

void lstr_dispatch(lstr_state *s, int nargs) { lua_pop(s->L, nargs + 1); }

/* The allocator context lstr_ctx() finds: only the hook refs are used. */
static lstr_state fake_state;

static void *fuzz_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) { free(ptr); return NULL; }
  return realloc(ptr, nsize);
}

static lua_State *state(void) {
  static lua_State *L;
  if (L) return L;
  fake_state.load_buffers_ref = fake_state.wrap_port_ref = fake_state.worker_start_ref = LUA_NOREF;
  L = lua_newstate(fuzz_alloc, &fake_state);
  if (!L) abort();
  fake_state.L = L;
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, LUSTER_LUA_DIR "/?.lua");
  lua_setfield(L, -2, "path");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_native_clone);
  lua_setfield(L, -2, "native.clone");
  lua_pop(L, 2);
  /* what bootstrap.lua's load_buffers does */
  if (luaL_loadstring(L, "require('luster.buffers')") != 0) abort();
  fake_state.load_buffers_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return L;
}

/* The full encoder's bytes for the value at idx, as a Lua string pushed on
 * the stack; nil when it refuses the value. */
static void push_full_bytes(lua_State *L, int idx) {
  lstr_msg *m = clone_encode_full(L, idx, 0, LSTR_CLONE_THREAD);
  if (!m) { lua_pop(L, 1); lua_pushnil(L); return; }
  size_t n;
  const char *p = lstr_msg_bytes(m, &n);
  lua_pushlstring(L, p, n);
  lstr_msg_free(m);
}

/* Whether a table reachable from idx has a table as a key: those hash by
 * address, so two equal values may iterate (and encode) their keys in
 * different orders.  `seen` is a stack index of a table of visited ones. */
static int has_table_keys(lua_State *L, int idx, int seen) {
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  lua_pushvalue(L, idx);
  lua_rawget(L, seen);
  int visited = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (visited) return 0;
  lua_pushvalue(L, idx);
  lua_pushboolean(L, 1);
  lua_rawset(L, seen);
  if (!lua_checkstack(L, 4)) return 1; /* too deep to tell: say yes */
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int k = lua_gettop(L) - 1;
    if (lua_type(L, k) == LUA_TTABLE || has_table_keys(L, k + 1, seen)) { lua_pop(L, 2); return 1; }
    lua_pop(L, 1);
  }
  return 0;
}

static void check_error(lua_State *L) {
  /* must be a DataCloneError table (or an out-of-memory report) */
  if (!lua_istable(L, -1)) abort();
  lua_getfield(L, -1, "code");
  const char *code = lua_tostring(L, -1);
  if (!code || (strcmp(code, "DataCloneError") && strcmp(code, "ERR_MEMORY_ALLOCATION_FAILED"))) abort();
  lua_pop(L, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = state();
  int top = lua_gettop(L);
  lstr_msg *m = lstr_msg_from_bytes((const char *)data, size);
  if (!m) return 0;

  int by_fast = clone_decode_fast(L, m) ? lua_gettop(L) : 0;
  if (clone_decode_full(L, m) != 0) {
    if (by_fast) abort(); /* the fast decoder took what the full one refuses */
    check_error(L);
    lstr_msg_free(m);
    lua_settop(L, top);
    return 0;
  }
  int v = lua_gettop(L);

  /* 2. the decoders agree (table keys aside: see has_table_keys) */
  lua_newtable(L);
  int table_keys = has_table_keys(L, v, lua_gettop(L));
  lua_pop(L, 1);
  if (by_fast && !table_keys) {
    push_full_bytes(L, by_fast);
    push_full_bytes(L, v);
    if (!lua_rawequal(L, -1, -2)) {
      size_t na = 0, nb = 0;
      const char *a = lua_tolstring(L, -2, &na), *b = lua_tolstring(L, -1, &nb);
      fprintf(stderr, "the decoders disagree\nfast:");
      for (size_t i = 0; a && i < na; i++) fprintf(stderr, " %02x", (unsigned char)a[i]);
      fprintf(stderr, "\nfull:");
      for (size_t i = 0; b && i < nb; i++) fprintf(stderr, " %02x", (unsigned char)b[i]);
      fprintf(stderr, "\nin:");
      for (size_t i = 0; i < size; i++) fprintf(stderr, " %02x", data[i]);
      fprintf(stderr, "\n");
      abort();
    }
    lua_pop(L, 2);
  }

  /* 3. the encoders agree */
  lstr_msg *fast = clone_encode_fast(L, v, NULL);
  if (fast) {
    push_full_bytes(L, v);
    size_t n, nf;
    const char *full = lua_tolstring(L, -1, &n);
    const char *fb = lstr_msg_bytes(fast, &nf);
    if (!full || n != nf || memcmp(full, fb, n) != 0) {
      fprintf(stderr, "the encoders disagree\nfast:");
      for (size_t i = 0; i < nf; i++) fprintf(stderr, " %02x", (unsigned char)fb[i]);
      fprintf(stderr, "\nfull:");
      for (size_t i = 0; full && i < n; i++) fprintf(stderr, " %02x", (unsigned char)full[i]);
      fprintf(stderr, "\n");
      abort();
    }
    lstr_msg_free(fast);
  }

  lstr_msg_free(m);
  lua_settop(L, top);
  lua_gc(L, LUA_GCCOLLECT, 0); /* blocks the values held are released now */
  return 0;
}
