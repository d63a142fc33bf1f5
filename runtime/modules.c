/*
 * modules.c — where `require` finds what is built into luster.
 *
 * Three kinds of module, looked up in this order by one package.loaders
 * searcher installed in every state (right after package.preload):
 *   1. native.*   the C side of a concept (timer.c, fs.c, ...), listed below,
 *                 and cjson (Debian's lua-cjson, found on package.cpath);
 *   2. embedder modules registered with luster_register_module() — a
 *      process-wide list behind a mutex, so worker threads see them too;
 *   3. builtins   the Lua side (lua/ *.lua), compiled to bytecode at build
 *      time by runtime/tools/bc2c.c into lstr_builtins[].
 */
#include "lstr.h"
#include "luster.h"
#include "shared_memory.h"
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const char *name; const unsigned char *code; size_t size; } lstr_builtin;
extern const lstr_builtin lstr_builtins[];

/* ---- native modules ----
 * Every concept's C side, by the <x> of its luaopen_native_<x>() (and
 * `require('native.<x>')`).  Adding a native module is one edit: add X(<x>)
 * here.  The references are strong on purpose: they are what pulls each
 * concept's object out of libluster.a into a static embed (a weak reference
 * pulls nothing, and the module would be missing at run time). */
#define LSTR_NATIVES(X) \
  X(core) X(modules) X(timer) X(process) X(os) X(fs) X(clone) X(atomics) X(worker) X(tcp) X(http) \
  X(cluster) X(crypto) X(crypto_kdf) X(crypto_pkey) X(zlib) X(dns) X(socket) X(http_parser) X(systemd) \
  X(shared_dict) X(tls)

#define DECLARE_NATIVE(x) int luaopen_native_##x(lua_State *L);
LSTR_NATIVES(DECLARE_NATIVE)

static int open_cjson(lua_State *L);

static const struct { const char *name; lua_CFunction fn; } natives[] = {
#define LIST_NATIVE(x) {"native." #x, luaopen_native_##x},
  LSTR_NATIVES(LIST_NATIVE)
  {"cjson", open_cjson},
};

/* ---- functions Lua reaches only through LuaJIT's FFI (ffi.C.<name>) ----
 * Nothing in C calls them, so a static link would leave out an object that
 * holds only such functions, and the FFI would fail at run time.  Taking
 * their addresses here makes the linker keep them wherever modules.c goes,
 * without --whole-archive (which would also drag in everything else, and
 * every embedder's link line would need it).  They must also be visible to
 * dlsym(): libluster.so exports them (LSTR_EXPORT); a static embed links
 * with -Wl,--export-dynamic-symbol=lstr_* (luster.pc's Libs.private).
 * A new FFI function gets a line here. */
void lstr_timer_arm(void *t, double ms);
void lstr_timer_disarm(void *t);
void lstr_timer_ref(void *t, int on);
double lstr_timer_now(void *t, int update);
int lstr_utf8_valid(const char *s, size_t n);
#define ATOMIC_ADDRESSES(N)                                                   \
  (void *)lstr_atomic_load_##N, (void *)lstr_atomic_store_##N,                \
  (void *)lstr_atomic_add_##N, (void *)lstr_atomic_sub_##N,                   \
  (void *)lstr_atomic_and_##N, (void *)lstr_atomic_or_##N,                    \
  (void *)lstr_atomic_xor_##N, (void *)lstr_atomic_exchange_##N,              \
  (void *)lstr_atomic_cas_##N,
void *const lstr_ffi_functions[] = {
  (void *)lstr_timer_arm, (void *)lstr_timer_disarm, (void *)lstr_timer_ref,
  (void *)lstr_timer_now, (void *)lstr_utf8_valid,
  (void *)lstr_block_new, (void *)lstr_block_retain, (void *)lstr_block_release,
  (void *)lstr_block_mark_untransferable, (void *)lstr_block_move,
  ATOMIC_ADDRESSES(i8) ATOMIC_ADDRESSES(u8) ATOMIC_ADDRESSES(i16)
  ATOMIC_ADDRESSES(u16) ATOMIC_ADDRESSES(i32) ATOMIC_ADDRESSES(u32)
  ATOMIC_ADDRESSES(i64) ATOMIC_ADDRESSES(u64)
  (void *)lstr_atomic_wait, (void *)lstr_atomic_notify,
  (void *)uv_hrtime, /* process.hrtime.bigint(), in case libuv is static too */
};

/* cjson is Debian's lua-cjson, found at run time the way Lua's own C
 * searcher finds a module: package.cpath (LUA_CPATH), whose defaults
 * include /usr/lib/x86_64-linux-gnu/lua/5.1/?.so (see lstr_install_modules).
 * Its static archive is not position-independent, so it cannot be linked
 * in.  RTLD_LOCAL: its symbols stay out of every other module's way. */
static int open_cjson(lua_State *L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchpath");
  lua_pushliteral(L, "cjson");
  lua_getfield(L, -3, "cpath");
  lua_call(L, 2, 2);
  const char *path = lua_tostring(L, -2);
  if (!path)
    return luaL_error(L, "cannot find lua-cjson (install Debian's lua-cjson, or put cjson.so on "
                         "package.cpath / LUA_CPATH):%s", lua_tostring(L, -1));
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  lua_CFunction open = lib ? (lua_CFunction)dlsym(lib, "luaopen_cjson") : NULL;
  if (!open) return luaL_error(L, "cannot load lua-cjson (%s): %s", path, dlerror());
  lua_settop(L, 1);
  return open(L);
}

