/*
 * tls_engine.c — one TLS session over an in-memory transport (see tls_engine.h).
 *
 * The SSL's BIO (one for both directions, owned by the SSL) is the
 * engine's own: reads take the ciphertext the transport fed us (`in`),
 * writes append what OpenSSL produced for the transport to send (`out`).
 * BIO_s_mem would do the same job, but it zeroes its buffer on every
 * growth and reset and answers each of the record layer's several
 * BIO_ctrl queries per record through BUF_MEM: on a keep-alive
 * connection that bookkeeping costs more than the copy it wraps.
 * The engine is found from its SSL through ex_data, which is how the
 * context-wide callbacks (verification, new sessions, client hello)
 * report into the right connection.
 */
#include "tls_engine.h"
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <uv.h>

/* bytes at p[off, len) are waiting; cap is what p holds */
typedef struct {
  char *p;
  size_t off, len, cap;
} tls_buf;

struct tls_engine {
  SSL *ssl;
  tls_ctx_opts *opts;        /* of the context it was made from (an SNI answer keeps them) */
  tls_buf in;                /* ciphertext fed, not yet read by OpenSSL */
  tls_buf out;               /* ciphertext OpenSSL wrote, not yet taken by the transport */
  int is_server;
  int secure;
  int failed;
  int reject_in_handshake;   /* server with requestCert + rejectUnauthorized */
  int sni_answered;
  int sni_waiting;           /* the client hello waits for tls_engine_sni_answer */
  char *sni_name;
  unsigned char *session;    /* DER of the latest session (client) */
  size_t session_len;
  int session_seq;
  char err_code[96];
  char err_msg[256];
};

static int engine_idx = -1;

static tls_engine *engine_of(SSL *ssl) {
  return engine_idx < 0 ? NULL : SSL_get_ex_data(ssl, engine_idx);
}

/* ---- errors ---- */

#define L(x) { ERR_LIB_##x, #x "_" }
static const struct { int lib; const char *name; } lib_names[] = {
  L(SYS), L(BN), L(RSA), L(DH), L(EVP), L(BUF), L(OBJ), L(PEM), L(DSA), L(X509), L(ASN1), L(CONF),
  L(CRYPTO), L(EC), L(SSL), L(BIO), L(PKCS7), L(X509V3), L(PKCS12), L(RAND), L(DSO), L(ENGINE),
  L(OCSP), L(UI), L(COMP), L(ECDSA), L(ECDH), L(OSSL_STORE), L(FIPS), L(CMS), L(TS), L(HMAC), L(CT),
  L(ASYNC), L(KDF), L(SM2), L(USER),
};
#undef L

static const char *lib_name(int lib) {
  for (size_t i = 0; i < sizeof lib_names / sizeof lib_names[0]; i++)
    if (lib_names[i].lib == lib) return lib_names[i].name;
  return "";
}

void tls_take_error(char *code, size_t codelen, char *msg, size_t msglen, const char *fallback) {
  unsigned long e = ERR_peek_error();
  if (!e) {
    snprintf(code, codelen, "%s", fallback);
    snprintf(msg, msglen, "%s", fallback);
    return;
  }
  const char *reason = ERR_reason_error_string(e);
  const char *lib = ERR_lib_error_string(e);
  snprintf(msg, msglen, "error:%08lX:%s::%s", e, lib ? lib : "unknown routines", reason ? reason : "unknown");
  /* Node: ERR_SSL_<REASON> for the SSL library, ERR_OSSL_<LIB>_<REASON>
   * for the others (ERR_OSSL_PEM_NO_START_LINE, ERR_OSSL_X509_KEY_VALUES_MISMATCH) */
  size_t n = (size_t)snprintf(code, codelen, "ERR_%s%s", ERR_GET_LIB(e) == ERR_LIB_SSL ? "" : "OSSL_",
                              lib_name(ERR_GET_LIB(e)));
  for (const char *r = reason ? reason : "UNKNOWN"; *r && n + 1 < codelen; r++)
    code[n++] = isalnum((unsigned char)*r) ? (char)toupper((unsigned char)*r) : '_';
  code[n] = '\0';
  ERR_clear_error();
}

