/*
 * channel.c — the queues between threads under every MessagePort, Worker
 * and BroadcastChannel (message_port.h has the structures).
 *
 * An end receives on two lists:
 *   - `inbox`, a lock-free stack of messages (ITEM_MSG with a block): a
 *     post pushes its block with one compare-and-swap and takes no lock,
 *     so a sender and a receiver working flat out on two cores never wait
 *     for each other (with the channel's mutex they did: ~0.3 futex calls
 *     per message);
 *   - `q`, an array under the channel's mutex, for everything else (the
 *     worker's ONLINE/ERROR/EXIT, CLOSE) and for what the owner has not
 *     taken yet.
 * Whoever takes the mutex to read `q` or append to it first moves the
 * inbox onto its end, oldest first (inbox_to_queue), so the order of one
 * sender's items holds: its messages before its EXIT, CLOSE always last.
 *
 * Wake-ups: a push that finds the end empty writes the owner's eventfd,
 * unless the owner is polling (`spinning`).  The fd is read under the
 * mutex, since the owner clears it there before closing it; only that
 * push takes the lock.
 */
#include "message_port.h"
#include "clone_wire.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A sender tops its block cache up (under the lock) only below this. */
#define TOP_UP_BELOW 16

void port_item_free(port_item *it) {
  if (it->m) lstr_msg_free(it->m);
  it->m = NULL;
}

int port_queue_push(port_queue *q, port_item it) {
  if (q->n == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 16;
    port_item *v = realloc(q->v, cap * sizeof *v);
    if (!v) return -1;
    q->v = v;
    q->cap = cap;
  }
  q->v[q->n++] = it;
  return 0;
}

void port_queue_clear(port_queue *q, size_t from) {
  for (size_t i = from; i < q->n; i++) port_item_free(&q->v[i]);
  q->n = 0;
}

void port_queue_free(port_queue *q) {
  port_queue_clear(q, 0);
  free(q->v);
  q->v = NULL;
  q->cap = 0;
}

/* Room for `n` items in all, allocated up front (0, or -1 out of memory). */
static int queue_reserve(port_queue *q, size_t n) {
  if (n <= q->cap) return 0;
  port_item *v = realloc(q->v, n * sizeof *v);
  if (!v) return -1;
  q->v = v;
  q->cap = n;
  return 0;
}

void channel_signal(int fd) {
  uint64_t one = 1;
  ssize_t rc = write(fd, &one, sizeof one);
  (void)rc; /* EAGAIN: the counter is full, the owner is awake anyway */
}

/* Under the lock: the inbox's messages, oldest first, onto the end of q.
 * Out of memory, a message is dropped (freed), never reordered.
 * The owner looks for work without the lock (channel_has_pending: pending,
 * then inbox), so `pending` goes up before the messages leave the inbox:
 * otherwise a look between the two finds neither, and a sender that saw
 * the owner polling (so did not wake it) has its messages sit in q with
 * nobody told.  A worker that posted while its parent polled and then
 * exited (EXIT takes the lock and moves the inbox) hung its parent so. */
static void inbox_to_queue(channel_end *e) {
  if (atomic_load(&e->inbox) == NULL) return;
  atomic_store(&e->pending, 1);
  lstr_msg *m = atomic_exchange(&e->inbox, NULL);
  lstr_msg *oldest = NULL;
  while (m) { /* the stack is newest first */
    lstr_msg *next = m->next;
    m->next = oldest;
    oldest = m;
    m = next;
  }
  for (m = oldest; m;) {
    lstr_msg *next = m->next;
    m->next = NULL;
    if (port_queue_push(&e->q, (port_item){ ITEM_MSG, 0, m }) != 0) lstr_msg_free(m);
    m = next;
  }
}

static void inbox_free(channel_end *e) {
  lstr_msg *m = atomic_exchange(&e->inbox, NULL);
  while (m) {
    lstr_msg *next = m->next;
    m->next = NULL;
    lstr_msg_free(m);
    m = next;
  }
}

