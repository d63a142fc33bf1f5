/*
 * http.h — the HTTP/1.1 server's internal structures, shared by
 *   http.c           the server object and `native.http` (Lua API)
 *   http_conn.c      one connection: reading, llhttp parsing, dispatching
 *                    requests to Lua, keep-alive, pipelining, timeouts
 *   http_response.c  serializing responses (status line + headers + body in
 *                    one write), the cached Date header, canned errors
 *
 * Ownership: the Lua server object holds a userdata pointing at the
 * http_server; each connection holds it too (`life`, lstr.h's lifetime), and it
 * is freed when the last reference goes and its handles are closed.  A
 * connection is malloc'ed and freed in its close callback; Lua reaches it
 * through a small userdata cell that is nulled when the connection closes,
 * so a handler that answers late just finds the cell empty.
 */
#ifndef LSTR_HTTP_H
#define LSTR_HTTP_H

#include "lstr.h"
#include <llhttp.h>
#include <time.h>

#define HTTP_CONN_MT "luster.http.conn"     /* the userdata cell Lua holds */

typedef struct http_server http_server;
typedef struct http_conn http_conn;
struct tls_engine;   /* tls_engine.h: https connections only */
struct ssl_ctx_st;   /* OpenSSL's SSL_CTX */

/* a growable byte buffer */
typedef struct {
  char *p;
  size_t len, cap;
} http_buf;

int http_buf_append(http_buf *b, const char *p, size_t n); /* 0 or -1 (no memory) */
void http_buf_free(http_buf *b);
/* A header line collected in b from field_off as "name\0value" (the server's
 * request heads and the client's response heads): drops the value's
 * trailing whitespace and returns where the value starts (it runs to b->len). */
size_t http_header_value_trim(http_buf *b, size_t field_off);

/* Where a connection is in its request cycle; each phase has its timeout. */
enum {
  PHASE_IDLE,     /* between requests (keepAliveTimeout) or before the first (headersTimeout) */
  PHASE_HEADERS,  /* request line and headers arriving (headersTimeout) */
  PHASE_BODY,     /* body arriving (requestTimeout) */
  PHASE_WAIT,     /* request complete, response pending: no timeout */
  PHASE_LINGER    /* our side is shut down; draining input before closing */
};

struct http_conn {
  uv_tcp_t tcp;
  llhttp_t parser;
  http_server *srv;
  http_conn *prev, *next;       /* the server's list of connections */
  http_conn *resume_next;       /* queue of connections to resume (idle cb) */
  http_conn **cell;             /* the Lua userdata cell pointing at us */
  int sock_ref;                 /* Lua socket table, LUA_NOREF until needed */
  struct tls_engine *tls;       /* https: the TLS session (tls_http.c), else NULL */

  /* the request being parsed: url, then "name\0value\0" pairs */
  http_buf req;
  size_t url_len;
  size_t field_off;             /* where the current header name starts */
  size_t header_bytes;
  int hstate;                   /* 0 none, 1 in a name, 2 in a value */
  int host_headers;             /* Host lines seen (counted up to 2) */
  http_buf body;                /* body bytes not yet handed to Lua */
  uint64_t body_total;
  http_buf pend;                /* input kept while a response is pending */

  uint64_t t_start;             /* when the current phase's clock started */
  uint32_t seq;                 /* request number, checked by respond() */
  int phase;
  int err_status;               /* set by a parser callback that rejects */
  int writes;                   /* uv_write requests in flight */

  unsigned dispatched : 1;      /* Lua has the current request */
  unsigned msg_complete : 1;    /* the whole request has been parsed */
  unsigned res_started : 1;     /* response head written */
  unsigned res_done : 1;        /* response finished */
  unsigned res_chunked : 1;
  unsigned res_no_body : 1;     /* HEAD, 204, 304 */
  unsigned keep_alive : 1;
  unsigned expect_continue : 1;
  unsigned closing : 1;
  unsigned eof : 1;
  unsigned read_stopped : 1;
  unsigned in_feed : 1;
  unsigned resume_queued : 1;
  unsigned served : 1;          /* at least one request answered */
  unsigned shut : 1;            /* shutdown requested */
  /* backpressure (see "Backpressure" at the top of http_conn.c) */
  unsigned body_paused : 1;     /* Lua holds a high-water mark of unread body */
  unsigned body_consumer : 1;   /* Lua reads the body: keep it after the response */
  unsigned dump_body : 1;       /* answered before the body was read: drop the rest */
  unsigned out_blocked : 1;     /* unsent output above the mark: next request waits */
  unsigned want_drain : 1;      /* a write() said false: tell Lua when the queue empties */
  unsigned upgrade_handoff : 1; /* this request leaves HTTP: its socket goes to Lua (http_conn.c) */
  unsigned upgrade_wait : 1;    /* ... once the earlier responses still queued are written */
};

/* The default of how much unsent output a connection may hold before
 * res:write() says false and pipelined requests wait (Node's
 * writableHighWaterMark; createServer's highWaterMark option). */