static int fail(tls_engine *e, const char *fallback) {
  e->failed = 1;
  tls_take_error(e->err_code, sizeof e->err_code, e->err_msg, sizeof e->err_msg, fallback);
  return TLS_ERROR;
}

void tls_engine_fail(tls_engine *e, const char *code, const char *message) {
  e->failed = 1;
  snprintf(e->err_code, sizeof e->err_code, "%s", code);
  snprintf(e->err_msg, sizeof e->err_msg, "%s", message);
}

int tls_engine_failed(tls_engine *e) { return e->failed; }
const char *tls_engine_error_code(tls_engine *e) { return e->err_code; }
const char *tls_engine_error_message(tls_engine *e) { return e->err_msg; }

/* ---- context-wide callbacks ---- */

static int verify_cb(int ok, X509_STORE_CTX *x) {
  SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
  tls_engine *e = ssl ? engine_of(ssl) : NULL;
  if (!e) return ok;
  return e->reject_in_handshake ? ok : 1;
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess) {
  tls_engine *e = engine_of(ssl);
  if (!e) return 0;
  int n = i2d_SSL_SESSION(sess, NULL);
  if (n <= 0) return 0;
  unsigned char *der = malloc((size_t)n);
  if (!der) return 0;
  unsigned char *p = der;
  i2d_SSL_SESSION(sess, &p);
  free(e->session);
  e->session = der;
  e->session_len = (size_t)n;
  e->session_seq++;
  return 0; /* we did not keep a reference to sess */
}

/* The server_name extension: list length (2), type (1), name length (2), name. */
static char *hello_servername(SSL *ssl) {
  const unsigned char *p;
  size_t len;
  if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) || len < 5) return NULL;
  size_t list = ((size_t)p[0] << 8) | p[1];
  if (list + 2 > len || p[2] != TLSEXT_NAMETYPE_host_name) return NULL;
  size_t n = ((size_t)p[3] << 8) | p[4];
  if (n + 5 > len || n == 0 || n > 255) return NULL;
  char *name = malloc(n + 1);
  if (!name) return NULL;
  memcpy(name, p + 5, n);
  name[n] = '\0';
  if (strlen(name) != n) { free(name); return NULL; } /* an embedded NUL */
  return name;
}

/* Pause the handshake at the client hello until Lua's SNICallback answers. */
static int client_hello_cb(SSL *ssl, int *alert, void *arg) {
  (void)alert; (void)arg;
  tls_engine *e = engine_of(ssl);
  tls_ctx_opts *o = e ? e->opts : NULL;
  if (!e || !o || !o->sni_async || e->sni_answered) return SSL_CLIENT_HELLO_SUCCESS;
  if (!e->sni_waiting) {
    free(e->sni_name);
    e->sni_name = hello_servername(ssl);
    e->sni_waiting = 1;
  }
  return SSL_CLIENT_HELLO_RETRY;
}

/* Server: the first of our protocols the client offers; none in common is
 * a fatal no_application_protocol alert, as Node (18+) does.  The choice is
 * the server's (its ALPNProtocols), whichever context an SNICallback
 * switched to: so every context carries this callback. */
