/*
 * fuzz_lua_harness.h — the shared frame of fuzz targets that drive a
 * Lua-facing binding: one luster state whose chunk returns a function
 * `feed(bytes)`; each input is passed to it inside pcall.  A Lua error is
 * a normal outcome (bad input is meant to be refused); a crash, a
 * sanitizer report or a runaway allocation is a finding.
 */
#ifndef FUZZ_LUA_HARNESS_H
#define FUZZ_LUA_HARNESS_H

#include "lstr.h"
#include <stdio.h>
#include <stdlib.h>

static lstr_state *FUZZ_S;

static void fuzz_lua_init(const char *name, const char *src) {
  lstr_state_options o = { .is_main_thread = 1 };
  FUZZ_S = lstr_state_new(&o);
  if (!FUZZ_S) abort();
  lua_State *L = FUZZ_S->L;
  if (luaL_loadstring(L, src) != 0 || lua_pcall(L, 0, 1, 0) != 0 || !lua_isfunction(L, -1)) {
    fprintf(stderr, "%s: %s\n", name, lua_tostring(L, -1));
    abort();
  }
  lua_setfield(L, LUA_REGISTRYINDEX, "fuzz.feed");
}

static void fuzz_lua_feed(const uint8_t *data, size_t size) {
  lua_State *L = FUZZ_S->L;
  lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.feed");
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != 0) lua_pop(L, 1);
  uv_run(FUZZ_S->loop, UV_RUN_NOWAIT);
  lua_gc(L, LUA_GCSTEP, 0);
}

#endif
