/*
 * message_port.c — channels between threads and the port handles that own
 * their ends: MessageChannel, MessagePort (transferable), BroadcastChannel,
 * and the parent/worker channel of every Worker.
 *
 * Ownership and lifetimes (see message_port.h for the structures):
 *   - lstr_channel (channel.c): reference counted, shared by any number of
 *     threads.  Freed by the last channel_release, with the messages still
 *     queued (their blocks and ports are released then).
 *   - port_h: a Lua full userdata in exactly one state, touched only by that
 *     state's thread.  It holds one channel reference while bound (ch != NULL)
 *     and, while started, a malloc'ed port_wake (an eventfd polled by a
 *     uv_poll_t on the state's loop; the close callback closes the fd and
 *     frees it) plus a registry ref to the
 *     Lua drain function (which keeps the Lua MessagePort object alive while
 *     it may still receive).  Closing, transferring or collecting the handle
 *     gives all of that back.
 *   - A transferred port travels as a `port_payload` inside the message; it
 *     owns the handle's channel reference until the receiving state binds a
 *     new handle to it (or the message is dropped: the end is closed).
 *   - BroadcastChannel: a process-wide list of subscribers (name, channel)
 *     behind one mutex; each subscriber is a channel whose end 0 is the
 *     BroadcastChannel's handle.  A post is encoded once per subscriber.
 *
 * Delivery: the owner's eventfd is written when its end goes from empty to
 * non-empty; the drain (Lua, lua/luster/worker_port.lua) calls refill()
 * once — everything queued moves into the handle's batch in one take — and
 * take() per message, so a burst of messages costs one wake-up and no
 * per-message queue allocation.
 *
 * After a drain the owner polls its queue for a short while before going back
 * to sleep in the loop (spin_for_more): a thread woken from epoll_wait costs
 * tens of microseconds, a message that arrives while the receiver is still
 * polling costs nothing but a cache miss, and the sender then skips the
 * write(2) as well.  The window adapts per port: it grows when polling
 * caught a message, or when the next message came soon after polling gave
 * up (a longer poll would have caught it), and halves otherwise, so a
 * request/reply exchange runs at memory speed while a quiet port polls
 * for ~2us at most.
 */
#include "message_port.h"

#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ---------------------------------------------------------- port handles */

static void wake_close_cb(uv_handle_t *h) {
  port_wake *wk = (port_wake *)h;
  close(wk->fd);
  free(wk);
}

#define SPIN_MAX_NS 100000
#define DRAIN_ROUNDS_MAX 64
#define SPIN_MIN_NS 2000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Poll our end for a little while; 1 if something arrived.  The caller
 * has set `spinning` (for its whole drain) and clears it. */
static int spin_for_more(port_h *p) {
  if (!p->spin_ns) p->spin_ns = SPIN_MAX_NS / 2;
  uint64_t until = uv_hrtime() + p->spin_ns;
  int got = 0;
  do {
    for (int i = 0; i < 8 && !got; i++) {
      got = channel_has_pending(p->ch, p->side);
      cpu_relax();
    }
    /* The peer may be waiting for this very CPU (2 vCPUs shared with other
     * work: often only one is ours), so yield after a few pauses, not
     * hundreds: 256 pauses before each yield made a round trip 15 us, 8
     * make it 5 us, and when the peer runs elsewhere a yield with nothing
     * else to run returns at once. */
    if (!got) sched_yield();
  } while (!got && uv_hrtime() < until);
  if (got) p->spin_ns = p->spin_ns * 2 > SPIN_MAX_NS ? SPIN_MAX_NS : p->spin_ns * 2;
  else {
    p->spin_ns = p->spin_ns / 2 < SPIN_MIN_NS ? SPIN_MIN_NS : p->spin_ns / 2;
    p->idle_since = uv_hrtime();
  }
  return got;
}

/* Deliver, then poll for more, while the port delivers; 1 when the
 * caller should be woken again on the loop's next turn. */
