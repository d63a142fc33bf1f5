/*
 * message_port.h — private to message_port.c / worker.c: channels, the
 * queues between threads, and the per-state port handle.
 *
 * A channel is two ends (MessageChannel's port1/port2, or a Worker and its
 * parentPort).  Whatever is posted on one end is queued on the other end
 * (channel.c: messages lock-free, the rest under the channel's mutex).  The channel is reference counted: each port
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

/* One end's receiving side (channel.c says how the two lists fit). */
typedef struct channel_end {
  _Atomic(lstr_msg *) inbox; /* posted messages, newest first, lock-free */
  port_queue q;      /* under the lock: everything else, and what the
                        inbox held when someone took the lock */
  int wake_fd;       /* owner's eventfd, -1 when nobody listens (lock) */
  atomic_int closed;   /* posts to this end are dropped (set under lock) */
  atomic_int pending;  /* set with each push to q, cleared by the owner's take */
  atomic_int spinning; /* the owner is polling: no need to write wake_fd */
  lstr_msg_cache spare; /* message blocks for this end's owner to post with,
                           given back by the other end's receiver (lock) */
  atomic_size_t spare_n; /* spare.n, for a look without the lock */
} channel_end;

typedef struct lstr_channel {
  uv_mutex_t lock;
  int refs;          /* under lock */
  channel_end end[2];
} lstr_channel;

/* Message blocks go back from a receiver to the sender in lots of this
 * many (below LSTR_MSG_CACHE_MAX: the sender holds a few lots at most). */
#define HAND_BACK_AT 256

/* ---- channel.c ---- */
lstr_channel *channel_new(void);
void channel_retain(lstr_channel *ch);
void channel_release(lstr_channel *ch);
/* Queue an item on end `side`.  Returns 0, or -1 when that end is closed
 * (the caller still owns item->m and frees it).  With `cache` (the
 * sender's), the blocks the receiver gave back move into it when it runs
 * low. */
int channel_push(lstr_channel *ch, int side, port_item item, lstr_msg_cache *cache);
/* Mark end `side` closed and drop what is queued on it; with notify, the
 * other end gets an ITEM_CLOSE. */
void channel_close_end(lstr_channel *ch, int side, int notify);
/* Whether something waits on end `side` (no lock: for polling). */
int channel_has_pending(lstr_channel *ch, int side);
/* Wake end `side`'s owner if something waits (after its owner polled). */
void channel_wake_if_pending(lstr_channel *ch, int side);
/* Move everything queued on end `side` into batch (appended; swapped when
 * batch is empty); with give_back, those blocks go to the sender first. */
void channel_take(lstr_channel *ch, int side, port_queue *batch, lstr_msg_cache *give_back);
void channel_hand_back(lstr_channel *ch, int side, lstr_msg_cache *give_back);
/* Whether the last item queued on end `side` is the peer's CLOSE. */
int channel_peer_closed(lstr_channel *ch, int side);
/* Set (or clear, if still ours) the owner's eventfd; bind returns whether
 * something is queued already. */
int channel_bind_wake(lstr_channel *ch, int side, int fd);
void channel_unbind_wake(lstr_channel *ch, int side, int fd);
/* batch's items from pos on go back in front of end `side`'s queue (a
 * port moving to another thread); batch is left empty. */
void channel_put_back(lstr_channel *ch, int side, port_queue *batch, size_t pos);
void channel_signal(int fd);

void port_item_free(port_item *it);
int port_queue_push(port_queue *q, port_item it);
void port_queue_clear(port_queue *q, size_t from);
void port_queue_free(port_queue *q);

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
