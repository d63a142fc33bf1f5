/*
 * http_response.c — turning a Lua response into bytes on the wire.
 *
 * Owns: the status line and header block (user headers from the Lua
 * response's tables plus Date, Connection, Content-Length or
 * Transfer-Encoding), chunked framing, the per-server cached Date line
 * (formatted at most once per second), canned error responses, and the
 * write path.
 *
 * A response that fits is sent with a single writev: the head is built in a
 * stack buffer and the body is the Lua string itself, tried with
 * uv_try_write; only what the kernel does not take at once is copied into a
 * queued uv_write.  So the usual response costs one syscall and no heap
 * allocation.
 */
#include "http.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- Date ---- */

const char *http_date(http_server *srv, size_t *len) {
  static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t now = time(NULL);
  if (now != srv->date_sec) {
    struct tm tm;
    gmtime_r(&now, &tm);
    srv->date_len = (size_t)snprintf(srv->date, sizeof srv->date,
                                     "Date: %s, %02d %s %d %02d:%02d:%02d GMT\r\n",
                                     days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
                                     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    srv->date_sec = now;
  }
  *len = srv->date_len;
  return srv->date;
}

const char *http_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 102: return "Processing";
  case 103: return "Early Hints";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 203: return "Non-Authoritative Information";
  case 204: return "No Content";
  case 205: return "Reset Content";
  case 206: return "Partial Content";
  case 207: return "Multi-Status";
  case 300: return "Multiple Choices";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 413: return "Payload Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 416: return "Range Not Satisfiable";
  case 417: return "Expectation Failed";
  case 418: return "I'm a Teapot";
  case 422: return "Unprocessable Entity";
  case 426: return "Upgrade Required";
  case 428: return "Precondition Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  case 511: return "Network Authentication Required";
  default: return "Unknown";
  }
}

/* ---- writing ---- */

typedef struct {
  uv_write_t req;
  http_conn *c;
  char data[];
} write_req;

static void write_cb(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  http_conn *c = w->c;
  free(w);
  c->writes--;
  if (status < 0) http_conn_close(c); /* the peer is gone (EPIPE, ECONNRESET) */
  else if (c->tcp.write_queue_size == 0) http_conn_drained(c);
}

int http_conn_write(http_conn *c, uv_buf_t *bufs, int nbufs) {
  if (c->tls) return tls_http_write(c, bufs, nbufs);
  return http_conn_write_raw(c, bufs, nbufs);
}

int http_conn_write_raw(http_conn *c, uv_buf_t *bufs, int nbufs) {
  if (c->closing) return -1;
  size_t total = 0;
  for (int i = 0; i < nbufs; i++) total += bufs[i].len;
  size_t done = 0;
  /* The kernel may take it all now.  libuv refuses (EAGAIN) while bytes of
   * ours wait in its queue, so the order holds; a write whose bytes are out
   * but whose callback has not run yet does not stop us: a handler writing
   * in a loop to a fast reader would otherwise copy every chunk into a
   * request that is only freed once it returns to the loop. */
  int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)nbufs);
  if (r >= 0) done = (size_t)r;
  else if (r != UV_EAGAIN) {
    http_conn_close(c);
    return -1;
  }
  if (done == total) return 0;
  write_req *w = malloc(sizeof *w + (total - done));
  if (!w) {
    http_conn_close(c);
    return -1;
  }
  size_t at = 0, skip = done;
  for (int i = 0; i < nbufs; i++) {
    size_t len = bufs[i].len;
    if (skip >= len) { skip -= len; continue; }
    memcpy(w->data + at, bufs[i].base + skip, len - skip);
    at += len - skip;
    skip = 0;
  }
  w->c = c;
  uv_buf_t b = uv_buf_init(w->data, (unsigned)at);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
    free(w);
    http_conn_close(c);
    return -1;
  }
  c->writes++;
  return 0;
}

