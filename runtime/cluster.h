/*
 * cluster.h — what the cluster's C files share (internal, not installed).
 *
 *   cluster_channel.c   the IPC channel between a primary and one worker:
 *                       length-prefixed frames of structured-clone bytes over
 *                       a Unix socketpair, file descriptors riding along
 *                       with SCM_RIGHTS
 *   cluster_share.c     a listening socket the primary owns for a port that
 *                       workers share; in round-robin mode it accepts and
 *                       hands each connection to the next worker's channel
 *   cluster.c           spawning workers (uv_spawn + the channel on fd 3),
 *                       the worker's start-up, and require('native.cluster')
 *
 * Ownership: a channel is malloc'ed and reference counted.  The Lua userdata
 * holds one reference, every share member holds one; the memory goes when
 * the count reaches zero *and* the poll handle has been closed, so a share
 * never writes through a dangling pointer whatever order Lua drops things.
 */
#ifndef LSTR_CLUSTER_H
#define LSTR_CLUSTER_H

#include "lstr.h"

/* The file descriptor a worker finds its channel on (like NODE_CHANNEL_FD). */
#define LSTR_CLUSTER_CHANNEL_FD 3

/* Frame kinds: what the payload is for.  Users cannot forge internal
 * messages because the kind is outside the clone bytes they control. */
#define LSTR_FRAME_USER 1      /* process.send / worker:send */
#define LSTR_FRAME_INTERNAL 2  /* the cluster protocol (listen, newconn...) */

typedef struct lstr_channel lstr_channel;

/* Start polling an already connected, non-blocking socket (the caller
 * holds the one reference it returns with).  on_frame_ref is
 * a registry ref to fn(kind, value, fd, err) ('eof' as kind at the end); the
 * channel takes it.  Returns NULL on allocation failure (fd is then closed). */
lstr_channel *lstr_channel_new(lstr_state *s, int fd, int on_frame_ref);
void lstr_channel_retain(lstr_channel *ch);
void lstr_channel_release(lstr_channel *ch);
/* Stop reading and close the socket now; pending writes are dropped. */
void lstr_channel_close(lstr_channel *ch);
/* The peer has exited: read and dispatch what it left, then 'eof'. */
void lstr_channel_drain(lstr_channel *ch);
int lstr_channel_is_open(const lstr_channel *ch);
/* Bytes written by us but not yet taken by the kernel. */
size_t lstr_channel_backlog(const lstr_channel *ch);
/* Queue one frame.  Returns 0, and then the channel owns `fd` (>= 0) and
 * closes it once sent or undeliverable; or a negative errno (the peer is
 * gone), and then the caller still owns `fd` and may try another worker. */
int lstr_channel_send(lstr_channel *ch, int kind, const char *payload, size_t len, int fd);

/* Lua side: the channel userdata (cluster_channel.c). */
void lstr_channel_push(lua_State *L, lstr_channel *ch);
lstr_channel *lstr_channel_check(lua_State *L, int idx);
void lstr_channel_open_lib(lua_State *L); /* adds channel(), metatable */

/* Shares (cluster_share.c): adds share_bind() and its metatable. */
void lstr_share_open_lib(lua_State *L);

#endif
