/*
 * http_conn.c — one HTTP/1.1 server connection: read, parse, dispatch.
 *
 * Owns a connection's whole life: accepting (or adopting an fd from the
 * cluster seam), reading into the server's shared read buffer, parsing with
 * llhttp, handing each request to Lua, pipelining, keep-alive, half-close,
 * lingering close, and the timeouts (swept by a per-server timer rather than
 * a timer per connection, as Node does).
 *
 * One request at a time: the parser pauses when a request is complete and
 * its response is not; further pipelined input waits in `pend` (reading
 * stops when that holds more than PEND_MAX) and is parsed again once the
 * response is finished.  That keeps responses in request order however long
 * a handler awaits, with no response queue.
 *
 * No Lua runs inside llhttp callbacks: they only collect bytes into the
 * connection's buffers.  Lua is called after llhttp_execute returns — once
 * per request when the whole request arrived in one read (the common case),
 * plus one call per later read of a streamed body.
 *
 * Backpressure: a connection holds bounded memory whatever the client does.
 * Reading from the kernel stops (update_reading) while any of these holds:
 *   - the request's unread body in Lua reached its high-water mark
 *     (lua/luster/stream.lua says so through read_body(h, false), and
 *     read_body(h, true) when the handler reads again);
 *   - unsent output is above the server's highWaterMark (64 KiB by
 *     default, HTTP_WRITE_HWM): the next pipelined request is
 *     not parsed (its bytes wait in `pend`) until the write queue drains,
 *     so a client that sends requests and never reads answers cannot make
 *     us queue answers without end;
 *   - more than PEND_MAX of pipelined input waits.
 * So per connection: one read buffer's worth past each mark.  A response
 * finished before its body was read (and nobody reads it) drops the rest of
 * the body instead of stopping, so the connection can go on.
 *
 * Upgrades: a request with `Connection: upgrade` + `Upgrade:` (or CONNECT)
 * on a server with an 'upgrade' (or 'connect') listener leaves HTTP, as in
 * Node: its body is not parsed (the bytes after the head belong to the new
 * protocol), and once the responses before it are written the connection
 * gives its socket away — a dup of the fd goes to Lua (which wraps it in a
 * net.Socket, runtime/socket.c) with the bytes already read past the head,
 * and this connection's handle is closed (which closes only its own fd).
 * Without a listener such a request is served as any other, then closed.
 */
#include "http.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <unistd.h>

#define PEND_MAX (64 * 1024)   /* stop reading when this much input waits */
#define LINGER_MS 2000         /* how long a closing connection drains input */
#define KEEP_BUF (64 * 1024)   /* buffers larger than this are freed between requests */

enum { REQ_KEEP_ALIVE = 1, REQ_COMPLETE = 2 };

static uint64_t now_ms(http_conn *c) { return uv_now(c->srv->s->loop); }

int http_buf_append(http_buf *b, const char *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) return -1;
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

void http_buf_free(http_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

size_t http_header_value_trim(http_buf *b, size_t field_off) {
  size_t value_off = field_off + strlen(b->p + field_off) + 1;
  /* llhttp drops leading whitespace of a value; drop the trailing too */
  while (b->len > value_off && (b->p[b->len - 1] == ' ' || b->p[b->len - 1] == '\t')) b->len--;
  return value_off;
}

static void buf_trim(http_buf *b) {
  b->len = 0;
  if (b->cap > KEEP_BUF) http_buf_free(b);
}

/* ---- calls into Lua ---- */

static int lua_gone(http_conn *c) {
  return c->srv->s->exiting || c->srv->on_event_ref == LUA_NOREF;
}

/* The connection's Lua socket table {_h = cell}, made on first use. */
static void push_sock(http_conn *c) {
  lua_State *L = c->srv->s->L;
  if (c->sock_ref != LUA_NOREF) {
    lstr_push_ref(L, c->sock_ref);
    return;
  }
  lua_createtable(L, 0, 4);
  /* the fields lua/http.lua sets per request exist from the start, so a
   * compiled trace stores into them instead of inserting keys */
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "_req");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "_res");
  http_conn **cell = lua_newuserdata(L, sizeof *cell);
  *cell = c;
  c->cell = cell;
  luaL_getmetatable(L, HTTP_CONN_MT);
  lua_setmetatable(L, -2);
  lua_setfield(L, -2, "_h");
  lstr_push_ref(L, c->srv->socket_mt_ref);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  c->sock_ref = lstr_ref(L);
}

