/*
 * message_port.h — private to message_port.c / worker.c: channels, the
 * queues between threads, and the per-state port handle.
 *
 * A channel is two ends (MessageChannel's port1/port2, or a Worker and its
 * parentPort).  Whatever is posted on one end is queued on the other end,
 * under the channel's one mutex.  The channel is reference counted: each port
 * handle bound to an end holds one reference, a worker (lstr_worker) holds
 * one for the channel to its parent, a message carrying a transferred port
 * holds one; the last release frees it with whatever is still queued.
 *
 * An end's owner is the state holding its port handle.  The owner is woken
 * through `wake_fd` (an eventfd its loop polls) when the end's queue goes
 * from empty to non-empty; the owner then takes the whole queue in one swap
 * and drains it, so one wake-up delivers every message queued meanwhile.
 * `wake_fd` is -1 while no state listens (port not started, or in transit to
 * another thread); messages queue up and are delivered once one binds.
 * The owner clears `wake_fd` under the lock before closing it, so a sender
 * never writes to a closed (or reused) descriptor.
 *
 * Why not uv_async_t: in libuv 1.44 the woken loop spins (and yields) until
 * the sender's uv_async_send has returned from its write(2), which costs a
 * few hundred microseconds per wake-up on a busy or virtualized machine.
 */
#ifndef LSTR_MESSAGE_PORT_H
#define LSTR_MESSAGE_PORT_H

#include "lstr.h"
#include "clone.h"
#include <stdatomic.h>

/* What travels in a queue.  MSG is a user message; the others are the
 * worker's life cycle (ONLINE, ERROR carries an encoded error, EXIT carries
 * the exit code) and CLOSE (the other end was closed). */
enum { ITEM_MSG = 1, ITEM_ONLINE, ITEM_ERROR, ITEM_EXIT, ITEM_CLOSE };

typedef struct port_item { int kind; int code; lstr_msg *m; } port_item;

/* A growable array; the owner swaps it whole with its (empty) batch array,
 * so steady-state messaging allocates no queue nodes. */
typedef struct port_queue { port_item *v; size_t n, cap; } port_queue;

typedef struct channel_end {
  port_queue q;
  int wake_fd;       /* owner's eventfd, -1 when nobody listens */
  int closed;        /* posts to this end are dropped */
  atomic_int pending;  /* set with each push, cleared by the owner's swap */
  atomic_int spinning; /* the owner is polling `pending`: no need to write */
  lstr_msg_cache spare; /* message blocks for this end's owner to post with,
                           given back by the other end's receiver */
} channel_end;

typedef struct lstr_channel {
  uv_mutex_t lock;
  int refs;          /* under lock */
  channel_end end[2];
} lstr_channel;

lstr_channel *channel_new(void);
void channel_retain(lstr_channel *ch);
void channel_release(lstr_channel *ch);
/* Queue an item on end `side`.  Returns 0, or -1 when that end is closed
 * (the caller still owns item->m and frees it).  With `cache` (the
 * sender's, when empty), the blocks the receiver gave back move into it. */
int channel_push(lstr_channel *ch, int side, port_item item, lstr_msg_cache *cache);
/* Mark end `side` closed and drop what is queued on it; with notify, the
 * other end gets an ITEM_CLOSE. */
void channel_close_end(lstr_channel *ch, int side, int notify);
void port_item_free(port_item *it);

/* A port handle: the userdata behind a MessagePort, a Worker (parent side)
 * or parentPort, owned by one state. */
typedef struct lstr_worker lstr_worker;
typedef struct port_wake { uv_poll_t poll; int fd; struct port_h *p; } port_wake;
typedef struct port_h {
  struct port_h *self;   /* the handle's own address: how the per-message
                            methods recognize one (message_port.c) */
  lstr_channel *ch;      /* NULL once closed or transferred away */
  int side;
  lstr_state *s;
  port_wake *wake;       /* malloc'ed; freed (and its fd closed) on close */
  int deliver_ref;       /* Lua function draining this port (holds the object) */
  port_queue batch;      /* taken from the channel, not yet delivered */
  size_t pos;
  int refed;             /* may keep the loop alive (ref()/unref()) */
  int started;
  int watch_close;       /* bound while not started, to hear the peer's close */
  int no_transfer;       /* BroadcastChannel handles */
  uint64_t spin_ns;      /* how long to wait for more after a drain */
  uint64_t idle_since;   /* when the last wait for more gave up */
  lstr_worker *w;        /* the Worker this handle is the parent side of */
  lstr_msg_cache cache;  /* blocks of messages received, to post with */
  lstr_msg *inflight;    /* taken from the batch, being decoded */
} port_h;

#define PORT_MT "luster.port"

/* Push a new port handle bound to (ch, side) and take one reference. */
port_h *port_push_new(lua_State *L, lstr_channel *ch, int side);
port_h *port_check(lua_State *L, int idx);
/* Start delivering: bind the wake handle to this state's loop. */
void port_start(port_h *p);
/* Stop and release the channel end (close: notify the other end). */
void port_detach(port_h *p, int notify);
void port_update_ref(port_h *p);

/* the port functions of native.worker (message_port.c) */
void lstr_port_register(lua_State *L);

/* worker.c: the parent side of a worker saw its EXIT item */
void lstr_worker_exited(port_h *p);
/* worker.c: a worker handle was collected or closed */
void lstr_worker_handle_gone(port_h *p);

#endif