lstr_channel *channel_new(void) {
  lstr_channel *ch = calloc(1, sizeof *ch);
  if (!ch) return NULL;
  uv_mutex_init(&ch->lock);
  ch->refs = 1;
  ch->end[0].wake_fd = ch->end[1].wake_fd = -1;
  return ch;
}

void channel_retain(lstr_channel *ch) {
  uv_mutex_lock(&ch->lock);
  ch->refs++;
  uv_mutex_unlock(&ch->lock);
}

void channel_release(lstr_channel *ch) {
  uv_mutex_lock(&ch->lock);
  int last = --ch->refs == 0;
  uv_mutex_unlock(&ch->lock);
  if (!last) return;
  for (int side = 0; side < 2; side++) {
    inbox_free(&ch->end[side]);
    port_queue_free(&ch->end[side].q);
    lstr_msg_cache_clear(&ch->end[side].spare);
  }
  uv_mutex_destroy(&ch->lock);
  free(ch);
}

/* A push found end e empty: wake its owner unless it is polling.  `spinning`
 * and the push pair up (both sequentially consistent): either the owner
 * sees the item after it stops polling, or we see it not polling. */
static void wake_locked(channel_end *e) {
  if (e->wake_fd >= 0 && !atomic_load(&e->spinning)) channel_signal(e->wake_fd);
}

static int push_locked(lstr_channel *ch, int side, port_item item, lstr_msg_cache *cache) {
  uv_mutex_lock(&ch->lock);
  channel_end *e = &ch->end[side];
  inbox_to_queue(e);
  if (atomic_load_explicit(&e->closed, memory_order_relaxed) || port_queue_push(&e->q, item) != 0) {
    uv_mutex_unlock(&ch->lock);
    return -1;
  }
  channel_end *mine = &ch->end[1 - side];
  if (cache && mine->spare.n) {
    lstr_msg_cache_move(cache, &mine->spare);
    atomic_store_explicit(&mine->spare_n, mine->spare.n, memory_order_relaxed);
  }
  atomic_store(&e->pending, 1);
  if (e->q.n == 1) wake_locked(e);
  uv_mutex_unlock(&ch->lock);
  return 0;
}

int channel_push(lstr_channel *ch, int side, port_item item, lstr_msg_cache *cache) {
  channel_end *e = &ch->end[side];
  /* the blocks the receiver gave back, when ours run low and some wait */
  int top_up = cache && cache->n < TOP_UP_BELOW &&
               atomic_load_explicit(&ch->end[1 - side].spare_n, memory_order_relaxed) > 0;
  if (item.kind != ITEM_MSG || !item.m || top_up) return push_locked(ch, side, item, cache);
  /* closed is set under the lock; a post that races the close lands in
   * the inbox of a closed end, which nobody takes: it is freed with the
   * channel (a post to a closed end is dropped either way) */
  if (atomic_load_explicit(&e->closed, memory_order_acquire)) return -1;
  lstr_msg *m = item.m;
  lstr_msg *top = atomic_load_explicit(&e->inbox, memory_order_relaxed);
  do {
    m->next = top;
  } while (!atomic_compare_exchange_weak(&e->inbox, &top, m));
  if (top == NULL && !atomic_load(&e->spinning)) {
    uv_mutex_lock(&ch->lock);
    wake_locked(e);
    uv_mutex_unlock(&ch->lock);
  }
  return 0;
}

void channel_wake_if_pending(lstr_channel *ch, int side) {
  if (!channel_has_pending(ch, side)) return;
  uv_mutex_lock(&ch->lock);
  wake_locked(&ch->end[side]);
  uv_mutex_unlock(&ch->lock);
}

int channel_has_pending(lstr_channel *ch, int side) {
  channel_end *e = &ch->end[side];
  return atomic_load(&e->pending) || atomic_load(&e->inbox) != NULL;
}