void http_conn_push_sock(http_conn *c) { push_sock(c); }

/* on_event(kind, sock, a, b) with a and b already pushed (nargs of them) */
static void notify(http_conn *c, const char *kind, int nargs) {
  lua_State *L = c->srv->s->L;
  lstr_push_ref(L, c->srv->on_event_ref);
  lua_pushstring(L, kind);
  push_sock(c);
  lua_insert(L, -(nargs + 3));
  lua_insert(L, -(nargs + 3));
  lua_insert(L, -(nargs + 3));
  lstr_dispatch(c->srv->s, nargs + 2);
}

/* on_request(sock, seq, method, url, raw_headers, version, flags, body) */
static void dispatch_request(http_conn *c) {
  http_server *srv = c->srv;
  lua_State *L = srv->s->L;
  c->dispatched = 1;
  c->seq++;
  if (lua_gone(c)) return;
  lstr_push_ref(L, srv->on_request_ref);
  push_sock(c);
  lua_pushinteger(L, c->seq);
  lua_pushstring(L, llhttp_method_name((llhttp_method_t)c->parser.method));
  lua_pushlstring(L, c->req.p, c->url_len);
  lua_pushlstring(L, c->req.p + c->url_len, c->req.len - c->url_len);
  lua_pushinteger(L, c->parser.http_major * 10 + c->parser.http_minor);
  lua_pushinteger(L, (c->keep_alive ? REQ_KEEP_ALIVE : 0) | (c->msg_complete ? REQ_COMPLETE : 0));
  if (c->body.len) lua_pushlstring(L, c->body.p, c->body.len);
  else lua_pushnil(L);
  buf_trim(&c->body);
  lstr_dispatch(srv->s, 8);
}

/* More of a streamed body, and/or its end. */
static void deliver_body(http_conn *c) {
  lua_State *L = c->srv->s->L;
  if (lua_gone(c)) { c->body.len = 0; return; }
  if (c->body.len) lua_pushlstring(L, c->body.p, c->body.len);
  else lua_pushnil(L);
  c->body.len = 0;
  lua_pushboolean(L, c->msg_complete);
  notify(c, "body", 2);
}

/* ---- llhttp callbacks: collect bytes, never call Lua ---- */

static int count_header_bytes(http_conn *c, size_t n) {
  c->header_bytes += n;
  if (c->srv->max_header_size && c->header_bytes > c->srv->max_header_size) {
    c->err_status = 431;
    return HPE_USER;
  }
  return 0;
}

static int append(http_conn *c, http_buf *b, const char *at, size_t n) {
  if (http_buf_append(b, at, n)) {
    c->err_status = 503;
    return HPE_USER;
  }
  return 0;
}

static int on_message_begin(llhttp_t *p) {
  http_conn *c = p->data;
  c->phase = PHASE_HEADERS;
  c->t_start = now_ms(c);
  c->req.len = c->url_len = c->header_bytes = 0;
  c->hstate = 0;
  c->body.len = 0;
  c->body_total = 0;
  c->expect_continue = 0;
  c->host_headers = 0;
  c->err_status = 0;
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n) {
  http_conn *c = p->data;
  c->url_len += n;
  return count_header_bytes(c, n) ? HPE_USER : append(c, &c->req, at, n);
}