static int drain_rounds(port_wake *wk) {
  for (int round = 0;; round++) {
    port_h *p = wk->p; /* NULL once the port stopped, closed or was collected */
    if (!p || p->deliver_ref == LUA_NOREF || p->s->exiting) return 0;
    lstr_push_ref(p->s->L, p->deliver_ref);
    lstr_dispatch(p->s, 0);
    p = wk->p;
    if (!p || !p->ch || !p->started || p->s->exiting) return 0;
    /* A port whose listener keeps the queue full (it posts to its own
     * peer, say) must not starve the loop: after a few rounds, go back to
     * the loop and be woken again on its next turn, as Node bounds the
     * messages one wake-up delivers. */
    if (round >= DRAIN_ROUNDS_MAX) return 1;
    if (!spin_for_more(p)) return 0;
  }
}

static void wake_cb(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  port_wake *wk = (port_wake *)h;
  uint64_t n;
  ssize_t rc = read(wk->fd, &n, sizeof n); /* reset before draining */
  (void)rc;
  port_h *p = wk->p;
  if (!p || !p->ch) return;
  if (p->idle_since) { /* woken soon after giving up: poll longer */
    uint64_t gap = uv_hrtime() - p->idle_since;
    if (gap < SPIN_MAX_NS && gap * 2 > p->spin_ns) p->spin_ns = gap * 2 > SPIN_MAX_NS ? SPIN_MAX_NS : gap * 2;
    p->idle_since = 0;
  }
  /* While we drain and poll, senders need not write our eventfd: we look
   * again before going back to the loop.  The channel is held for that
   * last look, as the listener may close or transfer the port meanwhile. */
  lstr_channel *ch = p->ch;
  int side = p->side, fd = wk->fd;
  channel_retain(ch);
  atomic_store(&ch->end[side].spinning, 1);
  int again = drain_rounds(wk);
  atomic_store(&ch->end[side].spinning, 0);
  /* Something came after the last look: wake whoever owns the end now
   * (this state, or the one the port was transferred to meanwhile). */
  if (again && wk->p && wk->p->ch == ch) channel_signal(fd);
  else channel_wake_if_pending(ch, side);
  channel_release(ch);
}

port_h *port_check(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, PORT_MT);
}

/* port_check for the per-message methods (post, take): luaL_checkudata
 * looks the metatable up by name, interning that name on every call, and
 * even a metatable compare is three C API calls more per message.  A
 * handle is a full userdata of exactly its size that starts with its own
 * address, which Lua code cannot forge; anything else goes through
 * port_check, which raises the usual argument error. */
static port_h *port_check_fast(lua_State *L) {
  port_h *p = lua_touserdata(L, 1);
  if (p && lua_objlen(L, 1) == sizeof *p && p->self == p) return p;
  return port_check(L, 1);
}

port_h *port_push_new(lua_State *L, lstr_channel *ch, int side) {
  port_h *p = lua_newuserdata(L, sizeof *p);
  memset(p, 0, sizeof *p);
  p->self = p;
  p->ch = ch;
  p->side = side;
  p->s = lstr_ctx(L);
  p->deliver_ref = LUA_NOREF;
  p->refed = 1;
  luaL_getmetatable(L, PORT_MT);
  lua_setmetatable(L, -2);
  return p;
}

void port_update_ref(port_h *p) {
  if (!p->wake) return;
  if (p->refed && p->started) uv_ref((uv_handle_t *)&p->wake->poll);
  else uv_unref((uv_handle_t *)&p->wake->poll);
}

/* Poll this end's eventfd on the state's loop (idempotent). */
static void bind_wake(port_h *p) {
  if (!p->ch || p->wake) { port_update_ref(p); return; }
  port_wake *wk = malloc(sizeof *wk);
  if (!wk) return;
  wk->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wk->fd < 0 || uv_poll_init(p->s->loop, &wk->poll, wk->fd) != 0) {
    if (wk->fd >= 0) close(wk->fd);
    free(wk);
    return;
  }
  wk->p = p;
  uv_poll_start(&wk->poll, UV_READABLE, wake_cb);
  p->wake = wk;
  int pending = channel_bind_wake(p->ch, p->side, wk->fd);
  if (pending || p->pos < p->batch.n) channel_signal(wk->fd);
  port_update_ref(p);
}

