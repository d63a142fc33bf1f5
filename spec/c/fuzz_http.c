/*
 * fuzz_http.c — libFuzzer target for the HTTP server's parse-and-dispatch
 * path (runtime/http_conn.c, http_response.c, lua/http.lua).
 *
 * One luster state runs a server whose handler reads everything a handler
 * can read (headers, rawHeaders, query, body), sometimes awaits, and
 * answers in the different ways a response can be made (json, chunked
 * writes, a raised error), and streams (read(), pause/resume, pipe).  Each input becomes one connection: one end of
 * a socketpair is adopted as the connection, the input is fed to the
 * parser in pieces (sizes taken from the first byte, so that splits land
 * everywhere), the loop runs until the handlers are done, and the peer
 * closes.  Every connection must close and free itself; the sanitizers
 * catch the rest.
 *
 *   cmake -S . -B build-fuzz -DLUSTER_FUZZ=ON -DCMAKE_C_COMPILER=clang \
 *         -DLUSTER_SANITIZE=address,undefined \
 *         -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link   # coverage of the runtime too
 *   cmake --build build-fuzz --target fuzz_http
 *   build-fuzz/fuzz_http -detect_leaks=0 -max_total_time=300 -max_len=4096 corpus/
 *
 * -detect_leaks=0: LuaJIT (GC64) keeps tagged pointers LeakSanitizer cannot
 * follow, so the long-lived state's heap looks leaked.  Connections are
 * checked instead: every input must end with the server's count at zero.
 */
#include "lstr.h"
#include "http.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static lstr_state *S;
static http_server *SRV;

static const char *SERVER_SRC =
  "local http = require('http')\n"
  "local n = 0\n"
  "local server = http.createServer({ maxHeaderSize = 2048, maxBodySize = 8192 }, function(req, res)\n"
  "  n = n + 1\n"
  "  local h, raw, q = req.headers, req.rawHeaders, req.query\n"
  "  local _ = req.path, req.httpVersion, req.socket.remoteAddress, h['content-type'], #raw\n"
  "  if n % 3 == 0 then await(Promise.resolve()) end\n"
  "  local body = ''\n"
  "  if n % 11 == 0 then\n"              /* the stream forms: read(), pause/resume, pipe */
  "    req:pause()\n"
  "    local parts = {}\n"
  "    while true do local c = await(req:read()); if not c then break end; parts[#parts + 1] = c end\n"
  "    body = table.concat(parts)\n"
  "  elseif n % 13 == 0 then\n"
  "    req:on('data', function(c) req:pause(); setImmediate(function() req:resume() end) end)\n"
  "    return req:pipe(res)\n"
  "  elseif not req.complete or n % 2 == 0 then body = await(req:body()) end\n"
  "  if req.url:find('err', 1, true) then error('fuzz handler error') end\n"
  "  if n % 5 == 0 then\n"
  "    res:setHeader('X-Len', #body)\n"
  "    res:write('part')\n"
  "    res:finish(body)\n"
  "  elseif n % 7 == 0 then\n"
  "    res:writeHead(204)\n"
  "    res:finish()\n"
  "  else\n"
  "    res:json({ url = req.url, method = req.method, n = n, q = q })\n"
  "  end\n"
  "end)\n"
  "return server._h\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  signal(SIGPIPE, SIG_IGN); /* as the luster binary does: a gone peer is EPIPE */
  lstr_state_options o = { .is_main_thread = 1 };
  S = lstr_state_new(&o);
  if (!S) abort();
  lua_State *L = S->L;
  if (luaL_loadstring(L, SERVER_SRC) != 0 || lua_pcall(L, 0, 1, 0) != 0) {
    fprintf(stderr, "fuzz_http: %s\n", lua_tostring(L, -1));
    abort();
  }
  SRV = *(http_server **)lua_touserdata(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_http.server"); /* keep it alive */
  /* handler errors are expected and logged to the Lua side's io.stderr:
   * send those to /dev/null so the fuzzer's own output stays readable */
  if (!getenv("FUZZ_HTTP_VERBOSE"))
    (void)luaL_dostring(L, "io.stderr = io.open('/dev/null', 'w')");
  return 0;
}

static void drain_peer(int fd) {
  char buf[65536];
  while (read(fd, buf, sizeof buf) > 0) {}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return 0;
  http_conn *c = http_conn_open(SRV, fds[0]);
  if (!c) {
    close(fds[1]);
    return 0;
  }
  size_t piece = size ? (size_t)(data[0] % 64) + 1 : 1;
  size_t at = 0;
  while (at < size && !c->closing) {
    size_t n = size - at < piece ? size - at : piece;
    http_conn_feed(c, (const char *)data + at, n);
    at += n;
    piece = piece * 3 % 97 + 1;
    uv_run(S->loop, UV_RUN_NOWAIT); /* let awaiting handlers go on */
  }
  for (int i = 0; i < 8; i++) {
    uv_run(S->loop, UV_RUN_NOWAIT);
    drain_peer(fds[1]);
  }
  close(fds[1]); /* the client goes away: the connection must close */
  for (int i = 0; i < 100 && SRV->nconns > 0; i++) uv_run(S->loop, UV_RUN_NOWAIT);
  /* a handler may still wait on something that never comes: force it */
  for (http_conn *k = SRV->conns; k; k = k->next) http_conn_close(k);
  while (SRV->nconns > 0) uv_run(S->loop, UV_RUN_NOWAIT);
  lua_gc(S->L, LUA_GCSTEP, 0);
  return 0;
}
