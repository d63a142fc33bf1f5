/*
 * ipc_channel.c — the IPC channel between a cluster primary and one worker
 * process (ipc_channel.h).
 *
 * Why not a uv_pipe_t with ipc=1: libuv passes only its own handle types,
 * one per write, and wraps them in its own framing.  The cluster hands raw
 * file descriptors across (accepted connections, a listening socket, both
 * ways), so the channel is a plain non-blocking Unix stream socket watched
 * by a uv_poll_t, written with sendmsg and read with recvmsg.
 *
 * Wire format: frames of an 8-byte header — payload length (uint32), kind
 * (user or internal message), number of attached descriptors (0 or 1),
 * number of SharedArrayBuffer memfds (uint16) — then the payload: the bytes
 * of the one structured-clone serializer (clone.h, LSTR_CLONE_PROCESS),
 * which name the memfds by index.  A frame's descriptors (the attached one
 * first, then the memfds) travel as SCM_RIGHTS ancillary data on the first
 * sendmsg of its frame; the kernel
 * delivers it with the first byte of that frame and never merges two
 * sendmsg's descriptors into one recvmsg, so the reader queues descriptors
 * in arrival order and each frame that says it has one takes the oldest.
 *
 * A receiver at its descriptor limit gets MSG_CTRUNC and the kernel closes
 * the descriptor it could not install; the frame that carried it is then
 * dispatched with err 'EMFILE' and no fd, so the receiver drops it and
 * lives on (for a connection hand-off the client sees the connection end).
 *
 * Writes are tried at once; what the kernel does not take waits in a queue
 * and the poll handle also watches for writability until it drains.  While
 * frames wait, the handle keeps the loop alive even if Lua unref'd it: a
 * process that sends and then ends delivers everything it sent, as Node.
 *
 * Reading dispatches each whole frame to Lua as on_frame(kind, value, fd,
 * err) through lstr_dispatch; at end of stream on_frame('eof').  A callback
 * may close the channel: the parse loop checks after each frame, and memory
 * is only freed once the poll handle's close callback has run and nobody
 * holds a reference (see ipc_channel.h).
 *
 * Latency: waking an idle CPU costs 50-100 us on virtual machines, far more
 * than the work of a message (~5 us).  So when a read's callbacks sent a
 * user message on this channel (a request/reply pattern: the answer is
 * probably coming), the reader spins on the socket for up to SPIN_NS before
 * going back to the loop.  It gives up spinning after SPIN_MISSES spins in a
 * row found nothing, and retries every SPIN_RETRY reads, so a channel that
 * does not ping-pong pays nothing; connection hand-offs (internal frames)
 * never spin.
 */
#include "ipc_channel.h"
#include "clone.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEADER_SIZE 8
#define READ_CHUNK 65536
#define MAX_FRAME (1u << 30)   /* refuse absurd lengths from a broken peer */
#define MAX_FDS_PER_READ (1 + LSTR_MSG_MAX_FDS) /* one frame's worth */
#define SPIN_NS 40000
#define SPIN_MISSES 8
#define SPIN_RETRY 256
#define LOST_FD (-2)          /* in the fd queue: the kernel dropped it (MSG_CTRUNC) */

typedef struct out_frame {
  struct out_frame *next;
  size_t len, off;
  int fd;               /* attached descriptor not yet sent, or -1 */
  int nsab;             /* SharedArrayBuffers' memfds not yet sent */
  int *sabfd;
  char data[];          /* header + payload */
} out_frame;

struct lstr_ipc {
  uv_poll_t poll;
  lstr_state *s;
  lstr_lifetime life;   /* the poll handle, the userdata, procs, share members */
  int fd;
  int open;             /* the socket is open (the poll handle is not closing) */
  int want_ref;         /* what Lua asked for with ch:ref(); queued frames ref anyway */
  int closing_after_flush;
  int broken;           /* a write failed: the peer is gone, send nothing more */
  int reading;          /* inside channel_read: no re-entry */
  int events;           /* what the poll handle watches now */
  int on_frame_ref;
  /* read side */
  char *rbuf;
  size_t rlen, rcap;
  int *fdq;             /* received descriptors, oldest first */
  size_t fdq_n, fdq_cap;
  /* write side */
  out_frame *head, *tail;
  size_t backlog;
  /* busy-polling for replies (see the top) */
  uint64_t last_user_send;
  int spin_misses, reads_since_spin;
};

