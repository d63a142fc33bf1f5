/*
 * os.c — the native side of require('os'): what libuv knows about the
 * machine.  lua/os.lua merges these into Lua's own `os` table.
 */
#include "lstr.h"

static int os_cpus(lua_State *L) {
  uv_cpu_info_t *info;
  int n;
  if (uv_cpu_info(&info, &n) != 0) { lua_newtable(L); return 1; }
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, info[i].model);
    lua_setfield(L, -2, "model");
    lua_pushinteger(L, info[i].speed);
    lua_setfield(L, -2, "speed");
    lua_createtable(L, 0, 5);
    lua_pushnumber(L, (lua_Number)info[i].cpu_times.user); lua_setfield(L, -2, "user");
    lua_pushnumber(L, (lua_Number)info[i].cpu_times.nice); lua_setfield(L, -2, "nice");
    lua_pushnumber(L, (lua_Number)info[i].cpu_times.sys); lua_setfield(L, -2, "sys");
    lua_pushnumber(L, (lua_Number)info[i].cpu_times.idle); lua_setfield(L, -2, "idle");
    lua_pushnumber(L, (lua_Number)info[i].cpu_times.irq); lua_setfield(L, -2, "irq");
    lua_setfield(L, -2, "times");
    lua_rawseti(L, -2, i + 1);
  }
  uv_free_cpu_info(info, n);
  return 1;
}

static int os_available_parallelism(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)uv_available_parallelism());
  return 1;
}

static int os_totalmem(lua_State *L) { lua_pushnumber(L, (lua_Number)uv_get_total_memory()); return 1; }
static int os_freemem(lua_State *L) { lua_pushnumber(L, (lua_Number)uv_get_free_memory()); return 1; }

static int os_hostname(lua_State *L) { return lstr_push_uv_string(L, uv_os_gethostname) == 0; }

static int os_loadavg(lua_State *L) {
  double avg[3];
  uv_loadavg(avg);
  lua_createtable(L, 3, 0);
  for (int i = 0; i < 3; i++) { lua_pushnumber(L, avg[i]); lua_rawseti(L, -2, i + 1); }
  return 1;
}

static int os_uptime(lua_State *L) {
  double up = 0;
  uv_uptime(&up);
  lua_pushnumber(L, up);
  return 1;
}

static int os_uname(lua_State *L) {
  uv_utsname_t u;
  if (uv_os_uname(&u) != 0) return 0;
  lua_createtable(L, 0, 4);
  lua_pushstring(L, u.sysname); lua_setfield(L, -2, "sysname");
  lua_pushstring(L, u.release); lua_setfield(L, -2, "release");
  lua_pushstring(L, u.version); lua_setfield(L, -2, "version");
  lua_pushstring(L, u.machine); lua_setfield(L, -2, "machine");
  return 1;
}

static int os_homedir(lua_State *L) { return lstr_push_uv_string(L, uv_os_homedir) == 0; }

static int os_tmpdir(lua_State *L) { return lstr_push_uv_string(L, uv_os_tmpdir) == 0; }

static const luaL_Reg os_funcs[] = {
  {"cpus", os_cpus},
  {"availableParallelism", os_available_parallelism},
  {"totalmem", os_totalmem},
  {"freemem", os_freemem},
  {"hostname", os_hostname},
  {"loadavg", os_loadavg},
  {"uptime", os_uptime},
  {"uname", os_uname},
  {"homedir", os_homedir},
  {"tmpdir", os_tmpdir},
  {NULL, NULL}
};

int luaopen_native_os(lua_State *L) {
  luaL_register(L, "native.os", os_funcs);
  return 1;
}