void http_conn_fail(http_conn *c, int status) {
  if (c->closing || c->shut) return;
  if (!c->res_started) {
    char line[160];
    int n = snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                     status, http_reason(status));
    uv_buf_t b = uv_buf_init(line, (unsigned)n);
    c->res_started = 1;
    if (http_conn_write(c, &b, 1) != 0) return;
  }
  int in_flight = c->dispatched && !c->res_done;
  c->res_done = 1;
  c->keep_alive = 0;
  http_conn_shutdown(c);
  if (in_flight && c->sock_ref != LUA_NOREF && !c->srv->s->exiting && c->srv->on_event_ref != LUA_NOREF) {
    /* the handler still runs: its request is aborted */
    lua_State *L = c->srv->s->L;
    lstr_push_ref(L, c->srv->on_event_ref);
    lua_pushliteral(L, "abort");
    lstr_push_ref(L, c->sock_ref);
    lua_pushinteger(L, status);
    lstr_dispatch(c->srv->s, 3);
  }
}

/* ---- the header block ---- */

typedef struct {
  char *p;
  size_t len, cap;
  int heap;
  char stack[2048];
} head_buf;

static void hb_put(head_buf *b, const char *s, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap * 2;
    while (cap < b->len + n) cap *= 2;
    char *np = b->heap ? realloc(b->p, cap) : malloc(cap);
    if (!np) abort(); /* out of memory while answering: nothing sane to do */
    if (!b->heap) memcpy(np, b->p, b->len);
    b->p = np;
    b->cap = cap;
    b->heap = 1;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}
#define HB_LIT(b, s) hb_put((b), (s), sizeof(s) - 1)

static void hb_init(head_buf *b) {
  b->p = b->stack;
  b->len = 0;
  b->cap = sizeof b->stack;
  b->heap = 0;
}

static int is_token_char(unsigned char ch) {
  if (ch >= 'a' && ch <= 'z') return 1;
  if (ch >= 'A' && ch <= 'Z') return 1;
  if (ch >= '0' && ch <= '9') return 1;
  return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int valid_value(const char *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)v[i];
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return 0;
  }
  return 1;
}

/* ---- check_headers(t) / check_header(name, value) -> nil | code, name ----
 * The checks of setHeader (Node's validateHeaderName/validateHeaderValue)
 * for writeHead's table and for list values, done here because a Lua loop
 * over them would keep LuaJIT from compiling the request path around it.
 * The caller raises (with the error's traceback where the handler is). */
static const char *bad_pair(lua_State *L, int k, int v) {
  if (lua_type(L, k) != LUA_TSTRING) return "ERR_INVALID_HTTP_TOKEN";
  size_t nlen;
  const char *name = lua_tolstring(L, k, &nlen);
  if (nlen == 0) return "ERR_INVALID_HTTP_TOKEN";
  for (size_t i = 0; i < nlen; i++)
    if (!is_token_char((unsigned char)name[i])) return "ERR_INVALID_HTTP_TOKEN";
  int t = lua_type(L, v);
  if (t == LUA_TNIL) return "ERR_HTTP_INVALID_HEADER_VALUE";
  if (t == LUA_TSTRING) {
    size_t vlen;
    const char *s = lua_tolstring(L, v, &vlen);
    if (!valid_value(s, vlen)) return "ERR_INVALID_CHAR";
  } else if (t == LUA_TTABLE) {
    int n = (int)lua_objlen(L, v);
    for (int i = 1; i <= n; i++) {
      lua_rawgeti(L, v, i);
      size_t vlen;
      const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &vlen) : NULL;
      int ok = !s || valid_value(s, vlen);
      lua_pop(L, 1);
      if (!ok) return "ERR_INVALID_CHAR";
    }
  }
  return NULL;
}

static int push_bad(lua_State *L, const char *code, int k) {
  if (k < 0) k = lua_gettop(L) + k + 1;
  lua_pushstring(L, code);
  if (lua_type(L, k) == LUA_TSTRING) lua_pushvalue(L, k);
  else lua_pushstring(L, luaL_typename(L, k));
  return 2;
}