static void free_channel(void *obj) {
  lstr_ipc *ch = obj;
  free(ch->rbuf);
  free(ch->fdq);
  free(ch);
}

static void poll_close_cb(uv_handle_t *h) {
  lstr_ipc *ch = h->data;
  lstr_lifetime_drop(&ch->life);
}

void lstr_ipc_hold(lstr_ipc *ch) { lstr_lifetime_hold(&ch->life); }
void lstr_ipc_drop(lstr_ipc *ch) { lstr_lifetime_drop(&ch->life); }

int lstr_ipc_is_open(const lstr_ipc *ch) { return ch->open && !ch->broken; }
size_t lstr_ipc_backlog(const lstr_ipc *ch) { return ch->backlog; }

static void frame_close_sabfds(out_frame *f) {
  for (int i = 0; i < f->nsab; i++) close(f->sabfd[i]);
  free(f->sabfd);
  f->sabfd = NULL;
  f->nsab = 0;
}

/* Forget every frame still waiting to be written (and the fds they carry). */
static void drop_pending_frames(lstr_ipc *ch) {
  while (ch->head) {
    out_frame *f = ch->head;
    ch->head = f->next;
    if (f->fd >= 0) close(f->fd);
    frame_close_sabfds(f);
    free(f);
  }
  ch->tail = NULL;
  ch->backlog = 0;
}

void lstr_ipc_close(lstr_ipc *ch) {
  if (!ch->open) return;
  ch->open = 0;
  /* the poll handle stops watching before the descriptor number is freed
   * for reuse (libuv's rule for uv_poll_t) */
  uv_close((uv_handle_t *)&ch->poll, poll_close_cb);
  close(ch->fd);
  ch->fd = -1;
  drop_pending_frames(ch);
  for (size_t i = 0; i < ch->fdq_n; i++) if (ch->fdq[i] >= 0) close(ch->fdq[i]);
  ch->fdq_n = 0;
  if (ch->s->L) lstr_unref(ch->s->L, &ch->on_frame_ref);
}

static void poll_cb(uv_poll_t *h, int status, int events);

/* Keep the loop alive while Lua wants it or frames wait to be written. */
static void apply_ref(lstr_ipc *ch) {
  if (ch->want_ref || ch->head) uv_ref((uv_handle_t *)&ch->poll);
  else uv_unref((uv_handle_t *)&ch->poll);
}

/* Watch for readability while open, and writability while frames wait. */
static void update_events(lstr_ipc *ch) {
  if (!ch->open) return;
  apply_ref(ch);
  int want = (ch->closing_after_flush ? 0 : UV_READABLE) | (ch->head ? UV_WRITABLE : 0);
  if (want == ch->events) return;
  ch->events = want;
  if (want) uv_poll_start(&ch->poll, want, poll_cb);
  else uv_poll_stop(&ch->poll);
}

/* ---- writing ---- */

/* Write queued frames until done or the kernel is full.  0 or -errno. */
static int flush_queue(lstr_ipc *ch) {
  while (ch->head) {
    out_frame *f = ch->head;
    struct iovec iov = { f->data + f->off, f->len - f->off };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int) * (1 + LSTR_MSG_MAX_FDS))]; } cm;
    int nfd = (f->fd >= 0) + f->nsab;
    if (nfd) {
      memset(&cm, 0, sizeof cm);
      msg.msg_control = cm.buf;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd);
      struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
      unsigned char *at = CMSG_DATA(c);
      if (f->fd >= 0) { memcpy(at, &f->fd, sizeof(int)); at += sizeof(int); }
      if (f->nsab) memcpy(at, f->sabfd, sizeof(int) * (size_t)f->nsab);
    }
    ssize_t n = sendmsg(ch->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -errno;
    }
    if (f->fd >= 0) { close(f->fd); f->fd = -1; } /* the peer has its copy */
    frame_close_sabfds(f);
    f->off += (size_t)n;
    ch->backlog -= (size_t)n;
    if (f->off == f->len) {
      ch->head = f->next;
      if (!ch->head) ch->tail = NULL;
      free(f);
    }
  }
  return 0;
}