/* Stop polling (the end keeps queueing). */
static void unbind_wake(port_h *p) {
  if (!p->wake) return;
  if (p->ch) channel_unbind_wake(p->ch, p->side, p->wake->fd);
  p->wake->p = NULL;
  uv_close((uv_handle_t *)&p->wake->poll, wake_close_cb);
  p->wake = NULL;
}

void port_start(port_h *p) {
  p->started = 1;
  bind_wake(p);
}

/* Stop delivering.  A port watching for its peer's close stays bound
 * (unref'd: not delivering, it does not keep the loop alive). */
static void port_stop(port_h *p) {
  p->started = 0;
  if (p->watch_close && p->ch) port_update_ref(p);
  else unbind_wake(p);
}

static void port_forget_lua(port_h *p) {
  if (p->deliver_ref != LUA_NOREF && p->s->L) lstr_unref(p->s->L, &p->deliver_ref);
  p->deliver_ref = LUA_NOREF;
}

void port_detach(port_h *p, int notify) {
  p->started = p->watch_close = 0;
  unbind_wake(p);
  port_forget_lua(p);
  port_queue_clear(&p->batch, p->pos); /* items before pos were taken already */
  port_queue_free(&p->batch);
  p->pos = 0;
  lstr_msg_free(p->inflight);
  p->inflight = NULL;
  lstr_msg_cache_clear(&p->cache);
  if (!p->ch) return;
  channel_close_end(p->ch, p->side, notify);
  channel_release(p->ch);
  p->ch = NULL;
}

/* ---- Lua methods (handle:method(...), used by lua/luster/worker_port.lua) */

/* post(value, transferList): raises DataCloneError, then nothing was sent.
 * A post to a closed end is dropped silently, as Node does. */
static port_h *handle_of(lua_State *L, int idx);

/* What the transfer list holds of this port's own channel: 1 this very
 * port, 2 the port at the other end, 0 neither. */
static int transfers_own_channel(lua_State *L, port_h *p, int list) {
  if (!p->ch || lua_type(L, list) != LUA_TTABLE) return 0;
  int found = 0;
  for (int i = 1, n = (int)lua_objlen(L, list); i <= n && found != 1; i++) {
    lua_rawgeti(L, list, i);
    port_h *q = handle_of(L, -1);
    if (q == p) found = 1;
    else if (q && q->ch == p->ch) found = 2;
    lua_pop(L, 1);
  }
  return found;
}

static int port_post(lua_State *L) {
  port_h *p = port_check_fast(L);
  lua_settop(L, 3);
  int own = transfers_own_channel(L, p, 3);
  /* as in Node: raised before anything is transferred; the port stays usable */
  if (own == 1) return lstr_error(L, "DataCloneError", "Transfer list contains source port");
  lstr_msg *m = lstr_msg_encode_cached(L, 2, lua_isnil(L, 3) ? 0 : 3, LSTR_CLONE_THREAD, &p->cache);
  if (!m) return lua_error(L);
  /* The target port posted to itself: the transfers happened, the message
   * is dropped, and freeing it closes the moved end, so the channel is
   * lost (both ports emit 'close'), as in Node. */
  if (own == 2 || !p->ch || channel_push(p->ch, 1 - p->side, (port_item){ ITEM_MSG, 0, m }, &p->cache) != 0)
    lstr_msg_recycle(m, &p->cache);
  return 0;
}

/* refill(): move everything queued on our end into the batch; returns how
 * many items the batch now holds. */
static int port_refill(lua_State *L) {
  port_h *p = port_check(L, 1);
  if (p->ch) {
    if (p->pos >= p->batch.n) p->batch.n = p->pos = 0;
    /* blocks of what we received beyond a few for our own replies go back
     * to the sender (see lstr_msg_cache in clone.h) */
    int give = p->cache.n > 32 && !p->no_transfer;
    channel_take(p->ch, p->side, &p->batch, give ? &p->cache : NULL);
  }
  lua_pushinteger(L, (lua_Integer)(p->batch.n - p->pos));
  return 1;
}

/* Give the blocks of what we received back to the sender (see
 * lstr_msg_cache in clone.h).  refill() does it once per wake-up; within a
 * long burst take() does it every HAND_BACK_AT messages (one lock for
 * that many): a receiver that kept them until its cache was full would
 * free every block past it while the sender, its cache run dry, mallocs
 * new ones. */