int http_check_headers(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    const char *code = bad_pair(L, -2, -1);
    if (code) return push_bad(L, code, -2);
    lua_pop(L, 1);
  }
  return 0;
}

int http_check_header(lua_State *L) {
  lua_settop(L, 2);
  const char *code = bad_pair(L, 1, 2);
  return code ? push_bad(L, code, 1) : 0;
}

/* What the user's headers say about framing and the connection. */
typedef struct {
  int has_length, has_date, has_connection, chunked, close;
  const char *bad; /* name of an invalid header, or NULL */
} head_info;

static int contains_ci(const char *s, size_t n, const char *word) {
  size_t w = strlen(word);
  for (size_t i = 0; i + w <= n; i++)
    if (strncasecmp(s + i, word, w) == 0) return 1;
  return 0;
}

static int name_is(const char *key, size_t klen, const char *lower_name, size_t n) {
  return klen == n && strncasecmp(key, lower_name, n) == 0;
}

static void put_line(head_buf *b, head_info *hi, const char *name, size_t nlen,
                     const char *v, size_t vlen) {
  if (!valid_value(v, vlen)) { hi->bad = name; return; }
  switch (nlen) {
  case 4: if (name_is(name, nlen, "date", 4)) hi->has_date = 1; break;
  case 10:
    if (name_is(name, nlen, "connection", 10)) {
      hi->has_connection = 1;
      if (contains_ci(v, vlen, "close")) hi->close = 1;
    }
    break;
  case 14: if (name_is(name, nlen, "content-length", 14)) hi->has_length = 1; break;
  case 17:
    if (name_is(name, nlen, "transfer-encoding", 17) && contains_ci(v, vlen, "chunked")) hi->chunked = 1;
    break;
  }
  hb_put(b, name, nlen);
  HB_LIT(b, ": ");
  hb_put(b, v, vlen);
  HB_LIT(b, "\r\n");
}

/* hv: name -> value (a string, a number, or an array of them).  hn: the
 * lower-cased name -> name as spelled, or 0 when hv's keys are the names
 * as spelled (writeHead's table, taken as is). */
static void put_user_headers(lua_State *L, head_buf *b, head_info *hi, int hv, int hn) {
  lua_pushnil(L);
  while (lua_next(L, hv)) {
    if (lua_type(L, -2) != LUA_TSTRING) { lua_pop(L, 1); continue; }
    size_t nlen;
    const char *name = lua_tolstring(L, -2, &nlen);
    if (hn) {
      lua_pushvalue(L, -2);
      lua_rawget(L, hn);
      if (lua_type(L, -1) == LUA_TSTRING) name = lua_tolstring(L, -1, &nlen);
      lua_insert(L, -2); /* keep it below the value while we use it */
    }
    for (size_t i = 0; i < nlen; i++)
      if (!is_token_char((unsigned char)name[i])) { hi->bad = name; break; }
    if (nlen == 0) hi->bad = "";
    if (lua_type(L, -1) == LUA_TTABLE) {
      int n = (int)lua_objlen(L, -1);
      for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        size_t vlen;
        const char *v = lua_tolstring(L, -1, &vlen);
        if (v) put_line(b, hi, name, nlen, v, vlen);
        lua_pop(L, 1);
      }
    } else {
      size_t vlen;
      const char *v = lua_tolstring(L, -1, &vlen);
      if (v) put_line(b, hi, name, nlen, v, vlen);
    }
    lua_pop(L, hn ? 2 : 1);
  }
}

/* decimal / hex digits of n into buf (no terminator); returns the length */
static size_t fmt_uint(char *buf, uint64_t n, unsigned base) {
  char tmp[24];
  size_t len = 0;
  do {
    tmp[len++] = "0123456789abcdef"[n % base];
    n /= base;
  } while (n);
  for (size_t i = 0; i < len; i++) buf[i] = tmp[len - 1 - i];
  return len;
}

