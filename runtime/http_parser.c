/*
 * http_parser.c — `native.http_parser`: llhttp's response parser for the
 * HTTP client (lua/luster/http_client.lua) and the WebSocket handshake.
 *
 * One parser per client connection.  `p:execute(bytes)` runs llhttp over the
 * bytes and returns what happened as a flat list — 'head', head-table,
 * 'body', bytes, 'done' — plus the bytes it did not consume and an error.
 * The parser pauses after each complete response (and after an upgrade's
 * head), so bytes of a next response, or of the upgraded protocol, are
 * handed back untouched; `p:resume()` continues with the next response.
 * Consecutive body pieces of one read are joined into one 'body' event.
 *
 * A head's headers collect in C as "name\0value\0" pairs (as the server's
 * do) and reach Lua as one string, head.raw; head.headers and
 * head.rawHeaders are made from it when first read.  Building the event
 * list inside llhttp's callbacks is plain C API work on a stack the caller
 * prepared; no user code runs there.  Limits: a head
 * larger than `max_header_size` (Node's 16 KiB) is HPE_HEADER_OVERFLOW.
 */
#include "http.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PARSER_MT "luster.http_parser"
#define HEAD_MT "luster.http_parser.head"

typedef struct {
  llhttp_t p;
  lua_State *L;         /* set during execute */
  int ev;               /* stack index of the event list */
  int nev;
  char *body;           /* pending body bytes of this execute (not a luaL_Buffer:
                           events are pushed in between, and those use the stack) */
  size_t blen, bcap;
  /* the head's headers so far, as "name\0value\0" pairs (http.c's
   * http_push_headers form): kept here, not in Lua, so a head that spans
   * reads loses nothing, and its tables are made only if Lua asks */
  http_buf raw;
  size_t field_at;      /* where the header being parsed starts in raw */
  int hstate;           /* 0 between headers, 1 in a name, 2 in a value */
  http_buf enc;         /* Content-Encoding values (", "-joined), for fetch's decoding */
  size_t head_bytes, max_head;
  int skip_body;        /* the request was HEAD: no body whatever the headers say */
  int status_len;
  char status[128];
  int overflow;
  int head_mt_ref;      /* the heads' metatable (registry ref) */
} rparser;

static void push_event(rparser *r, const char *kind) {
  lua_pushstring(r->L, kind);
  lua_rawseti(r->L, r->ev, ++r->nev);
}

/* flush joined body bytes as one 'body' event */
static void flush_body(rparser *r) {
  if (!r->blen) return;
  push_event(r, "body");
  lua_pushlstring(r->L, r->body, r->blen);
  lua_rawseti(r->L, r->ev, ++r->nev);
  r->blen = 0;
  if (r->bcap > 256 * 1024) { free(r->body); r->body = NULL; r->bcap = 0; }
}

static int grow(char **p, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  char *np = realloc(*p, c);
  if (!np) return -1;
  *p = np;
  *cap = c;
  return 0;
}

static int count_head(rparser *r, size_t n) {
  r->head_bytes += n;
  if (r->head_bytes > r->max_head) { r->overflow = 1; return -1; }
  return 0;
}

static int on_message_begin(llhttp_t *p) {
  rparser *r = p->data;
  r->head_bytes = 0;
  r->status_len = 0;
  r->raw.len = r->enc.len = 0;
  r->hstate = 0;
  return 0;
}

static int on_status(llhttp_t *p, const char *at, size_t n) {
  rparser *r = p->data;
  if (count_head(r, n)) return -1;
  size_t room = sizeof r->status - 1 - (size_t)r->status_len;
  if (n > room) n = room;
  memcpy(r->status + r->status_len, at, n);
  r->status_len += (int)n;
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n) {
  rparser *r = p->data;
  if (count_head(r, n)) return -1;
  if (r->hstate != 1) {
    r->field_at = r->raw.len;
    r->hstate = 1;
  }
  return http_buf_append(&r->raw, at, n);
}

static int on_header_field_complete(llhttp_t *p) {
  rparser *r = p->data;
  r->hstate = 2;
  return http_buf_append(&r->raw, "", 1);
}

static int on_header_value(llhttp_t *p, const char *at, size_t n) {
  rparser *r = p->data;
  if (count_head(r, n)) return -1;
  return http_buf_append(&r->raw, at, n);
}

static int on_header_value_complete(llhttp_t *p) {
  rparser *r = p->data;
  size_t value_at = http_header_value_trim(&r->raw, r->field_at);
  if (value_at - r->field_at - 1 == 16 && strncasecmp(r->raw.p + r->field_at, "content-encoding", 16) == 0) {
    if ((r->enc.len && http_buf_append(&r->enc, ", ", 2)) ||
        http_buf_append(&r->enc, r->raw.p + value_at, r->raw.len - value_at))
      return -1;
  }
  r->hstate = 0;
  return http_buf_append(&r->raw, "", 1);
}

/* head.headers and head.rawHeaders, made from head.raw on first use: most
 * fetches read neither */