#define HTTP_WRITE_HWM (64 * 1024)

/* notify_upgrade bits: the server has an 'upgrade' / a 'connect' listener */
#define HTTP_WANT_UPGRADE 1
#define HTTP_WANT_CONNECT 2

struct http_server {
  lstr_state *s;
  uv_tcp_t listener;
  uv_timer_t sweep;             /* checks timeouts, unref'ed */
  uv_idle_t resume_idle;        /* resumes connections whose response finished late */
  llhttp_settings_t settings;
  http_conn *conns;
  http_conn *resume_head;
  int nconns;
  lstr_lifetime life;           /* held by the Lua object, open handles, connections */
  int listening;
  int closing;                  /* close() called: no new connections */
  uint64_t close_started;       /* loop time server:close() was called */
  int notify_connection;        /* Lua listens for 'connection' */
  int notify_upgrade;           /* HTTP_WANT_UPGRADE | HTTP_WANT_CONNECT: Lua listens */
  int on_request_ref, on_event_ref, socket_mt_ref;
  struct ssl_ctx_st *tls_ctx;   /* https: connections speak TLS (tls_http.c) */
  int tls_notify_secure;        /* https: Lua listens for 'secureConnection' */

  /* limits (options of createServer, Node's names and defaults) */
  size_t max_header_size;       /* 16 KiB -> 431 */
  uint64_t max_body_size;       /* 0 = unlimited -> 413 */
  uint64_t headers_timeout;     /* ms, 0 = none -> 408 */
  uint64_t request_timeout;     /* ms, 0 = none -> 408 */
  uint64_t keep_alive_timeout;  /* ms, 0 = close after each response */
  int max_connections;          /* 0 = unlimited */
  size_t write_hwm;             /* highWaterMark: unsent bytes before write() says false */

  time_t date_sec;              /* the second `date` was formatted for */
  char date[64];                /* "Date: ...\r\n" */
  size_t date_len;
  char readbuf[64 * 1024];      /* libuv reads into this, one read at a time */
};

/* http_conn.c */
http_conn *http_conn_open(http_server *srv, int fd);   /* adopt a connected fd */
void http_conn_accept(http_server *srv);               /* accept on the listener */
void http_conn_feed(http_conn *c, const char *p, size_t n);
void http_conn_close(http_conn *c);
void http_conn_response_done(http_conn *c);            /* respond() finished one */
void http_conn_drained(http_conn *c);                  /* the write queue emptied */
void http_conn_read_body(http_conn *c, int on);        /* Lua wants (more) body, or no more for now */
void http_conn_shutdown(http_conn *c);                 /* flush, then close */
/* how long server:close() leaves idle keep-alive connections for requests
 * already on their way (answered with Connection: close) */
#define CLOSE_GRACE_MS 1000
void http_conn_sweep(http_server *srv);                /* enforce timeouts */
void http_settings_init(llhttp_settings_t *st);
void http_server_unref(http_server *srv);

/* http_response.c */
const char *http_date(http_server *srv, size_t *len);
/* Write bufs in order (tries a direct write first, queues the rest). */
int http_conn_write(http_conn *c, uv_buf_t *bufs, int nbufs);
/* A canned error response (400, 408, 413, 431, 500) and close. */
void http_conn_fail(http_conn *c, int status);
const char *http_reason(int status);
int http_respond(lua_State *L);   /* native.http.respond */
int http_inform(lua_State *L);    /* native.http.inform: a 1xx response */
int http_check_headers(lua_State *L); /* native.http.check_headers(t) */
int http_check_header(lua_State *L);  /* native.http.check_header(name, value) */
void http_push_headers(lua_State *L, const char *raw, size_t len, int as_list); /* "k\0v\0" -> a table */

/* The socket itself, under TLS (http_conn_write is TLS-aware) */
int http_conn_write_raw(http_conn *c, uv_buf_t *bufs, int nbufs);

/* for tls_http.c: the connection's Lua socket table (made on first use),
 * and a resumption from the loop (not from inside a Lua call) */
void http_conn_push_sock(http_conn *c);
void http_conn_queue_resume(http_conn *c);

/* tls_http.c: the hooks of a server with a tls_ctx */
int tls_http_start(http_conn *c);                  /* new connection: its engine */
void tls_http_free(http_conn *c);
void tls_http_read(http_conn *c, const char *p, size_t n);
int tls_http_write(http_conn *c, uv_buf_t *bufs, int nbufs);
void tls_http_close_notify(http_conn *c);
void tls_http_resume(http_conn *c);                /* resume_conn: an SNI answer came */
void tls_http_closed(http_conn *c);                /* the close callback, before Lua lets go */
int tls_http_push_engine(http_conn *c);            /* an upgrade: the session to Lua (1 value) */
void tls_http_idle(http_conn *c);                  /* the sweep: an idle keep-alive connection */
void tls_http_release_ctx(http_server *srv);

#endif