/* The status line and the user's headers (hv, hn: stack indices of their
 * values and names, 0 for none).  A character that would inject a header,
 * in them or in the reason, frees hb and raises ERR_INVALID_CHAR. */
static void put_status_head(lua_State *L, head_buf *hb, head_info *hi, int status,
                            const char *reason, size_t rlen, int hv, int hn) {
  char num[24];
  HB_LIT(hb, "HTTP/1.1 ");
  hb_put(hb, num, fmt_uint(num, (uint64_t)status, 10));
  HB_LIT(hb, " ");
  hb_put(hb, reason, rlen);
  HB_LIT(hb, "\r\n");
  if (hv) put_user_headers(L, hb, hi, hv, hn);
  if (hi->bad || !valid_value(reason, rlen)) {
    char bad[64];
    snprintf(bad, sizeof bad, "%s", hi->bad ? hi->bad : "reason");
    if (hb->heap) free(hb->p);
    lstr_error(L, "ERR_INVALID_CHAR", "Invalid character in header content [\"%s\"]", bad);
  }
}

/* ---- inform(cell, seq, status, reason, hv, hn) ----
 * An informational (1xx) response: the status line and the given headers
 * only (no Date, no framing), before the final one, which still follows.
 * RFC 9110 15.2: never to an HTTP/1.0 client.  A 100 Continue C already
 * sent for `Expect: 100-continue` is not sent twice.  Returns whether it
 * was written. */