static void hand_back(port_h *p) {
  if (!p->ch || p->no_transfer) return;
  channel_hand_back(p->ch, p->side, &p->cache);
}

/* take() -> kind, value | nil.  kind: 'message', 'messageerror', 'online',
 * 'error', 'exit' (value: code), 'close'. */
static int port_take(lua_State *L) {
  port_h *p = port_check_fast(L);
  if (p->pos >= p->batch.n) return 0;
  port_item it = p->batch.v[p->pos];
  p->batch.v[p->pos++].m = NULL; /* ours now: closing the port must not free it again */
  if (p->pos >= p->batch.n) p->batch.n = p->pos = 0;
  switch (it.kind) {
  case ITEM_MSG:
  case ITEM_ERROR: {
    /* decoding can raise (out of memory): then the port frees it later */
    lstr_msg_free(p->inflight);
    p->inflight = it.m;
    int rc = lstr_msg_decode(L, it.m);
    p->inflight = NULL;
    if (p->cache.n >= HAND_BACK_AT) hand_back(p);
    lstr_msg_recycle(it.m, &p->cache);
    /* the kind names are upvalues 1..3: no string interned per message */
    lua_pushvalue(L, lua_upvalueindex(rc != 0 ? 2 : it.kind == ITEM_MSG ? 1 : 3));
    lua_insert(L, -2);
    return 2;
  }
  case ITEM_ONLINE: lua_pushliteral(L, "online"); return 1;
  case ITEM_CLOSE: lua_pushliteral(L, "close"); return 1;
  case ITEM_EXIT:
    lstr_worker_exited(p);
    lua_pushliteral(L, "exit");
    lua_pushinteger(L, it.code);
    return 2;
  }
  return 0;
}

/* start(drain): deliver from now on by calling drain() on wake-ups. */
static int port_start_m(lua_State *L) {
  port_h *p = port_check(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TFUNCTION);
    port_forget_lua(p);
    lua_pushvalue(L, 2);
    p->deliver_ref = lstr_ref(L);
  }
  if (p->deliver_ref == LUA_NOREF) return luaL_argerror(L, 2, "a drain function is needed");
  port_start(p);
  return 0;
}

/* watch_close(drain): stay bound while not delivering, so that the close
 * of the other end is seen ('close' is emitted whatever the listeners). */
static int port_watch_close(lua_State *L) {
  port_h *p = port_check(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TFUNCTION);
    port_forget_lua(p);
    lua_pushvalue(L, 2);
    p->deliver_ref = lstr_ref(L);
  }
  if (p->deliver_ref == LUA_NOREF) return luaL_argerror(L, 2, "a drain function is needed");
  p->watch_close = 1;
  bind_wake(p);
  return 0;
}

/* peer_closed() -> whether the other end has closed (its CLOSE item, always
 * the last one, is queued here).  Takes nothing. */
static int port_peer_closed(lua_State *L) {
  port_h *p = port_check(L, 1);
  int closed = p->pos < p->batch.n && p->batch.v[p->batch.n - 1].kind == ITEM_CLOSE;
  if (!closed && p->ch) closed = channel_peer_closed(p->ch, p->side);
  lua_pushboolean(L, closed);
  return 1;
}

static int port_stop_m(lua_State *L) {
  port_stop(port_check(L, 1));
  return 0;
}

static int port_close_m(lua_State *L) {
  port_h *p = port_check(L, 1);
  if (p->w) lstr_worker_handle_gone(p);
  port_detach(p, 1);
  return 0;
}

static int port_ref_m(lua_State *L) {
  port_h *p = port_check(L, 1);
  p->refed = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
  port_update_ref(p);
  return 0;
}

static int port_has_ref(lua_State *L) {
  port_h *p = port_check(L, 1);
  lua_pushboolean(L, p->wake && uv_has_ref((uv_handle_t *)&p->wake->poll));
  return 1;
}

static int port_is_open(lua_State *L) {
  lua_pushboolean(L, port_check(L, 1)->ch != NULL);
  return 1;
}