static int on_header_field(llhttp_t *p, const char *at, size_t n) {
  http_conn *c = p->data;
  if (c->hstate != 1) {
    c->field_off = c->req.len;
    c->hstate = 1;
  }
  return count_header_bytes(c, n) ? HPE_USER : append(c, &c->req, at, n);
}

static int on_header_field_complete(llhttp_t *p) {
  http_conn *c = p->data;
  if (c->hstate != 1 || c->req.len == c->field_off) { /* ": v": no name (llhttp lets it by) */
    c->err_status = 400;
    return HPE_USER;
  }
  c->hstate = 2;
  return count_header_bytes(c, 4) ? HPE_USER : append(c, &c->req, "", 1);
}

static int on_header_value(llhttp_t *p, const char *at, size_t n) {
  http_conn *c = p->data;
  return count_header_bytes(c, n) ? HPE_USER : append(c, &c->req, at, n);
}

static int on_header_value_complete(llhttp_t *p) {
  http_conn *c = p->data;
  size_t value_off = http_header_value_trim(&c->req, c->field_off);
  const char *name = c->req.p + c->field_off;
  size_t name_len = value_off - c->field_off - 1;
  size_t value_len = c->req.len - value_off;
  if (name_len == 6 && strncasecmp(name, "expect", 6) == 0 && value_len == 12 &&
      strncasecmp(c->req.p + value_off, "100-continue", 12) == 0)
    c->expect_continue = 1;
  if (name_len == 4 && strncasecmp(name, "host", 4) == 0 && c->host_headers < 2) c->host_headers++;
  c->hstate = 0;
  return append(c, &c->req, "", 1);
}

static int on_headers_complete(llhttp_t *p) {
  http_conn *c = p->data;
  http_server *srv = c->srv;
  c->phase = PHASE_BODY;
  c->keep_alive = llhttp_should_keep_alive(p) && !p->upgrade;
  /* RFC 9112 3.2: an HTTP/1.1 request has exactly one Host (llhttp does
   * not check); two could make a proxy and us disagree on the target */
  if (p->http_major == 1 && p->http_minor >= 1 && c->host_headers != 1) {
    c->err_status = 400;
    return -1;
  }
  if (srv->max_body_size && (p->flags & F_CONTENT_LENGTH) && p->content_length > srv->max_body_size) {
    c->err_status = 413;
    return -1;
  }
  if (p->upgrade && (srv->notify_upgrade & (p->method == HTTP_CONNECT ? HTTP_WANT_CONNECT : HTTP_WANT_UPGRADE))) {
    c->upgrade_handoff = 1;
    return 2; /* llhttp: no body, the rest is another protocol */
  }
  if (c->expect_continue && p->http_major == 1 && p->http_minor >= 1) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    uv_buf_t b = uv_buf_init((char *)cont, sizeof cont - 1);
    http_conn_write(c, &b, 1);
  }
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
  http_conn *c = p->data;
  c->body_total += n;
  if (c->srv->max_body_size && c->body_total > c->srv->max_body_size) {
    c->err_status = 413;
    return HPE_USER;
  }
  if (c->dump_body) return 0;
  return append(c, &c->body, at, n);
}

static int on_message_complete(llhttp_t *p) {
  http_conn *c = p->data;
  c->phase = PHASE_WAIT;
  c->msg_complete = 1;
  return HPE_PAUSED; /* one request at a time: see the top of this file */
}

void http_settings_init(llhttp_settings_t *st) {
  llhttp_settings_init(st);
  st->on_message_begin = on_message_begin;
  st->on_url = on_url;
  st->on_header_field = on_header_field;
  st->on_header_field_complete = on_header_field_complete;
  st->on_header_value = on_header_value;
  st->on_header_value_complete = on_header_value_complete;
  st->on_headers_complete = on_headers_complete;
  st->on_body = on_body;
  st->on_message_complete = on_message_complete;
}

/* ---- the request cycle ---- */

