/*
 * tls_cert.c — an X509 certificate as Node's certificate object
 * (tlsSocket.getPeerCertificate()): subject and issuer as tables of their
 * short names (CN, O, OU, C, ST, L; a repeated name becomes a list),
 * subjectaltname as Node's string ("DNS:a, IP Address:127.0.0.1"),
 * valid_from/valid_to in OpenSSL's print format (as Node), serialNumber in
 * upper-case hex, fingerprint (SHA-1), fingerprint256, fingerprint512 as
 * colon-separated hex, bits, ca (a CA certificate), ext_key_usage (OIDs),
 * the public key as Node shows it (RSA: modulus, exponent, pubkey = the
 * SubjectPublicKeyInfo DER; EC: pubkey = the encoded point, asn1Curve,
 * nistCurve), and raw (the DER bytes).
 */
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include "lstr.h"
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

static void push_name(lua_State *L, X509_NAME *name) {
  lua_newtable(L);
  int n = X509_NAME_entry_count(name);
  for (int i = 0; i < n; i++) {
    X509_NAME_ENTRY *ent = X509_NAME_get_entry(name, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(ent));
    const char *key = nid != NID_undef ? OBJ_nid2sn(nid) : "UNDEF";
    unsigned char *utf8 = NULL;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(ent));
    if (len < 0) continue;
    lua_getfield(L, -1, key);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_pushlstring(L, (const char *)utf8, (size_t)len);
      lua_setfield(L, -2, key);
    } else {
      if (!lua_istable(L, -1)) { /* a second value: make a list */
        lua_createtable(L, 2, 0);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, key);
      }
      lua_pushlstring(L, (const char *)utf8, (size_t)len);
      lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
      lua_pop(L, 1);
    }
    OPENSSL_free(utf8);
  }
}

static void push_time(lua_State *L, const ASN1_TIME *t) {
  BIO *b = BIO_new(BIO_s_mem());
  char *p = NULL;
  long n = 0;
  if (b && ASN1_TIME_print(b, t)) n = BIO_get_mem_data(b, &p);
  lua_pushlstring(L, p ? p : "", n > 0 ? (size_t)n : 0);
  BIO_free(b);
}

static void push_fingerprint(lua_State *L, X509 *x, const EVP_MD *md) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  char hex[EVP_MAX_MD_SIZE * 3 + 1];
  if (!X509_digest(x, md, d, &n)) n = 0;
  for (unsigned i = 0; i < n; i++) snprintf(hex + i * 3, 4, "%02X:", d[i]);
  hex[n ? n * 3 - 1 : 0] = '\0';
  lua_pushstring(L, hex);
}

static void push_altnames(lua_State *L, X509 *x) {
  GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
  if (!names) return;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
    GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
    if (i) luaL_addstring(&b, ", ");
    if (g->type == GEN_DNS || g->type == GEN_EMAIL || g->type == GEN_URI) {
      luaL_addstring(&b, g->type == GEN_DNS ? "DNS:" : g->type == GEN_EMAIL ? "email:" : "URI:");
      ASN1_IA5STRING *s = g->d.ia5;
      luaL_addlstring(&b, (const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
    } else if (g->type == GEN_IPADD) {
      const unsigned char *p = ASN1_STRING_get0_data(g->d.ip);
      int n = ASN1_STRING_length(g->d.ip);
      char ip[64];
      if (n == 4) {
        snprintf(ip, sizeof ip, "%d.%d.%d.%d", p[0], p[1], p[2], p[3]);
      } else if (n == 16) {
        uv_inet_ntop(AF_INET6, p, ip, sizeof ip);
        for (char *c = ip; *c; c++) if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 'a' + 'A');
      } else {
        snprintf(ip, sizeof ip, "<invalid>");
      }
      luaL_addstring(&b, "IP Address:");
      luaL_addstring(&b, ip);
    } else {
      luaL_addstring(&b, "othername:<unsupported>");
    }
  }
  GENERAL_NAMES_free(names);
  luaL_pushresult(&b);
  lua_setfield(L, -2, "subjectaltname");
}

