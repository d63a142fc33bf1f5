/*
 * fuzz_tls_server.c — libFuzzer target for the TLS server's first flight:
 * whatever a client sends before and during the handshake, fed into a
 * server engine (runtime/tls_engine.c) built from a context that
 * native.tls.context (runtime/tls_context.c) made from Node-style options.
 *
 * The first byte picks the context (plain with ALPN, or requestCert with an
 * asynchronous SNICallback) and how the rest is split into reads, so that
 * record boundaries land everywhere; the engine is driven as lua/tls.lua
 * and tls_http.c drive it (handshake until done, then reads; an SNI pause
 * answered at once or one read later), its output drained, then it is freed.  After every
 * input OpenSSL's error queue must be empty (a later, unrelated operation
 * must not see a stale error): the target aborts otherwise.
 *
 *   scripts/fuzz fuzz_tls_server 300
 * Seeds: a real ClientHello makes the fuzzer reach past the record layer,
 *   openssl s_client -connect ... -msg, or any captured first flight, in
 *   build-fuzz/corpus-fuzz_tls_server/.
 */
#include "lstr.h"
#include "tls_engine.h"

#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

SSL_CTX *lstr_tls_check_ctx(lua_State *L, int idx);

static lstr_state *S;
static SSL_CTX *CTX[2];

static const char *SRC =
  "local tls = require('native.tls')\n"
  "local cert = [[\n"
  "-----BEGIN CERTIFICATE-----\n"
  "MIIBhjCCASugAwIBAgIUSmGNOcowxLuM5GinD8m1oiW/CzwwCgYIKoZIzj0EAwIw\n"
  "FzEVMBMGA1UEAwwMZnV6ei5leGFtcGxlMCAXDTI2MTIwMTIyMzY1OVoYDzIxMjYx\n"
  "MTA3MjIzNjU5WjAXMRUwEwYDVQQDDAxmdXp6LmV4YW1wbGUwWTATBgcqhkjOPQIB\n"
  "BggqhkjOPQMBBwNCAARrn4LlQIq2iFMuKXaGRERFs9hDU2OS23SVTfoWHWnlg7CV\n"
  "7YKW+pp8JuqAxZMkgCHuQWuZCER95LRVf/Fj9ECuo1MwUTAdBgNVHQ4EFgQUEobj\n"
  "OpaIFHnYVaeQQ1Pz82gFQAEwHwYDVR0jBBgwFoAUEobjOpaIFHnYVaeQQ1Pz82gF\n"
  "QAEwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAhpTErXD8T+Wb\n"
  "NTTBm4eyMhqnqU2nUY7fDJZTGqmf8fsCIQD6UqGOipqY+hzaGJPcWDq7GAZJnllt\n"
  "vBcX5HQhTklarg==\n"
  "-----END CERTIFICATE-----\n"
  "]]\n"
  "local key = [[\n"
  "-----BEGIN PRIVATE KEY-----\n"
  "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgEZiekE8N24/Z+o3G\n"
  "cveFtk8OJ1GLjrm9/mn+v6/JGEGhRANCAARrn4LlQIq2iFMuKXaGRERFs9hDU2OS\n"
  "23SVTfoWHWnlg7CV7YKW+pp8JuqAxZMkgCHuQWuZCER95LRVf/Fj9ECu\n"
  "-----END PRIVATE KEY-----\n"
  "]]\n"
  "return tls.context { server = true, cert = cert, key = key, ALPNProtocols = { 'h2', 'http/1.1' } },\n"
  "       tls.context { server = true, cert = cert, key = key, ca = cert, requestCert = true,\n"
  "                     rejectUnauthorized = true, sniAsync = true, minVersion = 'TLSv1.2' }\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc; (void)argv;
  lstr_state_options o = { .is_main_thread = 1 };
  S = lstr_state_new(&o);
  if (!S) abort();
  lua_State *L = S->L;
  if (luaL_loadstring(L, SRC) != 0 || lua_pcall(L, 0, 2, 0) != 0) {
    fprintf(stderr, "fuzz_tls_server: %s\n", lua_tostring(L, -1));
    abort();
  }
  for (int i = 0; i < 2; i++) {
    CTX[i] = lstr_tls_check_ctx(L, -2 + i);
    SSL_CTX_up_ref(CTX[i]);   /* ours for the whole run */
  }
  lua_pop(L, 2);
  return 0;
}

static void drain(tls_engine *e) {
  const char *p;
  (void)tls_engine_out(e, &p);
  tls_engine_out_clear(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned ctl = data[0];
  data++, size--;
  tls_engine *e = tls_engine_new(CTX[ctl & 1], 1);
  if (!e) return 0;
  size_t piece = 1 + ((ctl >> 1) * 37) % 2048;
  static char plain[16384];
  int dead = 0;
  for (size_t at = 0; at < size && !dead; at += piece) {
    size_t n = size - at < piece ? size - at : piece;
    if (tls_engine_feed(e, (const char *)data + at, n) != 0) break;
    if (!tls_engine_secure(e)) {
      /* ctl & 8: the SNI answer comes a read later (as an asynchronous
       * SNICallback's does: input keeps arriving while the hello waits) */
      if (tls_engine_sni_waiting(e)) {
        tls_engine_sni_answer(e, (ctl & 4) ? CTX[0] : NULL);
      }
      int rc = tls_engine_handshake(e);
      if (rc == TLS_SNI && !(ctl & 8)) {
        (void)tls_engine_sni_name(e);
        tls_engine_sni_answer(e, (ctl & 4) ? CTX[0] : NULL);
        rc = tls_engine_handshake(e);
      }
      drain(e);
      if (rc == TLS_ERROR) {
        (void)tls_engine_error_code(e);
        dead = 1;
      }
      if (rc != TLS_DONE) continue;
    }
    size_t got;
    int rc;
    do {
      rc = tls_engine_read(e, plain, sizeof plain, &got);
      drain(e);
    } while (rc == TLS_WANT && got == sizeof plain);
    if (rc == TLS_ERROR || rc == TLS_CLOSED) dead = 1;
    else if (tls_engine_write(e, "HTTP/1.1 200 OK\r\n\r\n", 19) == 0) drain(e);
  }
  if (!dead) (void)tls_engine_eof(e);
  tls_engine_shutdown(e);
  drain(e);
  tls_engine_free(e);
  if (ERR_peek_error() != 0) {
    fprintf(stderr, "fuzz_tls_server: an error was left on OpenSSL's queue\n");
    ERR_print_errors_fp(stderr);
    abort();
  }
  return 0;
}