static void after_write(lstr_ipc *ch, int rc) {
  if (rc < 0) {
    ch->broken = 1;
    /* the peer is gone: drop what waits; reading will see the end */
    drop_pending_frames(ch);
  }
  if (ch->closing_after_flush && !ch->head) { lstr_ipc_close(ch); return; }
  update_events(ch);
}

/* lstr_ipc_send, with `nsab` memfds in `sabfd` (malloc'ed), which the
 * channel takes whatever happens. */
static int send_frame(lstr_ipc *ch, int kind, const char *payload, size_t len, int fd,
                      int *sabfd, int nsab) {
  out_frame *f = NULL;
  if (ch->open && !ch->closing_after_flush && !ch->broken) f = malloc(sizeof *f + HEADER_SIZE + len);
  if (!f) {
    for (int i = 0; i < nsab; i++) close(sabfd[i]);
    free(sabfd);
    return ch->open && !ch->closing_after_flush && !ch->broken ? -ENOMEM : -EPIPE;
  }
  uint32_t n32 = (uint32_t)len;
  memcpy(f->data, &n32, 4);
  f->data[4] = (char)kind;
  f->data[5] = fd >= 0 ? 1 : 0;
  f->data[6] = (char)(nsab & 0xff);
  f->data[7] = (char)(nsab >> 8);
  memcpy(f->data + HEADER_SIZE, payload, len);
  f->len = HEADER_SIZE + len;
  f->off = 0;
  f->fd = fd;
  f->nsab = nsab;
  f->sabfd = sabfd;
  f->next = NULL;
  int was_empty = ch->head == NULL;
  if (kind == LSTR_IPC_USER) ch->last_user_send = uv_hrtime();
  if (ch->tail) ch->tail->next = f; else ch->head = f;
  ch->tail = f;
  ch->backlog += f->len;
  if (!was_empty) return 0;
  int rc = flush_queue(ch);
  int undelivered = rc < 0 && ch->head == f && f->off == 0;
  if (undelivered) f->fd = -1; /* the caller keeps its descriptor */
  after_write(ch, rc);
  return undelivered ? rc : 0;
}

int lstr_ipc_send(lstr_ipc *ch, int kind, const char *payload, size_t len, int fd) {
  return send_frame(ch, kind, payload, len, fd, NULL, 0);
}

/* ---- reading ---- */

static void on_eof(lstr_ipc *ch) {
  lstr_state *s = ch->s;
  int ref = ch->on_frame_ref;
  ch->on_frame_ref = LUA_NOREF; /* keep the function alive for this call */
  lstr_ipc_close(ch);
  if (ref == LUA_NOREF) return;
  lstr_push_ref(s->L, ref);
  luaL_unref(s->L, LUA_REGISTRYINDEX, ref);
  lua_pushliteral(s->L, "eof");
  lstr_dispatch(s, 1);
}

/* Room for what one recvmsg can bring, made before reading so that a
 * descriptor never has to be dropped for want of memory (the frames that
 * follow would take the wrong ones).  0, or -1 out of memory. */
static int reserve_fds(lstr_ipc *ch) {
  if (ch->fdq_cap - ch->fdq_n >= MAX_FDS_PER_READ) return 0;
  size_t cap = ch->fdq_cap ? ch->fdq_cap * 2 : MAX_FDS_PER_READ * 2;
  int *q = realloc(ch->fdq, cap * sizeof *q);
  if (!q) return -1;
  ch->fdq = q;
  ch->fdq_cap = cap;
  return 0;
}

static void queue_fd(lstr_ipc *ch, int fd) {
  if (ch->fdq_n < ch->fdq_cap) ch->fdq[ch->fdq_n++] = fd;
  else if (fd >= 0) close(fd); /* more than the peer's frames can carry */
}

/* The oldest received descriptor: an fd, LOST_FD, or -1 when none came
 * (a broken peer; treated as lost). */
