/*
 * tls_engine.h — TLS over memory BIOs, for every transport in the runtime:
 *   tls_engine.c    one TLS session: ciphertext in, plaintext out and back
 *   tls_context.c   `native.tls`: SSL_CTX from Node's options, engines for
 *                   Lua (lua/tls.lua drives them over native.socket)
 *   tls_cert.c      a peer certificate as Node's object
 *   tls_http.c      the HTTP server's connections over TLS (http_conn.c
 *                   calls its hooks when the server has a context)
 *
 * An engine never touches a socket: the transport feeds what it read with
 * tls_engine_feed, drives tls_engine_handshake / tls_engine_read, and sends
 * whatever tls_engine_out() holds after each step (handshake messages,
 * records, alerts, session tickets).  The engine's in-memory transport
 * never blocks, so a write of plaintext always completes
 * (SSL_MODE_ENABLE_PARTIAL_WRITE is off).
 *
 * Errors: a failed step records Node's code (ERR_SSL_<REASON> for the SSL
 * library's reasons, the X509 name for a rejected certificate) and message
 * in the engine, and leaves nothing on OpenSSL's per-thread error queue.
 *
 * Verification, as Node does it: a client always completes the handshake
 * (the verify callback lets it go on without aborting), and its
 * owner decides afterwards (rejectUnauthorized) with tls_engine_verify_code
 * and tls_engine_check_host.  A server with requestCert and
 * rejectUnauthorized fails the handshake instead.
 */
#ifndef LSTR_TLS_ENGINE_H
#define LSTR_TLS_ENGINE_H

#include <stddef.h>
#include <openssl/ssl.h>

typedef struct tls_engine tls_engine;

/* Per-context settings, kept in the SSL_CTX's ex_data (tls_context.c). */
typedef struct {
  int is_server;
  int request_cert;
  int reject_unauthorized;
  unsigned char *alpn;          /* server: wire-format list to choose from */
  unsigned alpn_len;
  int sni_async;                /* a Lua SNICallback answers client hellos */
} tls_ctx_opts;

tls_ctx_opts *tls_ctx_get_opts(SSL_CTX *ctx);      /* NULL for a foreign ctx */

enum {
  TLS_WANT = 0,        /* needs more input (or nothing to do) */
  TLS_DONE = 1,        /* the handshake is complete */
  TLS_SNI = 2,         /* server: the client hello awaits an SNI answer */
  TLS_CLOSED = 3,      /* the peer sent close_notify */
  TLS_ERROR = -1       /* fatal: see tls_engine_error */
};

tls_engine *tls_engine_new(SSL_CTX *ctx, int is_server);   /* NULL: no memory */
void tls_engine_free(tls_engine *e);
SSL *tls_engine_ssl(tls_engine *e);

int tls_engine_feed(tls_engine *e, const char *p, size_t n);   /* 0 or TLS_ERROR */
int tls_engine_handshake(tls_engine *e);                       /* TLS_WANT/DONE/SNI/ERROR */
int tls_engine_secure(tls_engine *e);                          /* handshake complete */
/* Decrypt into buf; *got = bytes.  TLS_WANT (maybe with *got > 0: call
 * again while it fills buf), TLS_CLOSED or TLS_ERROR. */
int tls_engine_read(tls_engine *e, char *buf, size_t cap, size_t *got);
int tls_engine_write(tls_engine *e, const char *p, size_t n);  /* 0 or TLS_ERROR */
void tls_engine_shutdown(tls_engine *e);                       /* queue close_notify */

/* Ciphertext waiting to be sent: a pointer into the engine's buffer, valid
 * until the next engine call; tls_engine_out_clear once it is copied or sent. */
size_t tls_engine_out(tls_engine *e, const char **p);
void tls_engine_out_clear(tls_engine *e);
/* An idle connection: free the transport's and OpenSSL's record buffers
 * (they come back with the next record). */
void tls_engine_release_buffers(tls_engine *e);

/* The failure of the last step (or one the owner declared: a timeout) */
void tls_engine_fail(tls_engine *e, const char *code, const char *message);
int tls_engine_failed(tls_engine *e);
const char *tls_engine_error_code(tls_engine *e);
const char *tls_engine_error_message(tls_engine *e);

/* Verification: NULL when the peer's chain verified, else Node's code
 * (UNABLE_TO_VERIFY_LEAF_SIGNATURE, DEPTH_ZERO_SELF_SIGNED_CERT...). */
const char *tls_engine_verify_code(tls_engine *e, const char **message);
/* 1 when the peer certificate is valid for host (a DNS name or an IP literal). */
int tls_engine_check_host(tls_engine *e, const char *host);

/* SNI (server, after TLS_SNI): the name the client asked for (or NULL),
 * and the answer: switch to ctx (NULL keeps the current one); then call
 * tls_engine_handshake again. */
const char *tls_engine_sni_name(tls_engine *e);
int tls_engine_sni_waiting(tls_engine *e);   /* TLS_SNI returned, not answered yet */
void tls_engine_sni_answer(tls_engine *e, SSL_CTX *ctx);

/* Sessions for resumption: the latest the server gave us (client), DER. */
const unsigned char *tls_engine_session(tls_engine *e, size_t *len);
int tls_engine_session_seq(tls_engine *e);
int tls_engine_set_session(tls_engine *e, const unsigned char *der, size_t len);

/* Called once per SSL_CTX by tls_context.c: the verify, session and
 * client-hello callbacks that report into the engine of each SSL. */
void tls_engine_install(SSL_CTX *ctx);

/* The transport saw EOF: TLS_ERROR when a record was cut short (the peer
 * closed inside one), else TLS_CLOSED. */
int tls_engine_eof(tls_engine *e);

/* Record an OpenSSL failure as Node's code/message (clears the queue). */
void tls_take_error(char *code, size_t codelen, char *msg, size_t msglen, const char *fallback);

#endif
