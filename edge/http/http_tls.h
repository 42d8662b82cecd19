/* http_tls.h - TLS for the edge's HTTP server. The reloadable holder of
 * the certificate and key, http_tls_store, which every worker's server
 * shares (http.h includes this, so its users reach it there); then what
 * the server itself needs of it. Thread rules: see edge/http/http_tls.c
 * and each function. */
#ifndef EDGE_HTTP_TLS_H
#define EDGE_HTTP_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct metrics;
typedef struct ssl_st SSL; /* OpenSSL's, as <openssl/ssl.h> names it */
typedef struct http_tls_store http_tls_store;

/* A holder for the TLS listener's SSL_CTX: TLS 1.2 and up, AEAD suites
 * only, ALPN "h2" or "http/1.1" (h2 preferred), with the certificate
 * chain (PEM) in cert and the private key (PEM) in key. The file names
 * are copied. An expired certificate is served but logged as a warning.
 * NULL with the reason in err (which must not be NULL): a name empty, a
 * file unreadable, or the key not the certificate's. Create it before the
 * servers that use it and free it after them, on any one thread. */
http_tls_store *http_tls_store_new(const char *cert, const char *key, char *err, size_t errlen);
/* Reads the same two files again into a new SSL_CTX and makes it the one
 * new connections get (logs "tls reloaded" with the subject and notAfter);
 * connections already open keep theirs. ERR_TLS with the reason in err
 * when the new files are bad: the old context stays in use. Any thread,
 * also while servers accept on their own threads. */
int http_tls_store_reload(http_tls_store *ts, char *err, size_t errlen) WARN_UNUSED;
/* When the certificate new connections get stops being valid (its
 * notAfter), as Unix seconds; false when it cannot be read. Any thread. */
bool http_tls_store_not_after(http_tls_store *ts, double *unix_s);
/* Adds tls_cert_expiry_timestamp_seconds, read from ts at each render
 * (none while it cannot be read), to reg; ts must outlive the renders.
 * Start-up. */
void http_tls_metrics_add(struct metrics *reg, http_tls_store *ts);
/* Drops the store's context (open connections keep theirs); NULL is a
 * no-op. Only once no server uses it. */
void http_tls_store_free(http_tls_store *ts);

/* --- for the server's own files (edge/http) -------------------------------- */

/* A new server-side SSL on the store's current context, for one accepted
 * connection; it keeps that context alive for as long as it lives, so a
 * reload never changes an open connection. NULL with OpenSSL's reason
 * queued (see http_tls_reason). Any thread. */
SSL *http_tls_store_ssl_new(http_tls_store *ts);
/* True when the handshake on ssl selected h2. */
bool http_tls_is_h2(SSL *ssl);
/* The oldest queued OpenSSL error as text in buf; clears the queue. */
const char *http_tls_reason(char *buf, size_t len);

#endif