static void start_reading(http_conn *c);
static void upgrade(http_conn *c, const char *rest, size_t n);
static void finish_upgrade(http_conn *c);

/* Read from the kernel unless one of the backpressure marks (top of the
 * file) holds.  A lingering connection always reads: it drops the input. */
static void update_reading(http_conn *c) {
  if (c->closing || c->eof) return;
  int want = c->phase == PHASE_LINGER ||
             (!c->body_paused && !c->out_blocked && c->pend.len <= PEND_MAX);
  if (want && c->read_stopped) {
    c->read_stopped = 0;
    start_reading(c);
  } else if (!want && !c->read_stopped) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->read_stopped = 1;
  }
}

static int output_full(http_conn *c) {
  return c->tcp.write_queue_size > c->srv->write_hwm;
}

static void next_request(http_conn *c) {
  c->dispatched = c->msg_complete = c->res_started = c->res_done = 0;
  c->res_chunked = c->res_no_body = 0;
  c->body_paused = c->body_consumer = c->dump_body = c->want_drain = 0;
  c->phase = PHASE_IDLE;
  c->t_start = now_ms(c);
  buf_trim(&c->req);
}

static void stash(http_conn *c, const char *p, size_t n) {
  if (http_buf_append(&c->pend, p, n)) {
    http_conn_close(c);
    return;
  }
  update_reading(c);
}

/* The peer has half-closed: finish what was asked, then close. */
static void check_eof(http_conn *c) {
  if (!c->eof || c->closing) return;
  /* our side is shut and the peer's FIN is here: nothing more to drain
   * (the last request may still count as dispatched: it was answered) */
  if (c->phase == PHASE_LINGER) { http_conn_close(c); return; }
  if (!c->dispatched && c->pend.len == 0) {
    if (c->phase == PHASE_IDLE || c->phase == PHASE_LINGER) http_conn_close(c);
    else http_conn_fail(c, 400); /* a request cut short */
  }
}

void http_conn_feed(http_conn *c, const char *p, size_t n) {
  c->in_feed = 1;
  while (n > 0 && !c->closing && c->phase != PHASE_LINGER) {
    if (c->msg_complete) { /* a response is pending: parse the rest later */
      stash(c, p, n);
      break;
    }
    if (c->phase == PHASE_IDLE && output_full(c)) {
      /* the client is not reading our answers: parse no more for now */
      c->out_blocked = 1;
      stash(c, p, n);
      break;
    }
    llhttp_errno_t err = llhttp_execute(&c->parser, p, n);
    size_t used = n;
    if (err == HPE_PAUSED) {
      used = (size_t)(llhttp_get_error_pos(&c->parser) - p);
      llhttp_resume(&c->parser);
    } else if (err == HPE_PAUSED_UPGRADE) {
      c->keep_alive = 0; /* no upgrades: answer, then close */
    } else if (err != HPE_OK) {
      http_conn_fail(c, c->err_status ? c->err_status : 400);
      break;
    }
    p += used;
    n -= used;
    if (c->upgrade_handoff && c->msg_complete) {
      upgrade(c, p, n);
      break;
    }
    if (c->phase >= PHASE_BODY) {
      if (!c->dispatched) dispatch_request(c);
      else if (c->body.len || c->msg_complete) deliver_body(c);
    }
    if (c->closing || c->phase == PHASE_LINGER) break;
    if (c->msg_complete && c->res_done) next_request(c);
  }
  c->in_feed = 0;
  check_eof(c);
}

/* A response finished while its request was complete, or the write queue
 * drained: parse what waits. */
static void resume_conn(http_conn *c) {
  if (c->tls) {
    tls_http_resume(c);
    if (c->closing) return;
  }
  if (c->msg_complete && c->res_done) next_request(c);
  if (c->pend.len && !c->msg_complete && !c->out_blocked) {
    http_buf pend = c->pend;
    memset(&c->pend, 0, sizeof c->pend);
    http_conn_feed(c, pend.p, pend.len);
    http_buf_free(&pend);
  }
  if (c->closing) return;
  update_reading(c);
  check_eof(c);
}