static int port_gc(lua_State *L) {
  port_h *p = port_check(L, 1);
  if (p->w) lstr_worker_handle_gone(p);
  port_detach(p, 1);
  return 0;
}

static const luaL_Reg port_methods[] = {
  {"refill", port_refill},
  {"start", port_start_m},
  {"stop", port_stop_m},
  {"watch_close", port_watch_close},
  {"peer_closed", port_peer_closed},
  {"close", port_close_m},
  {"ref", port_ref_m},
  {"has_ref", port_has_ref},
  {"is_open", port_is_open},
  {NULL, NULL}
};

/* ------------------------------------------------------ MessageChannel */

/* channel() -> handle1, handle2 */
static int port_channel(lua_State *L) {
  lstr_channel *ch = channel_new();
  if (!ch) return lstr_error(L, "ERR_MEMORY_ALLOCATION_FAILED", "out of memory");
  channel_retain(ch); /* one reference per handle: channel_new's and this */
  port_push_new(L, ch, 0);
  port_push_new(L, ch, 1);
  return 2;
}

/* --------------------------------------------------- transfer (clone.h) */

typedef struct port_payload { lstr_channel *ch; int side; } port_payload;


/* The handle of a MessagePort object (its `_h` field), or NULL. */
static port_h *handle_of(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TTABLE) return NULL;
  lua_pushliteral(L, "_h");
  lua_rawget(L, idx < 0 ? idx - 1 : idx);
  port_h *p = lua_touserdata(L, -1);
  if (p && lua_getmetatable(L, -1)) {
    luaL_getmetatable(L, PORT_MT);
    if (!lua_rawequal(L, -1, -2)) p = NULL;
    lua_pop(L, 2);
  } else {
    p = NULL;
  }
  lua_pop(L, 1);
  return p;
}

static int hook_claim(lua_State *L, int idx) {
  port_h *p = handle_of(L, idx);
  if (!p) return 0;
  if (p->w) return 0;            /* a Worker is not a MessagePort */
  if (p->no_transfer) return 0;
  return p->ch ? 1 : -1;         /* closed or already moved */
}

static void *hook_take(lua_State *L, int idx) {
  port_h *p = handle_of(L, idx);
  port_payload *pl = malloc(sizeof *pl);
  if (!p || !pl) { free(pl); return NULL; }
  p->started = p->watch_close = 0;
  unbind_wake(p);
  port_forget_lua(p);
  /* What this state took but did not deliver goes back in front of the
   * queue, for the new owner. */
  channel_put_back(p->ch, p->side, &p->batch, p->pos);
  p->pos = 0;
  port_queue_free(&p->batch);
  pl->ch = p->ch;     /* the handle's reference moves into the payload */
  pl->side = p->side;
  p->ch = NULL;
  return pl;
}

/* The receiving state wraps the end in a MessagePort through its
 * wrap_port hook (bootstrap.lua). */
static int hook_push(lua_State *L, void *payload) {
  port_payload *pl = payload;
  lstr_state *s = lstr_ctx(L);
  if (s->wrap_port_ref == LUA_NOREF) return -1;
  lstr_push_ref(L, s->wrap_port_ref);
  port_push_new(L, pl->ch, pl->side); /* takes the payload's reference */
  free(pl);
  if (lua_pcall(L, 1, 1, 0) != 0) { lua_pop(L, 1); return -1; }
  return 0;
}

static void hook_drop(void *payload) {
  port_payload *pl = payload;
  channel_close_end(pl->ch, pl->side, 1);
  channel_release(pl->ch);
  free(pl);
}

static const lstr_transfer_hook port_hook = {
  "MessagePort", hook_claim, hook_take, hook_push, hook_drop
};

/* Registered before main() runs, i.e. before any state can encode. */
__attribute__((constructor)) static void register_port_hook(void) {
  lstr_clone_register_transfer(&port_hook);
}

/* ------------------------------------------------------ BroadcastChannel */

typedef struct bc_sub { char *name; lstr_channel *ch; struct bc_sub *next; } bc_sub;
static bc_sub *bc_head;
static uv_mutex_t bc_lock;
static uv_once_t bc_once = UV_ONCE_INIT;
static void bc_init(void) { uv_mutex_init(&bc_lock); }