void channel_close_end(lstr_channel *ch, int side, int notify) {
  port_queue dropped = {0};
  uv_mutex_lock(&ch->lock);
  channel_end *e = &ch->end[side];
  if (!atomic_load_explicit(&e->closed, memory_order_relaxed)) {
    atomic_store_explicit(&e->closed, 1, memory_order_release);
    inbox_to_queue(e);
    dropped = e->q;
    memset(&e->q, 0, sizeof e->q);
    channel_end *o = &ch->end[1 - side];
    /* always signalled, not only on empty -> non-empty: a port that is not
     * delivering messages still hears of the close (see watch_close) */
    if (notify && !atomic_load_explicit(&o->closed, memory_order_relaxed)) {
      inbox_to_queue(o);
      if (port_queue_push(&o->q, (port_item){ ITEM_CLOSE, 0, NULL }) == 0) {
        atomic_store(&o->pending, 1);
        if (o->wake_fd >= 0) channel_signal(o->wake_fd);
      }
    }
  }
  uv_mutex_unlock(&ch->lock);
  port_queue_free(&dropped); /* outside the lock: frees can be slow */
}

void channel_take(lstr_channel *ch, int side, port_queue *batch, lstr_msg_cache *give_back) {
  uv_mutex_lock(&ch->lock);
  channel_end *e = &ch->end[side];
  inbox_to_queue(e);
  if (give_back) {
    channel_end *sender = &ch->end[1 - side];
    lstr_msg_cache_move(&sender->spare, give_back);
    atomic_store_explicit(&sender->spare_n, sender->spare.n, memory_order_relaxed);
  }
  if (batch->n == 0) { /* the common case: swap arrays, no copying */
    port_queue t = e->q;
    e->q = *batch;
    *batch = t;
  } else {
    for (size_t i = 0; i < e->q.n; i++)
      if (port_queue_push(batch, e->q.v[i]) != 0) port_item_free(&e->q.v[i]);
    e->q.n = 0;
  }
  /* Everything is taken: lowered last (inbox_to_queue raised it), under
   * the lock, so only a later push can make the end non-empty again, and
   * such a push shows (a locked one sets pending, a lock-free one fills
   * the inbox). */
  atomic_store(&e->pending, 0);
  uv_mutex_unlock(&ch->lock);
}

void channel_hand_back(lstr_channel *ch, int side, lstr_msg_cache *give_back) {
  uv_mutex_lock(&ch->lock);
  channel_end *sender = &ch->end[1 - side];
  lstr_msg_cache_move(&sender->spare, give_back);
  atomic_store_explicit(&sender->spare_n, sender->spare.n, memory_order_relaxed);
  uv_mutex_unlock(&ch->lock);
}

int channel_peer_closed(lstr_channel *ch, int side) {
  uv_mutex_lock(&ch->lock);
  channel_end *e = &ch->end[side];
  inbox_to_queue(e);
  int closed = e->q.n > 0 && e->q.v[e->q.n - 1].kind == ITEM_CLOSE;
  uv_mutex_unlock(&ch->lock);
  return closed;
}

int channel_bind_wake(lstr_channel *ch, int side, int fd) {
  uv_mutex_lock(&ch->lock);
  channel_end *e = &ch->end[side];
  e->wake_fd = fd;
  int pending = e->q.n > 0 || atomic_load(&e->inbox) != NULL;
  uv_mutex_unlock(&ch->lock);
  return pending;
}

void channel_unbind_wake(lstr_channel *ch, int side, int fd) {
  uv_mutex_lock(&ch->lock);
  if (ch->end[side].wake_fd == fd) ch->end[side].wake_fd = -1;
  uv_mutex_unlock(&ch->lock);
}

void channel_put_back(lstr_channel *ch, int side, port_queue *batch, size_t pos) {
  uv_mutex_lock(&ch->lock);
  channel_end *e = &ch->end[side];
  inbox_to_queue(e);
  size_t left = batch->n - pos;
  if (left) {
    port_queue merged = {0};
    if (queue_reserve(&merged, left + e->q.n) == 0) {
      for (size_t i = pos; i < batch->n; i++) merged.v[merged.n++] = batch->v[i];
      for (size_t i = 0; i < e->q.n; i++) merged.v[merged.n++] = e->q.v[i];
      free(e->q.v);
      e->q = merged;
    } else { /* out of memory: what was taken is dropped, in order */
      port_queue_clear(batch, pos);
    }
  }
  batch->n = 0;
  uv_mutex_unlock(&ch->lock);
}