static void resume_idle_cb(uv_idle_t *h) {
  http_server *srv = h->data;
  uv_idle_stop(h);
  while (srv->resume_head) {
    http_conn *c = srv->resume_head;
    srv->resume_head = c->resume_next;
    c->resume_next = NULL;
    c->resume_queued = 0;
    if (!c->closing) resume_conn(c);
  }
}

/* Resume from the loop, not from inside the Lua call (or write callback)
 * that made it possible. */
static void queue_resume(http_conn *c) {
  http_server *srv = c->srv;
  if (c->resume_queued || c->closing) return;
  c->resume_queued = 1;
  c->resume_next = srv->resume_head;
  srv->resume_head = c;
  srv->resume_idle.data = srv;
  uv_idle_start(&srv->resume_idle, resume_idle_cb);
}

void http_conn_queue_resume(http_conn *c) { queue_resume(c); }

void http_conn_response_done(http_conn *c) {
  http_server *srv = c->srv;
  c->res_done = 1;
  c->served = 1;
  c->want_drain = 0;
  if (!c->keep_alive || srv->closing) {
    http_conn_shutdown(c);
    return;
  }
  if (!c->msg_complete) {
    /* answered before the whole body came: unless the handler reads it,
     * drop the rest rather than hold the connection still */
    if (!c->body_consumer) {
      c->dump_body = 1;
      c->body.len = 0;
      c->body_paused = 0;
      update_reading(c);
    }
    return;
  }
  if (c->in_feed) return;
  queue_resume(c); /* answered later (after an await) */
}

void http_conn_drained(http_conn *c) {
  if (c->closing) return;
  if (c->upgrade_wait) {
    if (c->writes == 0) finish_upgrade(c);
    return;
  }
  if (c->want_drain) {
    c->want_drain = 0;
    if (c->dispatched && !c->res_done && c->sock_ref != LUA_NOREF && !lua_gone(c)) notify(c, "drain", 0);
    if (c->closing) return;
  }
  if (c->out_blocked) {
    c->out_blocked = 0;
    queue_resume(c);
  }
}

void http_conn_read_body(http_conn *c, int on) {
  if (c->closing) return;
  if (on) {
    c->body_consumer = 1;
    c->body_paused = 0;
  } else if (!c->msg_complete) {
    c->body_paused = 1;
  }
  update_reading(c);
}

/* ---- upgrades (see the top of the file) ---- */

/* The request that leaves HTTP is complete; `rest` is what followed its
 * head in this read.  Stop reading and wait for earlier responses still in
 * the write queue: closing the handle now would cancel them. */
static void upgrade(http_conn *c, const char *rest, size_t n) {
  http_buf head = {0};
  if (n && http_buf_append(&head, rest, n)) {
    http_conn_close(c);
    return;
  }
  if (c->pend.len && http_buf_append(&head, c->pend.p, c->pend.len)) {
    http_buf_free(&head);
    http_conn_close(c);
    return;
  }
  http_buf_free(&c->pend);
  c->pend = head; /* the new protocol's first bytes, until the hand-off */
  c->phase = PHASE_WAIT; /* no HTTP timeout applies any more */
  if (!c->read_stopped) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->read_stopped = 1;
  }
  c->upgrade_wait = 1;
  if (c->writes == 0) finish_upgrade(c);
}

/* on_event('upgrade', fd, head, method, url, raw_headers, version[, tls
 * engine]), then close our handle: Lua's net.Socket (a TLSSocket over the
 * connection's TLS session, for https) owns the duplicate from here on. */