static int alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                          unsigned inlen, void *arg) {
  (void)arg;
  tls_engine *e = engine_of(ssl);
  tls_ctx_opts *o = e ? e->opts : NULL;
  if (!o || !o->alpn) return SSL_TLSEXT_ERR_NOACK;
  if (SSL_select_next_proto((unsigned char **)out, outlen, o->alpn, o->alpn_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  return SSL_TLSEXT_ERR_OK;
}

/* ---- the transport BIO ---- */

/* Room for n more bytes after the waiting ones: the waiting bytes move to
 * the front first; the buffer grows only when they and n do not fit. */
static int buf_reserve(tls_buf *b, size_t n) {
  if (b->off == b->len) b->off = b->len = 0;
  if (b->cap - b->len >= n) return 0;
  if (b->off) {
    memmove(b->p, b->p + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
    if (b->cap - b->len >= n) return 0;
  }
  size_t cap = b->cap ? b->cap : 4096;
  while (cap - b->len < n) {
    if (cap > SIZE_MAX / 2) return -1;
    cap *= 2;
  }
  char *p = realloc(b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

static int buf_append(tls_buf *b, const char *p, size_t n) {
  if (buf_reserve(b, n) != 0) return -1;
  memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

/* A buffer grown past this by a burst (a large flight fed or written at
 * once) is freed once it empties rather than kept for the connection's life. */
#define BUF_KEEP (64 * 1024)

static void buf_free(tls_buf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

static int bio_read(BIO *bio, char *dst, size_t n, size_t *got) {
  tls_engine *e = BIO_get_data(bio);
  size_t avail = e->in.len - e->in.off;
  BIO_clear_retry_flags(bio);
  if (avail == 0) {
    BIO_set_retry_read(bio);   /* more may come: WANT_READ, never EOF */
    *got = 0;
    return 0;
  }
  if (n > avail) n = avail;
  memcpy(dst, e->in.p + e->in.off, n);
  e->in.off += n;
  if (e->in.off == e->in.len) {
    if (e->in.cap > BUF_KEEP) buf_free(&e->in);
    else e->in.off = e->in.len = 0;
  }
  *got = n;
  return 1;
}

static int bio_write(BIO *bio, const char *src, size_t n, size_t *put) {
  tls_engine *e = BIO_get_data(bio);
  BIO_clear_retry_flags(bio);
  if (buf_append(&e->out, src, n) != 0) return 0;   /* a fatal write error for OpenSSL */
  *put = n;
  return 1;
}

static long bio_ctrl(BIO *bio, int cmd, long num, void *ptr) {
  (void)num; (void)ptr;
  tls_engine *e = BIO_get_data(bio);
  switch (cmd) {
  case BIO_CTRL_FLUSH: return 1;
  case BIO_CTRL_PENDING: return (long)(e->in.len - e->in.off);
  case BIO_CTRL_WPENDING: return (long)(e->out.len - e->out.off);
  default: return 0;   /* not EOF, no kTLS, nothing else to say */
  }
}

static int bio_create(BIO *bio) {
  BIO_set_init(bio, 1);
  return 1;
}

static BIO_METHOD *transport_method;

/* ex_data indexes and the BIO method are process-wide: made once,
 * whichever thread is first */
static uv_once_t index_once = UV_ONCE_INIT;
static void make_index(void) {
  engine_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "luster TLS transport");
  if (m && BIO_meth_set_read_ex(m, bio_read) && BIO_meth_set_write_ex(m, bio_write) && BIO_meth_set_ctrl(m, bio_ctrl)
      && BIO_meth_set_create(m, bio_create)) {
    transport_method = m;
  } else {
    BIO_meth_free(m);   /* tls_engine_new fails: no memory */
  }
}

void tls_engine_install(SSL_CTX *ctx) {
  uv_once(&index_once, make_index);
  SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
  SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, NULL);
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, NULL);
}

/* ---- life ---- */

tls_engine *tls_engine_new(SSL_CTX *ctx, int is_server) {
  uv_once(&index_once, make_index);
  tls_engine *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->ssl = SSL_new(ctx);
  BIO *bio = transport_method ? BIO_new(transport_method) : NULL;
  if (!e->ssl || !bio) {
    SSL_free(e->ssl);
    BIO_free(bio);
    free(e);
    ERR_clear_error();
    return NULL;
  }
  BIO_set_data(bio, e);
  SSL_set_bio(e->ssl, bio, bio);   /* one reference, for both directions */
  /* a record's header and body in one BIO read (the memory transport
   * gives whatever was fed; nothing else reads after the SSL) */
  SSL_set_read_ahead(e->ssl, 1);
  SSL_set_ex_data(e->ssl, engine_idx, e);
  e->is_server = is_server;
  /* the SSL holds its first context (session_ctx) for life, so these stay valid */
  tls_ctx_opts *o = e->opts = tls_ctx_get_opts(ctx);
  if (is_server) {
    SSL_set_accept_state(e->ssl);
    if (o && o->request_cert) {
      e->reject_in_handshake = o->reject_unauthorized;
      SSL_set_verify(e->ssl, SSL_VERIFY_PEER | (o->reject_unauthorized ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), verify_cb);
    } else {
      SSL_set_verify(e->ssl, SSL_VERIFY_NONE, NULL);
    }
  } else {
    SSL_set_connect_state(e->ssl);
    SSL_set_verify(e->ssl, SSL_VERIFY_PEER, verify_cb);
  }
  return e;
}

void tls_engine_free(tls_engine *e) {
  if (!e) return;
  SSL_free(e->ssl);
  buf_free(&e->in);
  buf_free(&e->out);
  free(e->sni_name);
  free(e->session);
  free(e);
  ERR_clear_error();
}

SSL *tls_engine_ssl(tls_engine *e) { return e->ssl; }
int tls_engine_secure(tls_engine *e) { return e->secure; }

/* ---- the flow ---- */

int tls_engine_feed(tls_engine *e, const char *p, size_t n) {
  if (n == 0) return 0;
  if (buf_append(&e->in, p, n) != 0) return fail(e, "ERR_OUT_OF_MEMORY");
  return 0;
}

/* Fed ciphertext OpenSSL has not taken, or taken and not yet processed */
static int input_waiting(tls_engine *e) { return e->in.len > e->in.off || SSL_has_pending(e->ssl); }

int tls_engine_handshake(tls_engine *e) {
  if (e->failed) return TLS_ERROR;
  if (e->secure) return TLS_DONE;
  int rc = SSL_do_handshake(e->ssl);
  if (rc == 1) {
    e->secure = 1;
    return TLS_DONE;
  }
  switch (SSL_get_error(e->ssl, rc)) {
  case SSL_ERROR_WANT_READ:
  case SSL_ERROR_WANT_WRITE:
    return TLS_WANT;
  case SSL_ERROR_WANT_CLIENT_HELLO_CB:
    return TLS_SNI;
  case SSL_ERROR_ZERO_RETURN:
    return fail(e, "ECONNRESET");
  default:
    /* a server rejecting the client's certificate: the reason is the
     * verification failure, as Node reports it */
    return fail(e, "ERR_SSL_HANDSHAKE_FAILURE");
  }
}

int tls_engine_read(tls_engine *e, char *buf, size_t cap, size_t *got) {
  *got = 0;
  if (e->failed) return TLS_ERROR;
  while (*got < cap) {
    int n = SSL_read(e->ssl, buf + *got, (int)(cap - *got));
    if (n > 0) {
      *got += (size_t)n;
      /* all input consumed: another SSL_read would only say WANT_READ,
       * at the price of a trip through the record layer (and, with
       * SSL_MODE_RELEASE_BUFFERS, a read buffer allocated and freed) */
      if (!input_waiting(e)) return TLS_WANT;
      continue;
    }
    switch (SSL_get_error(e->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return TLS_WANT;
    case SSL_ERROR_ZERO_RETURN:
      return TLS_CLOSED;
    default:
      return fail(e, "ECONNRESET");
    }
  }
  return TLS_WANT;
}

int tls_engine_write(tls_engine *e, const char *p, size_t n) {
  if (e->failed) return TLS_ERROR;
  while (n > 0) {
    int w = SSL_write(e->ssl, p, n > (1 << 30) ? (1 << 30) : (int)n);
    if (w <= 0) return fail(e, "EPIPE");
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

void tls_engine_shutdown(tls_engine *e) {
  if (e->secure && !e->failed && !(SSL_get_shutdown(e->ssl) & SSL_SENT_SHUTDOWN)) SSL_shutdown(e->ssl);
  ERR_clear_error();
}

int tls_engine_eof(tls_engine *e) {
  if (input_waiting(e) && !e->failed) {
    e->failed = 1;
    snprintf(e->err_code, sizeof e->err_code, "ECONNRESET");
    snprintf(e->err_msg, sizeof e->err_msg, "TLS record truncated: the peer closed the connection inside a record");
    return TLS_ERROR;
  }
  return TLS_CLOSED;
}

size_t tls_engine_out(tls_engine *e, const char **p) {
  size_t n = e->out.len - e->out.off;
  *p = n ? e->out.p + e->out.off : NULL;   /* nothing yet: maybe no buffer either */
  return n;
}

void tls_engine_out_clear(tls_engine *e) {
  if (e->out.cap > BUF_KEEP) buf_free(&e->out);
  else e->out.off = e->out.len = 0;
}

void tls_engine_release_buffers(tls_engine *e) {
  if (e->in.off == e->in.len) buf_free(&e->in);
  if (e->out.off == e->out.len) buf_free(&e->out);
  if (e->secure) SSL_free_buffers(e->ssl);
}

/* ---- verification ---- */

#define V(x) { X509_V_ERR_##x, #x }
static const struct { long err; const char *name; } verify_names[] = {
  V(UNABLE_TO_GET_ISSUER_CERT), V(UNABLE_TO_GET_CRL), V(UNABLE_TO_DECRYPT_CERT_SIGNATURE),
  V(UNABLE_TO_DECRYPT_CRL_SIGNATURE), V(UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY),
  V(CERT_SIGNATURE_FAILURE), V(CRL_SIGNATURE_FAILURE), V(CERT_NOT_YET_VALID),
  V(CERT_HAS_EXPIRED), V(CRL_NOT_YET_VALID), V(CRL_HAS_EXPIRED),
  V(ERROR_IN_CERT_NOT_BEFORE_FIELD), V(ERROR_IN_CERT_NOT_AFTER_FIELD),
  V(ERROR_IN_CRL_LAST_UPDATE_FIELD), V(ERROR_IN_CRL_NEXT_UPDATE_FIELD), V(OUT_OF_MEM),
  V(DEPTH_ZERO_SELF_SIGNED_CERT), V(SELF_SIGNED_CERT_IN_CHAIN),
  V(UNABLE_TO_GET_ISSUER_CERT_LOCALLY), V(UNABLE_TO_VERIFY_LEAF_SIGNATURE),
  V(CERT_CHAIN_TOO_LONG), V(CERT_REVOKED), V(INVALID_CA), V(PATH_LENGTH_EXCEEDED),
  V(INVALID_PURPOSE), V(CERT_UNTRUSTED), V(CERT_REJECTED), V(HOSTNAME_MISMATCH),
  V(EE_KEY_TOO_SMALL), V(CA_KEY_TOO_SMALL), V(CA_MD_TOO_WEAK),
};
#undef V

const char *tls_engine_verify_code(tls_engine *e, const char **message) {
  /* the verify result, as Node reads it (the callback lets the chain
   * walk go on, so this is the verdict at its end) */
  long err = SSL_get_verify_result(e->ssl);
  X509 *peer = SSL_get0_peer_certificate(e->ssl);
  if (err == X509_V_OK && !peer) err = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT; /* nothing to verify */
  if (err == X509_V_OK) return NULL;
  if (message) *message = X509_verify_cert_error_string(err);
  for (size_t i = 0; i < sizeof verify_names / sizeof verify_names[0]; i++)
    if (verify_names[i].err == err) return verify_names[i].name;
  return "UNSPECIFIED";
}

int tls_engine_check_host(tls_engine *e, const char *host) {
  X509 *peer = SSL_get0_peer_certificate(e->ssl);
  if (!peer) return 0;
  int ok = X509_check_ip_asc(peer, host, 0);        /* -2: not an IP literal */
  if (ok == -2) ok = X509_check_host(peer, host, 0, 0, NULL);
  ERR_clear_error();
  return ok == 1;
}

/* ---- SNI and sessions ---- */

const char *tls_engine_sni_name(tls_engine *e) { return e->sni_name; }

int tls_engine_sni_waiting(tls_engine *e) { return e->sni_waiting; }

void tls_engine_sni_answer(tls_engine *e, SSL_CTX *ctx) {
  e->sni_answered = 1;
  e->sni_waiting = 0;
  if (ctx) SSL_set_SSL_CTX(e->ssl, ctx);
}

const unsigned char *tls_engine_session(tls_engine *e, size_t *len) {
  *len = e->session_len;
  return e->session;
}

int tls_engine_session_seq(tls_engine *e) { return e->session_seq; }

int tls_engine_set_session(tls_engine *e, const unsigned char *der, size_t len) {
  const unsigned char *p = der;
  SSL_SESSION *s = d2i_SSL_SESSION(NULL, &p, (long)len);
  if (!s) { ERR_clear_error(); return -1; }
  int ok = SSL_set_session(e->ssl, s);
  SSL_SESSION_free(s);
  ERR_clear_error();
  return ok == 1 ? 0 : -1;
}
