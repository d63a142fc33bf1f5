/*
 * fuzz_clone.c — libFuzzer target for the structured-clone decoder.
 *
 * Every input is treated as the flat bytes of a message from another process
 * (lstr_msg_from_bytes) and decoded into a fresh lua_State.  The decoder must
 * answer with a value or a DataCloneError, never crash, read out of bounds or
 * leak.  Inputs that reach typed arrays load lua/luster/buffers.lua from the
 * source tree (LUSTER_LUA_DIR), whose FFI calls need -rdynamic.
 *
 * The runtime's errors.c needs a whole lstr_state, so the three functions the
 * decoder calls are small local stand-ins here.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -rdynamic \
 *     -DLUSTER_LUA_DIR='"/work/main/lua"' -Iruntime \
 *     spec/c/fuzz_clone.c runtime/clone.c runtime/clone_decode.c \
 *     runtime/clone_lua.c runtime/shared_memory.c \
 *     $(pkg-config --cflags --libs luajit libuv) -lpthread -lm -o fuzz_clone
 *   ./fuzz_clone -max_total_time=300 corpus/
 */
#include "clone.h"
#include "shared_memory.h"

#include <stdarg.h>
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

static lua_State *new_state(void) {
  lua_State *L = luaL_newstate();
  if (!L) abort();
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, LUSTER_LUA_DIR "/?.lua");
  lua_setfield(L, -2, "path");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_native_clone);
  lua_setfield(L, -2, "native.clone");
  lua_pop(L, 2);
  return L;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = new_state();
  lstr_msg *m = lstr_msg_from_bytes((const char *)data, size);
  if (m) {
    int rc = lstr_msg_decode(L, m);
    if (rc != 0) {
      /* must be a DataCloneError table (or an out-of-memory report) */
      if (!lua_istable(L, -1)) abort();
      lua_getfield(L, -1, "code");
      const char *code = lua_tostring(L, -1);
      if (!code || (strcmp(code, "DataCloneError") && strcmp(code, "ERR_MEMORY_ALLOCATION_FAILED"))) abort();
    } else {
      /* a decoded value re-encodes: the decoder only builds clonable values */
      lstr_msg *again = lstr_msg_encode(L, -1, 0, LSTR_CLONE_PROCESS);
      lstr_msg_free(again);
    }
    lstr_msg_free(m);
  }
  lua_close(L);
  return 0;
}