static void finish_upgrade(http_conn *c) {
  http_server *srv = c->srv;
  lua_State *L = srv->s->L;
  uv_os_fd_t fd;
  int dupfd = -1;
  c->upgrade_wait = 0;
  if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  http_conn_close(c); /* the Lua side of the connection is over either way */
  if (dupfd < 0) return;
  if (lua_gone(c)) {
    close(dupfd);
    return;
  }
  c->dispatched = 0; /* nothing is left for the close callback to tell */
  lstr_push_ref(L, srv->on_event_ref);
  lua_pushliteral(L, "upgrade");
  lua_pushinteger(L, dupfd);
  lua_pushlstring(L, c->pend.p ? c->pend.p : "", c->pend.len);
  lua_pushstring(L, llhttp_method_name((llhttp_method_t)c->parser.method));
  lua_pushlstring(L, c->req.p, c->url_len);
  lua_pushlstring(L, c->req.p + c->url_len, c->req.len - c->url_len);
  lua_pushinteger(L, c->parser.http_major * 10 + c->parser.http_minor);
  int nargs = 7;
  if (c->tls) nargs += tls_http_push_engine(c); /* https: the session goes along */
  http_buf_free(&c->pend);
  lstr_dispatch(srv->s, nargs);
}

/* ---- reading ---- */

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  http_conn *c = h->data;
  buf->base = c->srv->readbuf;
  buf->len = sizeof c->srv->readbuf;
}

static void read_cb(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf) {
  http_conn *c = h->data;
  if (nread > 0) {
    if (c->phase == PHASE_LINGER) return; /* draining before close */
    if (c->tls) tls_http_read(c, buf->base, (size_t)nread);
    else http_conn_feed(c, buf->base, (size_t)nread);
  } else if (nread == UV_EOF) {
    c->eof = 1;
    uv_read_stop(h);
    c->read_stopped = 1;
    /* As Node does by default (no half-open HTTP): a client that ends
     * its side while its request is unanswered has given up on it. */
    if (c->dispatched && !c->res_done) http_conn_close(c);
    else check_eof(c);
  } else if (nread < 0) {
    http_conn_close(c);
  }
}

static void start_reading(http_conn *c) {
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

/* ---- opening and closing ---- */

static http_conn *new_conn(http_server *srv) {
  http_conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->srv = srv;
  c->sock_ref = LUA_NOREF;
  uv_tcp_init(srv->s->loop, &c->tcp);
  c->tcp.data = c;
  c->next = srv->conns;
  if (srv->conns) srv->conns->prev = c;
  srv->conns = c;
  srv->nconns++;
  lstr_lifetime_hold(&srv->life);
  return c;
}

static void start_conn(http_conn *c) {
  http_server *srv = c->srv;
  uv_tcp_nodelay(&c->tcp, 1);
  llhttp_init(&c->parser, HTTP_REQUEST, &srv->settings);
  c->parser.data = c;
  c->phase = PHASE_IDLE;
  c->t_start = now_ms(c);
  if (srv->tls_ctx && tls_http_start(c) != 0) {
    http_conn_close(c);
    return;
  }
  start_reading(c);
  if (srv->notify_connection && !lua_gone(c)) notify(c, "connection", 0);
}

void http_conn_accept(http_server *srv) {
  http_conn *c = new_conn(srv);
  if (!c) return;
  if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&c->tcp) != 0 ||
      (srv->max_connections && srv->nconns > srv->max_connections)) {
    http_conn_close(c); /* over the limit: drop it, as Node does */
    return;
  }
  start_conn(c);
}

http_conn *http_conn_open(http_server *srv, int fd) {
  http_conn *c = new_conn(srv);
  if (!c) return NULL;
  if (uv_tcp_open(&c->tcp, fd) != 0) {
    close(fd); /* not the handle's yet: closing it will not */
    http_conn_close(c);
    return NULL;
  }
  start_conn(c);
  return c;
}