static int head_index(lua_State *L) {
  size_t klen;
  const char *k = lua_tolstring(L, 2, &klen);
  int as_list;
  if (k && klen == 7 && memcmp(k, "headers", 7) == 0) as_list = 0;
  else if (k && klen == 10 && memcmp(k, "rawHeaders", 10) == 0) as_list = 1;
  else return 0;
  size_t len;
  lua_getfield(L, 1, "raw");
  const char *raw = lua_tolstring(L, -1, &len);
  http_push_headers(L, raw ? raw : "", raw ? len : 0, as_list);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
  return 1;
}

/* The head: {status=, statusMessage=, httpVersion=, keepAlive=, upgrade=,
 * raw=, contentEncoding=}; its headers and rawHeaders (Node's
 * IncomingMessage's) are made from raw when read (head_index).  Its field
 * names are interned once, held by the heads' metatable at 1..K_COUNT:
 * lua_setfield would hash each name again for every response. */
enum { K_STATUS, K_MESSAGE, K_VERSION, K_KEEP_ALIVE, K_UPGRADE, K_RAW, K_ENCODING, K_COUNT };
static const char *const head_keys[K_COUNT] = {
  "status", "statusMessage", "httpVersion", "keepAlive", "upgrade", "raw", "contentEncoding"};

/* head[key] = the value on top of the stack (mt: the heads' metatable) */
static void set_head(lua_State *L, int mt, int head, int key) {
  lua_rawgeti(L, mt, key + 1);
  lua_insert(L, -2);
  lua_rawset(L, head);
}

static int on_headers_complete(llhttp_t *p) {
  rparser *r = p->data;
  lua_State *L = r->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, r->head_mt_ref);
  int mt = lua_gettop(L);
  lua_createtable(L, 0, 8);
  int head = mt + 1;
  lua_pushinteger(L, p->status_code);
  set_head(L, mt, head, K_STATUS);
  lua_pushlstring(L, r->status, (size_t)r->status_len);
  set_head(L, mt, head, K_MESSAGE);
  if (p->http_major == 1 && p->http_minor <= 1) lua_pushstring(L, p->http_minor ? "1.1" : "1.0");
  else lua_pushfstring(L, "%d.%d", p->http_major, p->http_minor);
  set_head(L, mt, head, K_VERSION);
  lua_pushboolean(L, llhttp_should_keep_alive(p));
  set_head(L, mt, head, K_KEEP_ALIVE);
  int upgrade = p->upgrade && (p->status_code == 101 || (p->status_code >= 200 && p->status_code < 300));
  lua_pushboolean(L, upgrade);
  set_head(L, mt, head, K_UPGRADE);
  lua_pushlstring(L, r->raw.p ? r->raw.p : "", r->raw.len);
  set_head(L, mt, head, K_RAW);
  if (r->enc.len) {
    lua_pushlstring(L, r->enc.p, r->enc.len);
    set_head(L, mt, head, K_ENCODING);
  }
  lua_pushvalue(L, mt);
  lua_setmetatable(L, head);
  r->raw.len = r->enc.len = 0;
  flush_body(r);
  push_event(r, "head");
  lua_pushvalue(L, head);
  lua_rawseti(L, r->ev, ++r->nev);
  lua_settop(L, mt - 1);
  if (upgrade) return 2;          /* no body; the rest is the new protocol */
  if (r->skip_body) return 1;     /* a response to HEAD */
  /* 204 and 304 never have a body (RFC 9110 6.4.1), whatever Content-Length
   * says: a 304 commonly carries the length of the entity it stands for */
  if (p->status_code == 204 || p->status_code == 304) return 1;
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
  rparser *r = p->data;
  if (n == 0) return 0;
  if (grow(&r->body, &r->bcap, r->blen + n)) return -1;
  memcpy(r->body + r->blen, at, n);
  r->blen += n;
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  rparser *r = p->data;
  flush_body(r);
  push_event(r, "done");
  return HPE_PAUSED;   /* one response at a time: the caller resumes */
}

static llhttp_settings_t settings;
static uv_once_t settings_once = UV_ONCE_INIT;
static void settings_init(void) {
  llhttp_settings_init(&settings);
  settings.on_message_begin = on_message_begin;
  settings.on_status = on_status;
  settings.on_header_field = on_header_field;
  settings.on_header_field_complete = on_header_field_complete;
  settings.on_header_value = on_header_value;
  settings.on_header_value_complete = on_header_value_complete;
  settings.on_headers_complete = on_headers_complete;
  settings.on_body = on_body;
  settings.on_message_complete = on_message_complete;
}

static rparser *check_parser(lua_State *L) { return luaL_checkudata(L, 1, PARSER_MT); }

/* new([max_header_size]) -> parser */
static int parser_new(lua_State *L) {
  uv_once(&settings_once, settings_init);
  size_t max_head = (size_t)luaL_optinteger(L, 1, 16 * 1024);   /* before the push: new() has no arg 1 */
  rparser *r = lua_newuserdata(L, sizeof *r);
  memset(r, 0, sizeof *r);
  r->max_head = max_head;
  luaL_getmetatable(L, HEAD_MT);
  lua_rawgeti(L, -1, 0);
  r->head_mt_ref = (int)lua_tointeger(L, -1);
  lua_pop(L, 2);
  llhttp_init(&r->p, HTTP_RESPONSE, &settings);
  r->p.data = r;
  luaL_getmetatable(L, PARSER_MT);
  lua_setmetatable(L, -2);
  return 1;
}