/* broadcast_join(name) -> handle (end 0 of a channel the list holds) */
static int bc_join(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  uv_once(&bc_once, bc_init);
  bc_sub *sub = calloc(1, sizeof *sub);
  lstr_channel *ch = channel_new();
  if (!sub || !ch || !(sub->name = strdup(name))) {
    free(sub); if (ch) channel_release(ch);
    return lstr_error(L, "ERR_MEMORY_ALLOCATION_FAILED", "out of memory");
  }
  channel_retain(ch); /* the list's reference */
  sub->ch = ch;
  uv_mutex_lock(&bc_lock);
  sub->next = bc_head;
  bc_head = sub;
  uv_mutex_unlock(&bc_lock);
  port_h *p = port_push_new(L, ch, 0);
  p->no_transfer = 1;
  return 1;
}

/* broadcast_post(handle, name, value): to every other subscriber of name */
static int bc_post(lua_State *L) {
  port_h *p = port_check(L, 1);
  const char *name = luaL_checkstring(L, 2);
  lua_settop(L, 3);
  if (!p->ch) return 0;
  lstr_msg *first = lstr_msg_encode(L, 3, 0, LSTR_CLONE_THREAD); /* raises once, up front */
  if (!first) return lua_error(L);
  uv_once(&bc_once, bc_init);
  size_t n = 0, cap = 8;
  lstr_channel **targets = malloc(cap * sizeof *targets);
  uv_mutex_lock(&bc_lock);
  for (bc_sub *s = bc_head; s && targets; s = s->next) {
    if (s->ch == p->ch || strcmp(s->name, name) != 0) continue;
    if (n == cap) {
      lstr_channel **t = realloc(targets, (cap *= 2) * sizeof *t);
      if (!t) break;
      targets = t;
    }
    channel_retain(s->ch);
    targets[n++] = s->ch;
  }
  uv_mutex_unlock(&bc_lock);
  for (size_t i = 0; i < n; i++) {
    lstr_msg *m = i == 0 ? first : lstr_msg_encode(L, 3, 0, LSTR_CLONE_THREAD);
    if (i == 0) first = NULL;
    if (m && channel_push(targets[i], 0, (port_item){ ITEM_MSG, 0, m }, NULL) != 0) lstr_msg_free(m);
    if (!m) lua_pop(L, 1);
    channel_release(targets[i]);
  }
  free(targets);
  if (first) lstr_msg_free(first);
  return 0;
}

/* broadcast_leave(handle) */
static int bc_leave(lua_State *L) {
  port_h *p = port_check(L, 1);
  uv_once(&bc_once, bc_init);
  bc_sub *gone = NULL;
  uv_mutex_lock(&bc_lock);
  for (bc_sub **s = &bc_head; *s; s = &(*s)->next) {
    if ((*s)->ch == p->ch && p->ch) { gone = *s; *s = gone->next; break; }
  }
  uv_mutex_unlock(&bc_lock);
  if (gone) {
    channel_release(gone->ch);
    free(gone->name);
    free(gone);
  }
  port_detach(p, 0);
  return 0;
}

/* ------------------------------------------------------------- register */

static const luaL_Reg port_funcs[] = {
  {"channel", port_channel},
  {"broadcast_join", bc_join},
  {"broadcast_post", bc_post},
  {"broadcast_leave", bc_leave},
  {NULL, NULL}
};

/* Adds the port functions to the table on top (native.worker). */
void lstr_port_register(lua_State *L) {
  lstr_new_class(L, PORT_MT, port_methods, port_gc);
  /* post, and take as a closure over the kind names it pushes */
  luaL_getmetatable(L, PORT_MT);
  lua_getfield(L, -1, "__index");
  lua_pushcfunction(L, port_post);
  lua_setfield(L, -2, "post");
  lua_pushliteral(L, "message");
  lua_pushliteral(L, "messageerror");
  lua_pushliteral(L, "error");
  lua_pushcclosure(L, port_take, 3);
  lua_setfield(L, -2, "take");
  lua_pop(L, 2);
  luaL_register(L, NULL, port_funcs);
}