static void conn_close_cb(uv_handle_t *h) {
  http_conn *c = h->data;
  http_server *srv = c->srv;
  lua_State *L = srv->s->L;
  /* the handler still holds this request: tell it the client is gone */
  if (c->dispatched && !c->res_done && c->sock_ref != LUA_NOREF && !lua_gone(c))
    notify(c, "close", 0);
  if (c->tls) tls_http_closed(c);
  if (c->resume_queued) {
    for (http_conn **pp = &srv->resume_head; *pp; pp = &(*pp)->resume_next)
      if (*pp == c) { *pp = c->resume_next; break; }
  }
  if (c->prev) c->prev->next = c->next;
  else srv->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  srv->nconns--;
  if (L && c->sock_ref != LUA_NOREF && srv->on_event_ref != LUA_NOREF) lstr_unref(L, &c->sock_ref);
  http_buf_free(&c->req);
  http_buf_free(&c->body);
  http_buf_free(&c->pend);
  if (c->tls) tls_http_free(c);
  free(c);
  if (srv->closing && srv->nconns == 0 && srv->on_event_ref != LUA_NOREF && !srv->s->exiting) {
    lstr_push_ref(L, srv->on_event_ref);
    lua_pushliteral(L, "server_close");
    lstr_dispatch(srv->s, 1);
  }
  http_server_unref(srv);
}

void http_conn_close(http_conn *c) {
  if (c->closing) return;
  c->closing = 1;
  if (c->cell) *c->cell = NULL; /* Lua can no longer reach us */
  c->cell = NULL;
  uv_close((uv_handle_t *)&c->tcp, conn_close_cb);
}

static void shutdown_cb(uv_shutdown_t *req, int status) {
  http_conn *c = req->data;
  free(req);
  if (c->closing) return;
  if (status < 0 || c->eof) {
    http_conn_close(c);
    return;
  }
  /* keep reading (and dropping) until the peer closes or LINGER_MS pass,
   * so unread input does not turn our close into a reset that could
   * destroy the response before the client reads it */
  c->t_start = now_ms(c);
  if (c->read_stopped) {
    c->read_stopped = 0;
    start_reading(c);
  }
}

void http_conn_shutdown(http_conn *c) {
  if (c->shut || c->closing) return;
  c->shut = 1;
  c->phase = PHASE_LINGER;
  c->t_start = now_ms(c);
  if (c->tls) tls_http_close_notify(c);
  uv_shutdown_t *req = malloc(sizeof *req);
  req->data = c;
  if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, shutdown_cb) != 0) {
    free(req);
    http_conn_close(c);
  }
}

/* ---- timeouts ---- */

void http_conn_sweep(http_server *srv) {
  uint64_t now = uv_now(srv->s->loop);
  http_conn *next;
  for (http_conn *c = srv->conns; c; c = next) {
    next = c->next;
    if (c->closing) continue;
    uint64_t age = now - c->t_start;
    switch (c->phase) {
    case PHASE_IDLE:
      if (c->out_blocked) break; /* not idle: answers wait for the client to read them */
      if (srv->closing && now - srv->close_started >= CLOSE_GRACE_MS) {
        http_conn_close(c); /* server:close(): the grace period is over */
      } else if (c->served) {
        if (srv->keep_alive_timeout && age >= srv->keep_alive_timeout) http_conn_close(c);
        else if (c->tls) tls_http_idle(c); /* waiting keep-alive: its TLS buffers go */
      } else if (srv->headers_timeout && age >= srv->headers_timeout) {
        http_conn_fail(c, 408);
      }
      break;
    case PHASE_HEADERS:
      if (srv->headers_timeout && age >= srv->headers_timeout) http_conn_fail(c, 408);
      break;
    case PHASE_BODY:
      if (srv->request_timeout && age >= srv->request_timeout) http_conn_fail(c, 408);
      break;
    case PHASE_LINGER:
      if (age >= LINGER_MS) http_conn_close(c);
      break;
    default:
      break;
    }
  }
}
