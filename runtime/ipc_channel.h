/*
 * ipc_channel.h — the IPC channel between two processes (a cluster primary
 * and one worker): length-prefixed frames of structured-clone bytes over a
 * Unix socketpair, file descriptors riding along with SCM_RIGHTS.
 *
 * Not to be confused with message_port.h, which connects threads of one
 * process.  The channel is part of `native.cluster` (cluster.c opens it).
 *
 * Ownership: an lstr_ipc is malloc'ed and held (lstr_lifetime, lstr.h) by
 * its poll handle until libuv closed it, by the Lua userdata, by the
 * cluster process it belongs to and by every share member that may hand it
 * a connection; the last drop frees it, so a share never writes through a
 * dangling pointer whatever order Lua drops things in.
 */
#ifndef LSTR_IPC_CHANNEL_H
#define LSTR_IPC_CHANNEL_H

#include "lstr.h"

/* Frame kinds: what the payload is for.  Users cannot forge internal
 * messages because the kind is outside the clone bytes they control. */
#define LSTR_IPC_USER 1      /* process.send / worker:send */
#define LSTR_IPC_INTERNAL 2  /* the cluster protocol (listen, newconn...) */

typedef struct lstr_ipc lstr_ipc;

/* Start polling an already connected, non-blocking socket (the caller
 * holds the one reference it returns with).  on_frame_ref is a registry
 * ref to fn(kind, value, fd, err) ('eof' as kind at the end); the channel
 * takes it.  err is a decode error (value nil), or 'EMFILE' when the frame's
 * descriptor could not be received (the kernel closed it; value is set).
 * Returns NULL on allocation failure (fd is then closed). */
lstr_ipc *lstr_ipc_new(lstr_state *s, int fd, int on_frame_ref);
void lstr_ipc_hold(lstr_ipc *ch);
void lstr_ipc_drop(lstr_ipc *ch);
/* Stop reading and close the socket now; pending writes are dropped. */
void lstr_ipc_close(lstr_ipc *ch);
/* The peer has exited: read and dispatch what it left, then 'eof'. */
void lstr_ipc_drain(lstr_ipc *ch);
int lstr_ipc_is_open(const lstr_ipc *ch);
/* Bytes written by us but not yet taken by the kernel. */
size_t lstr_ipc_backlog(const lstr_ipc *ch);
/* Queue one frame.  Returns 0, and then the channel owns `fd` (>= 0) and
 * closes it once sent or undeliverable; or a negative errno (the peer is
 * gone), and then the caller still owns `fd` and may try another worker. */
int lstr_ipc_send(lstr_ipc *ch, int kind, const char *payload, size_t len, int fd);

/* Lua side: the channel userdata. */
void lstr_ipc_push(lua_State *L, lstr_ipc *ch);
lstr_ipc *lstr_ipc_check(lua_State *L, int idx);
void lstr_ipc_open_lib(lua_State *L); /* adds channel() and the metatable */

#endif