/* The loader require() gets for a native module.  luaL_register(L,
 * "native.x", ...) fills package.loaded["native.x"] when that is already a
 * table and otherwise creates the global table `native` (and native.x):
 * seeding the table first keeps native modules reachable only through
 * require, with no `native` global for scripts to see or change. */
static int open_native(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  lua_CFunction open = lua_tocfunction(L, lua_upvalueindex(1));
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  int loaded = lua_gettop(L);
  lua_newtable(L);
  lua_setfield(L, loaded, name);
  lua_pushcfunction(L, open);
  lua_pushstring(L, name);
  if (lua_pcall(L, 1, 1, 0) != 0) {
    /* a module that failed to open is not loaded: the next require tries
     * again (and fails again with its message) instead of getting {} */
    lua_pushnil(L);
    lua_setfield(L, loaded, name);
    return lua_error(L);
  }
  return 1;
}

/* ---- embedder-registered modules ---- */
typedef struct registered { char *name; lua_CFunction open; struct registered *next; } registered;
static registered *registry_head;
static uv_mutex_t registry_lock;
static uv_once_t registry_once = UV_ONCE_INIT;
static void registry_init(void) { uv_mutex_init(&registry_lock); }

LUSTER_API int luster_register_module(const char *name, lua_CFunction open) {
  uv_once(&registry_once, registry_init);
  registered *r = malloc(sizeof *r);
  if (!r) return -1;
  r->name = strdup(name);
  if (!r->name) { free(r); return -1; }
  r->open = open;
  uv_mutex_lock(&registry_lock);
  r->next = registry_head;
  registry_head = r;
  uv_mutex_unlock(&registry_lock);
  return 0;
}

static lua_CFunction find_registered(const char *name) {
  uv_once(&registry_once, registry_init);
  lua_CFunction fn = NULL;
  uv_mutex_lock(&registry_lock);
  for (registered *r = registry_head; r; r = r->next)
    if (strcmp(r->name, name) == 0) { fn = r->open; break; }
  uv_mutex_unlock(&registry_lock);
  return fn;
}

int lstr_load_builtin(lua_State *L, const char *name) {
  for (const lstr_builtin *b = lstr_builtins; b->name; b++)
    if (strcmp(b->name, name) == 0)
      return luaL_loadbuffer(L, (const char *)b->code, b->size, name);
  return -1;
}

int lstr_has_builtin(const char *name) {
  for (size_t i = 0; i < sizeof natives / sizeof natives[0]; i++)
    if (strcmp(natives[i].name, name) == 0) return 1;
  if (find_registered(name)) return 1;
  for (const lstr_builtin *b = lstr_builtins; b->name; b++)
    if (strcmp(b->name, name) == 0) return 1;
  return 0;
}

/* package.loaders searcher: returns a loader function or a message. */
static int builtin_searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  for (size_t i = 0; i < sizeof natives / sizeof natives[0]; i++) {
    if (strcmp(natives[i].name, name) == 0) {
      lua_pushcfunction(L, natives[i].fn);
      lua_pushcclosure(L, open_native, 1);
      return 1;
    }
  }
  lua_CFunction fn = find_registered(name);
  if (fn) { lua_pushcfunction(L, fn); return 1; }
  int rc = lstr_load_builtin(L, name);
  if (rc == 0) return 1;
  if (rc > 0) return lua_error(L); /* a corrupt builtin: say so */
  lua_pushfstring(L, "\n\tno builtin module '%s'", name);
  return 1;
}

/* native.modules.names(): every module name the builtin searcher answers
 * (natives, cjson, lua/ builtins; not embedder ones), for tools and specs
 * that check the whole surface (spec/types_spec.lua). */
static int modules_names(lua_State *L) {
  lua_newtable(L);
  int n = 0;
  for (size_t i = 0; i < sizeof natives / sizeof natives[0]; i++) {
    lua_pushstring(L, natives[i].name);
    lua_rawseti(L, -2, ++n);
  }
  for (const lstr_builtin *b = lstr_builtins; b->name; b++) {
    lua_pushstring(L, b->name);
    lua_rawseti(L, -2, ++n);
  }
  return 1;
}

int luaopen_native_modules(lua_State *L) {
  static const luaL_Reg funcs[] = { {"names", modules_names}, {NULL, NULL} };
  luaL_register(L, "native.modules", funcs);
  return 1;
}

void lstr_install_modules(lua_State *L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaders");
  /* shift loaders[2..n] up by one and put ours at 2 */
  int n = (int)lua_objlen(L, -1);
  for (int i = n; i >= 2; i--) {
    lua_rawgeti(L, -1, i);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushcfunction(L, builtin_searcher);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 1);
  /* Debian's Lua 5.1 modules (busted, penlight, lpeg...) load from here. */
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s;/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua;"
                     "/usr/local/share/lua/5.1/?.lua;/usr/local/share/lua/5.1/?/init.lua",
                  lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 1);
  lua_getfield(L, -1, "cpath");
  lua_pushfstring(L, "%s;/usr/lib/x86_64-linux-gnu/lua/5.1/?.so;/usr/local/lib/lua/5.1/?.so",
                  lua_tostring(L, -1));
  lua_setfield(L, -3, "cpath");
  lua_pop(L, 2);
}