static int take_fd(lstr_ipc *ch) {
  if (ch->fdq_n == 0) return LOST_FD;
  int fd = ch->fdq[0];
  memmove(ch->fdq, ch->fdq + 1, (ch->fdq_n - 1) * sizeof *ch->fdq);
  ch->fdq_n--;
  return fd;
}

/* Hand every whole frame in the buffer to Lua.  Returns -1 when the peer
 * sent something that is not a frame (the channel is then closed). */
static int parse_frames(lstr_ipc *ch) {
  lstr_state *s = ch->s;
  size_t pos = 0;
  while (ch->open && ch->rlen - pos >= HEADER_SIZE) {
    uint32_t len;
    memcpy(&len, ch->rbuf + pos, 4);
    int kind = (unsigned char)ch->rbuf[pos + 4];
    int nfds = (unsigned char)ch->rbuf[pos + 5];
    int nsab = (unsigned char)ch->rbuf[pos + 6] | (unsigned char)ch->rbuf[pos + 7] << 8;
    if (len > MAX_FRAME || nfds > 1 || nsab > LSTR_MSG_MAX_FDS) return -1;
    if (ch->rlen - pos < HEADER_SIZE + (size_t)len) break;
    const char *payload = ch->rbuf + pos + HEADER_SIZE;
    pos += HEADER_SIZE + len;
    int fd = nfds ? take_fd(ch) : -1;
    int sabfd[LSTR_MSG_MAX_FDS];
    for (int i = 0; i < nsab; i++) sabfd[i] = take_fd(ch);
    if (ch->on_frame_ref == LUA_NOREF) { /* closing after a flush: nobody listens */
      if (fd >= 0) close(fd);
      for (int i = 0; i < nsab; i++) if (sabfd[i] >= 0) close(sabfd[i]);
      continue;
    }

    lua_State *L = s->L;
    lstr_push_ref(L, ch->on_frame_ref);
    lua_pushinteger(L, kind);
    lstr_msg *m = lstr_msg_from_bytes(payload, len);
    if (!m) for (int i = 0; i < nsab; i++) { if (sabfd[i] >= 0) close(sabfd[i]); }
    /* a memfd that cannot be mapped leaves its index unknown: decode fails */
    if (m) lstr_msg_attach_fds(m, sabfd, (size_t)nsab);
    int bad = !m || lstr_msg_decode(L, m) != 0;
    lstr_msg_free(m);
    if (bad) {
      /* the error table (or nothing, out of memory) goes in 4th place */
      if (!m) lua_pushliteral(L, "out of memory");
      lua_pushnil(L);
      lua_insert(L, -2);
      if (fd >= 0) lua_pushinteger(L, fd); else lua_pushnil(L);
      lua_insert(L, -2);
    } else if (fd == LOST_FD) {
      lua_pushnil(L);
      lua_pushliteral(L, "EMFILE");
    } else {
      if (fd >= 0) lua_pushinteger(L, fd); else lua_pushnil(L);
      lua_pushnil(L);
    }
    lstr_dispatch(s, 4);
  }
  if (ch->open) {
    memmove(ch->rbuf, ch->rbuf + pos, ch->rlen - pos);
    ch->rlen -= pos;
  }
  return 0;
}

/* Read what the socket has (bounded, so one busy peer cannot starve the
 * loop) and dispatch the frames.  Returns 1 if it stopped on EAGAIN. */
static int channel_read(lstr_ipc *ch, int max_rounds) {
  int drained = 0, reset_seen = 0;
  if (ch->reading) return 0;
  ch->reading = 1;
  for (int round = 0; round < max_rounds && ch->open; round++) {
    if (ch->rcap - ch->rlen < READ_CHUNK) {
      size_t cap = ch->rcap ? ch->rcap : READ_CHUNK;
      while (cap - ch->rlen < READ_CHUNK) cap *= 2;
      char *b = realloc(ch->rbuf, cap);
      if (!b) break;
      ch->rbuf = b;
      ch->rcap = cap;
    }
    if (reserve_fds(ch) < 0) break;
    struct iovec iov = { ch->rbuf + ch->rlen, ch->rcap - ch->rlen };
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_READ)]; } cm;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = cm.buf, .msg_controllen = sizeof cm.buf };
    ssize_t n = recvmsg(ch->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) { drained = 1; break; }
      /* A peer that closed with our frames unread leaves ECONNRESET
       * pending, reported (once) before what it wrote last: read on. */
      if (errno == ECONNRESET && !reset_seen) { reset_seen = 1; continue; }
      on_eof(ch);
      break;
    }
    size_t got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < k; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        queue_fd(ch, fd);
        got++;
      }
    }
    /* One recvmsg brings the descriptors of at most one frame, and a frame
     * carries one: truncated with none installed means that one was lost
     * (the receiver is at its descriptor limit). */
    if ((msg.msg_flags & MSG_CTRUNC) && got == 0) queue_fd(ch, LOST_FD);
    if (n == 0) { on_eof(ch); break; }
    ch->rlen += (size_t)n;
    if (parse_frames(ch) < 0) { on_eof(ch); break; }
  }
  ch->reading = 0;
  return drained;
}

