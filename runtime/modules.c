/*
 * modules.c — where `require` finds what is built into luster.
 *
 * Three kinds of module, looked up in this order by one package.loaders
 * searcher installed in every state (right after package.preload):
 *   1. native.*   the C side of a concept (timer.c, fs.c, ...), listed below;
 *   2. embedder modules registered with luster_register_module() — a
 *      process-wide list behind a mutex, so worker threads see them too;
 *   3. builtins   the Lua side (lua/ *.lua), compiled to bytecode at build
 *      time by runtime/tools/bc2c.c into lstr_builtins[].
 */
#include "lstr.h"
#include "luster.h"
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const char *name; const unsigned char *code; size_t size; } lstr_builtin;
extern const lstr_builtin lstr_builtins[];

int luaopen_native_core(lua_State *L);
int luaopen_native_timer(lua_State *L);
int luaopen_native_process(lua_State *L);
int luaopen_native_os(lua_State *L);
int luaopen_native_fs(lua_State *L);
int luaopen_native_crypto(lua_State *L);
int luaopen_native_crypto_kdf(lua_State *L);
int luaopen_native_crypto_pkey(lua_State *L);
int luaopen_native_zlib(lua_State *L);
int luaopen_native_dns(lua_State *L);
int luaopen_native_socket(lua_State *L);
int luaopen_native_tls(lua_State *L);
int luaopen_native_http_parser(lua_State *L);
/* cjson comes from Debian's lua-cjson package: its module is loaded by the
 * path found at build time (its static archive is not PIC). */
static int open_cjson(lua_State *L) {
  void *lib = dlopen(LUSTER_CJSON_MODULE, RTLD_NOW | RTLD_LOCAL);
  lua_CFunction open = lib ? (lua_CFunction)dlsym(lib, "luaopen_cjson") : NULL;
  if (!open) return luaL_error(L, "cannot load lua-cjson (%s): %s", LUSTER_CJSON_MODULE, dlerror());
  return open(L);
}

/* Concepts still being built are linked weakly: absent, they are skipped. */
#define WEAK_NATIVE(n) int luaopen_native_##n(lua_State *L) __attribute__((weak));
WEAK_NATIVE(clone)
WEAK_NATIVE(worker)
WEAK_NATIVE(tcp)
WEAK_NATIVE(http)
WEAK_NATIVE(cluster)
WEAK_NATIVE(atomics)

static const struct { const char *name; lua_CFunction fn; } natives[] = {
  {"native.core", luaopen_native_core},
  {"native.timer", luaopen_native_timer},
  {"native.process", luaopen_native_process},
  {"native.os", luaopen_native_os},
  {"native.fs", luaopen_native_fs},
  {"native.crypto", luaopen_native_crypto},
  {"native.crypto_kdf", luaopen_native_crypto_kdf},
  {"native.crypto_pkey", luaopen_native_crypto_pkey},
  {"native.zlib", luaopen_native_zlib},
  {"native.dns", luaopen_native_dns},
  {"native.socket", luaopen_native_socket},
  {"native.tls", luaopen_native_tls},
  {"native.http_parser", luaopen_native_http_parser},
  {"cjson", open_cjson},
  {"native.clone", luaopen_native_clone},
  {"native.atomics", luaopen_native_atomics},
  {"native.worker", luaopen_native_worker},
  {"native.tcp", luaopen_native_tcp},
  {"native.http", luaopen_native_http},
  {"native.cluster", luaopen_native_cluster},
};

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
    if (natives[i].fn && strcmp(natives[i].name, name) == 0) return 1;
  if (find_registered(name)) return 1;
  for (const lstr_builtin *b = lstr_builtins; b->name; b++)
    if (strcmp(b->name, name) == 0) return 1;
  return 0;
}

/* package.loaders searcher: returns a loader function or a message. */
static int builtin_searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  for (size_t i = 0; i < sizeof natives / sizeof natives[0]; i++) {
    if (natives[i].fn && strcmp(natives[i].name, name) == 0) {
      lua_pushcfunction(L, natives[i].fn);
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