/* Push events, rest, err for a finished llhttp call. */
static int results(lua_State *L, rparser *r, llhttp_errno_t rc, const char *data, size_t n) {
  flush_body(r);
  lua_pushvalue(L, r->ev);
  if (rc == HPE_OK) { lua_pushnil(L); lua_pushnil(L); return 3; }
  if (rc == HPE_PAUSED || rc == HPE_PAUSED_UPGRADE) {
    const char *pos = llhttp_get_error_pos(&r->p);
    size_t used = pos && data ? (size_t)(pos - data) : n;
    if (used < n) lua_pushlstring(L, data + used, n - used);
    else lua_pushnil(L);
    lua_pushnil(L);
    return 3;
  }
  lua_pushnil(L);
  const char *code = r->overflow ? "HPE_HEADER_OVERFLOW" : llhttp_errno_name(rc);
  const char *reason = r->overflow ? "Header overflow" : llhttp_get_error_reason(&r->p);
  lstr_push_error(L, code, "Parse Error: %s", reason ? reason : code);
  return 3;
}

/* p:execute(bytes) -> events, rest|nil, err|nil */
static int parser_execute(lua_State *L) {
  rparser *r = check_parser(L);
  size_t n;
  const char *data = luaL_checklstring(L, 2, &n);
  lua_settop(L, 2);
  lua_createtable(L, 8, 0);   /* room for head, body, done: no regrowth */
  r->L = L;
  r->ev = lua_gettop(L);
  r->nev = 0;
  r->blen = 0;
  llhttp_errno_t rc = llhttp_execute(&r->p, data, n);
  int nret = results(L, r, rc, data, n);
  r->L = NULL;
  return nret;
}

/* p:finish() -> events, nil, err|nil  (the peer closed: ends a body read to EOF) */
static int parser_finish(lua_State *L) {
  rparser *r = check_parser(L);
  lua_settop(L, 1);
  lua_newtable(L);
  r->L = L;
  r->ev = lua_gettop(L);
  r->nev = 0;
  r->blen = 0;
  llhttp_errno_t rc = llhttp_finish(&r->p);
  int nret = results(L, r, rc, NULL, 0);
  r->L = NULL;
  return nret;
}

/* p:resume() — continue after a paused response */
static int parser_resume(lua_State *L) {
  rparser *r = check_parser(L);
  if (llhttp_get_errno(&r->p) == HPE_PAUSED) llhttp_resume(&r->p);
  return 0;
}

/* p:expect(method) — the method of the request the next response answers */
static int parser_expect(lua_State *L) {
  rparser *r = check_parser(L);
  const char *m = luaL_checkstring(L, 2);
  r->skip_body = strcmp(m, "HEAD") == 0;
  return 0;
}

/* p:reset() — a fresh parser state (a new connection) */
static void restart(rparser *r) {
  llhttp_init(&r->p, HTTP_RESPONSE, &settings);
  r->p.data = r;
  r->overflow = 0;
  r->raw.len = r->enc.len = 0;
  r->hstate = 0;
}

static int parser_reset(lua_State *L) {
  restart(check_parser(L));
  return 0;
}

/* p:begin(method[, max_header_size]) — reset, expect and the head limit in
 * one call: a parser kept per connection serves each request on it */
static int parser_begin(lua_State *L) {
  rparser *r = check_parser(L);
  const char *m = luaL_checkstring(L, 2);
  restart(r);
  r->skip_body = strcmp(m, "HEAD") == 0;
  r->max_head = (size_t)luaL_optinteger(L, 3, 16 * 1024);
  return 0;
}

static int parser_gc(lua_State *L) {
  rparser *r = check_parser(L);
  http_buf_free(&r->raw);
  http_buf_free(&r->enc);
  free(r->body);
  r->body = NULL;
  return 0;
}

static const luaL_Reg parser_methods[] = {
  {"execute", parser_execute},
  {"finish", parser_finish},
  {"resume", parser_resume},
  {"expect", parser_expect},
  {"reset", parser_reset},
  {"begin", parser_begin},
  {NULL, NULL}
};

static const luaL_Reg parser_funcs[] = {
  {"new", parser_new},
  {NULL, NULL}
};

int luaopen_native_http_parser(lua_State *L) {
  lstr_new_class(L, PARSER_MT, parser_methods, parser_gc);
  /* the heads' metatable: it holds their field names at 1..K_COUNT, and at
   * 0 its own registry ref, for parsers to keep */
  luaL_newmetatable(L, HEAD_MT);
  lua_pushvalue(L, -1);
  lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
  lua_rawseti(L, -2, 0);
  lua_pushcfunction(L, head_index);
  lua_setfield(L, -2, "__index");
  for (int i = 0; i < K_COUNT; i++) {
    lua_pushstring(L, head_keys[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pop(L, 1);
  luaL_register(L, "native.http_parser", parser_funcs);
  return 1;
}