int http_inform(lua_State *L) {
  http_conn **cell = luaL_checkudata(L, 1, HTTP_CONN_MT);
  http_conn *c = *cell;
  uint32_t seq = (uint32_t)luaL_checkinteger(L, 2);
  int status = (int)luaL_checkinteger(L, 3);
  if (status < 100 || status > 199)
    return lstr_error(L, "ERR_HTTP_INVALID_STATUS_CODE", "Invalid status code: %d", status);
  if (!c || c->closing || c->shut || seq != c->seq || c->res_started || c->res_done ||
      c->parser.http_major != 1 || c->parser.http_minor < 1 ||
      (status == 100 && c->expect_continue)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  size_t rlen;
  const char *reason = lua_type(L, 4) == LUA_TSTRING ? lua_tolstring(L, 4, &rlen) : NULL;
  if (!reason) { reason = http_reason(status); rlen = strlen(reason); }
  head_buf hb;
  hb_init(&hb);
  head_info hi = {0};
  put_status_head(L, &hb, &hi, status, reason, rlen, lua_istable(L, 5) ? 5 : 0, lua_istable(L, 6) ? 6 : 0);
  HB_LIT(&hb, "\r\n");
  uv_buf_t b = uv_buf_init(hb.p, (unsigned)hb.len);
  int rc = http_conn_write(c, &b, 1);
  if (hb.heap) free(hb.p);
  lua_pushboolean(L, rc == 0);
  return 1;
}

/* ---- respond(cell, seq, body, status, reason, hv, hn, final, send_date) ----
 * status nil: the head went out already, body is the next piece.
 * send_date false: no automatic Date (res.sendDate = false, or
 * removeHeader('date')); nil or true: one unless the headers have it.
 * Returns true while the connection takes more (false: gone, or
 * the write queue is long; the caller may wait for 'drain'). */
int http_respond(lua_State *L) {
  /* the connection cell's metatable is this function's upvalue: cheaper
   * than luaL_checkudata's registry lookup on every response */
  http_conn **cell = lua_touserdata(L, 1);
  if (!cell || !lua_getmetatable(L, 1) || !lua_rawequal(L, -1, lua_upvalueindex(1)))
    return luaL_argerror(L, 1, "http connection expected");
  lua_pop(L, 1);
  http_conn *c = *cell;
  uint32_t seq = (uint32_t)luaL_checkinteger(L, 2);
  size_t blen = 0;
  const char *body = lua_isnoneornil(L, 3) ? NULL : luaL_checklstring(L, 3, &blen);
  int final = lua_toboolean(L, 8);
  char num[24];
  if (!c || c->closing || c->shut || seq != c->seq || c->res_done) {
    lua_pushboolean(L, 0);
    return 1;
  }
  head_buf hb;
  hb_init(&hb);
  if (!c->res_started) {
    int status = (int)luaL_checkinteger(L, 4);
    if (status < 100 || status > 999)
      return lstr_error(L, "ERR_HTTP_INVALID_STATUS_CODE", "Invalid status code: %d", status);
    size_t rlen;
    const char *reason = lua_type(L, 5) == LUA_TSTRING ? lua_tolstring(L, 5, &rlen) : NULL;
    if (!reason) { reason = http_reason(status); rlen = strlen(reason); }
    head_info hi = {0};
    put_status_head(L, &hb, &hi, status, reason, rlen, lua_istable(L, 6) ? 6 : 0, lua_istable(L, 7) ? 7 : 0);
    if (hi.close || c->srv->closing) c->keep_alive = 0;
    c->res_no_body = c->parser.method == HTTP_HEAD || status == 204 || status == 304 || status < 200;
    int bodiless_status = status == 204 || status == 304 || status < 200;
    if (bodiless_status || hi.has_length) {
      /* no framing of ours */
    } else if (hi.chunked) {
      c->res_chunked = 1;
    } else if (final) {
      HB_LIT(&hb, "Content-Length: ");
      hb_put(&hb, num, fmt_uint(num, blen, 10));
      HB_LIT(&hb, "\r\n");
    } else if (c->parser.http_major == 1 && c->parser.http_minor >= 1) {
      HB_LIT(&hb, "Transfer-Encoding: chunked\r\n");
      c->res_chunked = 1;
    } else {
      c->keep_alive = 0; /* HTTP/1.0 and length unknown: the close ends the body */
    }
    if (!hi.has_connection) {
      if (c->keep_alive) HB_LIT(&hb, "Connection: keep-alive\r\n");
      else HB_LIT(&hb, "Connection: close\r\n");
    }
    if (!hi.has_date && (lua_isnoneornil(L, 9) || lua_toboolean(L, 9))) {
      size_t dlen;
      const char *d = http_date(c->srv, &dlen);
      hb_put(&hb, d, dlen);
    }
    HB_LIT(&hb, "\r\n");
    c->res_started = 1;
  }

  uv_buf_t bufs[4];
  int nb = 0;
  char prefix[24];
  if (hb.len) bufs[nb++] = uv_buf_init(hb.p, (unsigned)hb.len);
  if (c->res_no_body) {
    /* HEAD and friends: the head only */
  } else if (c->res_chunked) {
    if (blen) {
      size_t n = fmt_uint(prefix, blen, 16);
      prefix[n++] = '\r';
      prefix[n++] = '\n';
      bufs[nb++] = uv_buf_init(prefix, (unsigned)n);
      bufs[nb++] = uv_buf_init((char *)body, (unsigned)blen);
      bufs[nb++] = final ? uv_buf_init("\r\n0\r\n\r\n", 7) : uv_buf_init("\r\n", 2);
    } else if (final) {
      bufs[nb++] = uv_buf_init("0\r\n\r\n", 5);
    }
  } else if (blen && hb.len && blen <= 1024 && hb.len + blen <= hb.cap) {
    /* a small body rides in the head's buffer: one write(), one iovec */
    memcpy(hb.p + hb.len, body, blen);
    bufs[0].len += (unsigned)blen;
  } else if (blen) {
    bufs[nb++] = uv_buf_init((char *)body, (unsigned)blen);
  }
  int rc = nb ? http_conn_write(c, bufs, nb) : 0;
  if (hb.heap) free(hb.p);
  if (rc != 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (final) http_conn_response_done(c);
  int more = !c->closing && c->tcp.write_queue_size < c->srv->write_hwm;
  if (!more && !final && !c->closing) c->want_drain = 1; /* 'drain' when the queue empties */
  lua_pushboolean(L, more);
  return 1;
}
