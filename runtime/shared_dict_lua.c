/*
 * shared_dict_lua.c — require('native.shared_dict'): what lua/shared.lua
 * needs from the Lua C API, which is only the scope of the calling state
 * (cluster worker or not, main thread or not: see shared_dict.c).  Every
 * dictionary operation is reached through LuaJIT's FFI instead.
 *
 * The table of entry points below is what keeps those FFI-only functions in
 * a program linked against libluster.a: nothing else refers to them.
 */
#include "lstr.h"
#include "shared_dict.h"

static void *const ffi_entry_points[] = {
  (void *)lstr_sdict_open, (void *)lstr_sdict_close, (void *)lstr_sdict_get,
  (void *)lstr_sdict_store, (void *)lstr_sdict_incr, (void *)lstr_sdict_cas,
  (void *)lstr_sdict_delete, (void *)lstr_sdict_ttl, (void *)lstr_sdict_expire,
  (void *)lstr_sdict_keys, (void *)lstr_sdict_flush_all, (void *)lstr_sdict_free_space,
  (void *)lstr_sdict_capacity, (void *)lstr_sdict_check, (void *)lstr_sdict_debug_die_holding,
};

/* scope() -> pid: the cluster primary's in one of its workers, else ours */
static int shared_dict_scope(lua_State *L) {
  lstr_state *s = lstr_ctx(L);
  lua_pushinteger(L, lstr_sdict_scope(s->is_main_thread, s->is_cluster_worker));
  return 1;
}

static const luaL_Reg shared_dict_fns[] = {
  {"scope", shared_dict_scope},
  {NULL, NULL},
};

int luaopen_native_shared_dict(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, shared_dict_fns);
  lua_pushlightuserdata(L, (void *)ffi_entry_points); /* a real use: keeps them linked */
  lua_setfield(L, -2, "entry_points");
  return 1;
}