static void push_bio(lua_State *L, BIO *b) {
  char *p = NULL;
  long n = b ? BIO_get_mem_data(b, &p) : 0;
  lua_pushlstring(L, p ? p : "", n > 0 ? (size_t)n : 0);
}

static void push_rsa(lua_State *L, EVP_PKEY *k) {
  BIGNUM *n = NULL, *e = NULL;
  if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n) && n) {
    BIO *b = BIO_new(BIO_s_mem());
    if (b && BN_print(b, n)) {
      push_bio(L, b);
      lua_setfield(L, -2, "modulus");
    }
    BIO_free(b);
  }
  if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e) && e) {
    char hex[24];
    snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)BN_get_word(e));
    lua_pushstring(L, hex);
    lua_setfield(L, -2, "exponent");
  }
  BN_free(n);
  BN_free(e);
  unsigned char *der = NULL;
  int len = i2d_PUBKEY(k, &der);
  if (len > 0) {
    lua_pushlstring(L, (const char *)der, (size_t)len);
    lua_setfield(L, -2, "pubkey");
  }
  OPENSSL_free(der);
}

static void push_ec(lua_State *L, EVP_PKEY *k) {
  unsigned char point[256];
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof point, &len)) {
    lua_pushlstring(L, (const char *)point, len);
    lua_setfield(L, -2, "pubkey");
  }
  char group[80];
  if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, NULL)) {
    int nid = OBJ_sn2nid(group);
    if (nid == NID_undef) nid = OBJ_ln2nid(group);
    if (nid != NID_undef) {
      lua_pushstring(L, OBJ_nid2sn(nid));
      lua_setfield(L, -2, "asn1Curve");
      const char *nist = EC_curve_nid2nist(nid);
      if (nist) {
        lua_pushstring(L, nist);
        lua_setfield(L, -2, "nistCurve");
      }
    }
  }
}

static void push_ext_key_usage(lua_State *L, X509 *x) {
  EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
  if (!eku) return;
  lua_createtable(L, sk_ASN1_OBJECT_num(eku), 0);
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
    char oid[128];
    if (OBJ_obj2txt(oid, sizeof oid, sk_ASN1_OBJECT_value(eku, i), 1) < 0) continue;
    lua_pushstring(L, oid);
    lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
  }
  lua_setfield(L, -2, "ext_key_usage");
  sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
}

int lstr_tls_push_cert(lua_State *L, X509 *x) {
  lua_createtable(L, 0, 12);
  push_name(L, X509_get_subject_name(x));
  lua_setfield(L, -2, "subject");
  push_name(L, X509_get_issuer_name(x));
  lua_setfield(L, -2, "issuer");
  push_altnames(L, x);
  push_time(L, X509_get0_notBefore(x));
  lua_setfield(L, -2, "valid_from");
  push_time(L, X509_get0_notAfter(x));
  lua_setfield(L, -2, "valid_to");
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
  char *hex = bn ? BN_bn2hex(bn) : NULL;
  if (hex) {
    lua_pushstring(L, hex);
    lua_setfield(L, -2, "serialNumber");
  }
  OPENSSL_free(hex);
  BN_free(bn);
  push_fingerprint(L, x, EVP_sha1());
  lua_setfield(L, -2, "fingerprint");
  push_fingerprint(L, x, EVP_sha256());
  lua_setfield(L, -2, "fingerprint256");
  push_fingerprint(L, x, EVP_sha512());
  lua_setfield(L, -2, "fingerprint512");
  lua_pushboolean(L, X509_check_ca(x) == 1);
  lua_setfield(L, -2, "ca");
  push_ext_key_usage(L, x);
  EVP_PKEY *k = X509_get0_pubkey(x);
  if (k) {
    lua_pushinteger(L, EVP_PKEY_get_bits(k));
    lua_setfield(L, -2, "bits");
    int id = EVP_PKEY_get_base_id(k);
    if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) push_rsa(L, k);
    else if (id == EVP_PKEY_EC) push_ec(L, k);
  }
  unsigned char *der = NULL;
  int n = i2d_X509(x, &der);
  if (n > 0) {
    lua_pushlstring(L, (const char *)der, (size_t)n);
    lua_setfield(L, -2, "raw");
  }
  OPENSSL_free(der);
  ERR_clear_error();
  return 1;
}