/* After a read whose callbacks sent a user message: wait for the reply a
 * little while on this CPU instead of sleeping.  1 if input arrived. */
static int spin_for_reply(lstr_ipc *ch, uint64_t read_start) {
  if (!ch->open || ch->head || ch->last_user_send < read_start) return 0;
  if (ch->spin_misses >= SPIN_MISSES) {
    if (++ch->reads_since_spin < SPIN_RETRY) return 0;
    ch->reads_since_spin = 0;
    ch->spin_misses = SPIN_MISSES - 1; /* one more chance */
  }
  uint64_t until = uv_hrtime() + SPIN_NS;
  char c;
  do {
    if (recv(ch->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) != -1 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      ch->spin_misses = 0;
      return 1;
    }
  } while (uv_hrtime() < until);
  ch->spin_misses++;
  return 0;
}

static void poll_cb(uv_poll_t *h, int status, int events) {
  lstr_ipc *ch = h->data;
  if (!ch->open) return;
  if (status < 0) {
    /* EPOLLERR: the peer closed with our frames unread (ECONNRESET).  What
     * it wrote before is still queued: read it all, then the end. */
    lstr_ipc_drain(ch);
    if (ch->open) on_eof(ch);
    return;
  }
  if (events & UV_WRITABLE) after_write(ch, flush_queue(ch));
  if (!ch->open || !(events & UV_READABLE)) return;
  for (int turns = 0; turns < 64; turns++) {
    uint64_t start = uv_hrtime();
    if (!channel_read(ch, 16) || !spin_for_reply(ch, start)) break;
  }
}

lstr_ipc *lstr_ipc_new(lstr_state *s, int fd, int on_frame_ref) {
  lstr_ipc *ch = calloc(1, sizeof *ch);
  if (!ch) { close(fd); return NULL; }
  ch->s = s;
  ch->fd = fd;
  lstr_lifetime_init(&ch->life, ch, free_channel, 2); /* the poll handle + the caller */
  ch->open = 1;
  ch->want_ref = 1;
  ch->on_frame_ref = on_frame_ref;
  if (uv_poll_init(s->loop, &ch->poll, fd) != 0) {
    close(fd);
    free(ch);
    return NULL;
  }
  ch->poll.data = ch;
  update_events(ch);
  return ch;
}

/* Read everything the peer left (it has exited): frames, then 'eof'. */
void lstr_ipc_drain(lstr_ipc *ch) {
  while (ch->open && !channel_read(ch, 64)) {}
}

/* ---- the Lua userdata ---- */
#define CHANNEL_MT "luster.ipc"

void lstr_ipc_push(lua_State *L, lstr_ipc *ch) {
  lstr_ipc **p = lua_newuserdata(L, sizeof *p);
  *p = ch;
  lstr_ipc_hold(ch);
  luaL_getmetatable(L, CHANNEL_MT);
  lua_setmetatable(L, -2);
}

lstr_ipc *lstr_ipc_check(lua_State *L, int idx) {
  lstr_ipc **p = luaL_checkudata(L, idx, CHANNEL_MT);
  if (!*p) luaL_argerror(L, idx, "channel is gone");
  return *p;
}

static int channel_gc(lua_State *L) {
  lstr_ipc **p = luaL_checkudata(L, 1, CHANNEL_MT);
  if (*p) {
    lstr_ipc_close(*p);
    lstr_ipc_drop(*p);
    *p = NULL;
  }
  return 0;
}

