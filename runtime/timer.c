/*
 * timer.c — the one libuv timer behind setTimeout/setInterval.
 *
 * Like Node, a state keeps its timers in Lua (lua/timers.lua: a binary heap
 * ordered by due time) and arms a single uv_timer_t for the earliest one.
 * That keeps per-timer cost to a Lua table, and the C side to three verbs:
 * arm(ms), disarm(), and ref(bool) (whether any ref'ed timer keeps the loop
 * alive).  now() is the loop's cached millisecond clock, which is what due
 * times are measured in.
 *
 * It also owns whether pending immediates keep the loop alive
 * (immediate_ref): state.c runs the setImmediate queue from a check handle
 * (with an idle handle so the poll phase does not block), and an unref'd
 * Immediate must not hold the loop open, as in Node.
 *
 * The verbs are also exported for LuaJIT's FFI (lstr_timer_*): setTimeout
 * sits in hot loops, and the JIT compiles FFI calls into a trace where a
 * classic lua_CFunction call would abort it.
 */
#include "lstr.h"
#include <stdlib.h>

typedef struct {
  uv_timer_t handle;
  lstr_state *s;
  int cb_ref;
} state_timer;

static const char *TIMER_KEY = "luster.state_timer";

static state_timer *get_timer(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, TIMER_KEY);
  state_timer *t = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!t) luaL_error(L, "native.timer: not initialised");
  return t;
}

static void state_timer_cb(uv_timer_t *h) {
  state_timer *t = h->data;
  lstr_push_ref(t->s->L, t->cb_ref);
  lstr_dispatch(t->s, 0);
}

static void timer_close_cb(uv_handle_t *h) { free(h->data); }

/* the Lua side holds this userdata for the state's lifetime */
static int timer_gc(lua_State *L) {
  state_timer **pt = lua_touserdata(L, 1);
  if (*pt) {
    (*pt)->cb_ref = LUA_NOREF;
    uv_close((uv_handle_t *)&(*pt)->handle, timer_close_cb);
    *pt = NULL;
  }
  return 0;
}

/* init(on_fire) -> guard, pointer: on_fire runs (as a runtime callback)
 * when the timer is due; the pointer is for the FFI entry points */
static int timer_init(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lstr_state *s = lstr_ctx(L);
  state_timer *t = calloc(1, sizeof *t);
  if (!t) return luaL_error(L, "native.timer: out of memory");
  t->s = s;
  uv_timer_init(s->loop, &t->handle);
  t->handle.data = t;
  lua_pushvalue(L, 1);
  t->cb_ref = lstr_ref(L);
  /* the light pointer for fast lookup, and a guard userdata whose __gc
   * closes the handle when the state closes */
  lua_pushlightuserdata(L, t);
  lua_setfield(L, LUA_REGISTRYINDEX, TIMER_KEY);
  state_timer **guard = lua_newuserdata(L, sizeof *guard);
  *guard = t;
  lua_newtable(L);
  lua_pushcfunction(L, timer_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_pushlightuserdata(L, t);
  return 2;
}

/* ---- FFI entry points (t is the pointer init() returned) ---- */
LSTR_EXPORT void lstr_timer_arm(void *t, double ms) {
  state_timer *st = t;
  uv_timer_start(&st->handle, state_timer_cb, ms < 0 ? 0 : (uint64_t)ms, 0);
}
LSTR_EXPORT void lstr_timer_disarm(void *t) { uv_timer_stop(&((state_timer *)t)->handle); }
LSTR_EXPORT void lstr_timer_ref(void *t, int on) {
  state_timer *st = t;
  if (on) uv_ref((uv_handle_t *)&st->handle); else uv_unref((uv_handle_t *)&st->handle);
}
/* the loop's clock in ms, refreshed first when `update` is set */
LSTR_EXPORT double lstr_timer_now(void *t, int update) {
  state_timer *st = t;
  if (update) uv_update_time(st->s->loop);
  return (double)uv_now(st->s->loop);
}

static int timer_arm(lua_State *L) {
  state_timer *t = get_timer(L);
  double ms = luaL_checknumber(L, 1);
  uv_timer_start(&t->handle, state_timer_cb, ms < 0 ? 0 : (uint64_t)ms, 0);
  return 0;
}

static int timer_disarm(lua_State *L) {
  uv_timer_stop(&get_timer(L)->handle);
  return 0;
}

static int timer_ref(lua_State *L) {
  state_timer *t = get_timer(L);
  if (lua_toboolean(L, 1)) uv_ref((uv_handle_t *)&t->handle);
  else uv_unref((uv_handle_t *)&t->handle);
  return 0;
}

static int timer_now(lua_State *L) {
  lua_pushnumber(L, (lua_Number)uv_now(lstr_ctx(L)->loop));
  return 1;
}

static int timer_update_time(lua_State *L) {
  uv_update_time(lstr_ctx(L)->loop);
  return 0;
}

/* immediate_ref(on): whether the immediates' check/idle handles keep the
 * loop alive (timers.lua: while any pending Immediate is ref'd).  The ref
 * flag outlives uv_check_stop/start, so it is set once per change. */
static int timer_immediate_ref(lua_State *L) {
  lstr_state *s = lstr_ctx(L);
  if (lua_toboolean(L, 1)) {
    uv_ref((uv_handle_t *)&s->immediate_check);
    uv_ref((uv_handle_t *)&s->immediate_idle);
  } else {
    uv_unref((uv_handle_t *)&s->immediate_check);
    uv_unref((uv_handle_t *)&s->immediate_idle);
  }
  return 0;
}

/* loop_alive(): whether anything but unref'd handles keeps the loop up */
static int timer_loop_alive(lua_State *L) {
  lua_pushboolean(L, uv_loop_alive(lstr_ctx(L)->loop));
  return 1;
}

static const luaL_Reg timer_funcs[] = {
  {"init", timer_init},
  {"arm", timer_arm},
  {"disarm", timer_disarm},
  {"ref", timer_ref},
  {"now", timer_now},
  {"update_time", timer_update_time},
  {"immediate_ref", timer_immediate_ref},
  {"loop_alive", timer_loop_alive},
  {NULL, NULL}
};

int luaopen_native_timer(lua_State *L) {
  luaL_register(L, "native.timer", timer_funcs);
  return 1;
}
