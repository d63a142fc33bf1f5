/*
 * embed.c — a C program that embeds luster.
 *
 * It registers a C module (`greeter`) that every Lua state can require,
 * worker threads included, creates a runtime on its own libuv loop, runs a
 * handler script, calls the handler's exported function from C the way the
 * runtime calls callbacks, and runs the loop until the script is done.
 *
 *   cc embed.c $(pkg-config --cflags --libs luster) -o embed && ./embed handler.lua
 */
#include <luster.h>
#include <lauxlib.h>
#include <stdio.h>

/* greeter.greet(name) -> "Hello, <name>!" */
static int greet(lua_State *L) {
  lua_pushfstring(L, "Hello, %s!", luaL_checkstring(L, 1));
  return 1;
}

static int luaopen_greeter(lua_State *L) {
  static const luaL_Reg funcs[] = { {"greet", greet}, {NULL, NULL} };
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}

int main(int argc, char **argv) {
  const char *script = argc > 1 ? argv[1] : "handler.lua";
  luster_register_module("greeter", luaopen_greeter);

  uv_loop_t loop;
  uv_loop_init(&loop);
  luster_runtime *rt = luster_new(&loop); /* our loop: luster does not close it */
  if (!rt) return 1;

  if (luster_run_file(rt, script, 0, NULL) != 0) return 1;

  /* The script left a global `handle(request)`; call it like a callback. */
  lua_State *L = luster_state(rt);
  lua_getglobal(L, "handle");
  lua_pushstring(L, "from C");
  luster_call(rt, 1);

  int code = luster_run(rt);
  printf("embed: luster %s finished with code %d\n", luster_version(), code);
  luster_free(rt);
  uv_loop_close(&loop);
  return code;
}