/* ch:send(kind, value[, fd]) -> true, writable (false: a backlog builds up)
 * | nil, 'ERR_IPC_CHANNEL_CLOSED'.  Raises DataCloneError, sending nothing.
 * The channel owns fd once the call returns true; otherwise the caller. */
static int channel_send(lua_State *L) {
  lstr_ipc *ch = lstr_ipc_check(L, 1);
  int kind = (int)luaL_checkinteger(L, 2);
  luaL_checkany(L, 3);
  int fd = (int)luaL_optinteger(L, 4, -1);
  if (!ch->open || ch->closing_after_flush || ch->broken) {
    lua_pushnil(L);
    lua_pushliteral(L, "ERR_IPC_CHANNEL_CLOSED");
    return 2;
  }
  lstr_msg *m = lstr_msg_encode(L, 3, 0, LSTR_CLONE_PROCESS);
  if (!m) return lua_error(L);
  size_t len, nsab = lstr_msg_nfds(m);
  int *sabfd = nsab ? malloc(nsab * sizeof *sabfd) : NULL;
  if (nsab && (!sabfd || lstr_msg_dup_fds(m, sabfd) < 0)) {
    free(sabfd);
    lstr_msg_free(m);
    return lstr_error(L, "DataCloneError", "no descriptor left to send a SharedArrayBuffer with");
  }
  const char *bytes = lstr_msg_bytes(m, &len);
  int rc = send_frame(ch, kind, bytes, len, fd, sabfd, (int)nsab);
  lstr_msg_free(m);
  if (rc < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "ERR_IPC_CHANNEL_CLOSED");
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_pushboolean(L, ch->backlog < 1024 * 1024);
  return 2;
}

/* ch:close([graceful]): graceful stops reading now and closes once what was
 * sent has left (process.disconnect()); otherwise at once. */
static int channel_close(lua_State *L) {
  lstr_ipc *ch = lstr_ipc_check(L, 1);
  if (!ch->open) return 0;
  if (lua_toboolean(L, 2) && ch->head) {
    ch->closing_after_flush = 1;
    lstr_unref(L, &ch->on_frame_ref);
    update_events(ch);
  } else {
    lstr_ipc_close(ch);
  }
  return 0;
}

/* ch:ref([on]): whether the channel keeps the process alive while idle
 * (frames waiting to be written always do). */
static int channel_ref(lua_State *L) {
  lstr_ipc *ch = lstr_ipc_check(L, 1);
  ch->want_ref = lua_isnone(L, 2) || lua_toboolean(L, 2);
  if (ch->open) apply_ref(ch);
  return 0;
}

static int channel_is_open(lua_State *L) {
  lstr_ipc *ch = lstr_ipc_check(L, 1);
  lua_pushboolean(L, ch->open && !ch->closing_after_flush);
  return 1;
}

static int channel_backlog(lua_State *L) {
  lua_pushnumber(L, (lua_Number)lstr_ipc_check(L, 1)->backlog);
  return 1;
}

/* channel(fd, on_frame) -> channel: adopt a connected socket. */
static int channel_new_lua(lua_State *L) {
  int fd = (int)luaL_checkinteger(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);
  int ref = lstr_ref(L);
  lstr_ipc *ch = lstr_ipc_new(lstr_ctx(L), fd, ref);
  if (!ch) { lstr_unref(L, &ref); return lstr_error(L, "ERR_IPC_CHANNEL_CLOSED", "cannot open the IPC channel"); }
  lstr_ipc_push(L, ch);
  lstr_ipc_drop(ch); /* the userdata holds the only Lua-side reference */
  return 1;
}

static const luaL_Reg channel_methods[] = {
  {"send", channel_send},
  {"close", channel_close},
  {"ref", channel_ref},
  {"is_open", channel_is_open},
  {"backlog", channel_backlog},
  {NULL, NULL}
};

void lstr_ipc_open_lib(lua_State *L) {
  lstr_new_class(L, CHANNEL_MT, channel_methods, channel_gc);
  lua_pushcfunction(L, channel_new_lua);
  lua_setfield(L, -2, "channel");
}
