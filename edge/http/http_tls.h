/* http_tls.h - TLS for the edge's HTTP server (private to edge/http/http*.c).
 * The reloadable certificate holder, http_tls_store, is public in
 * http.h; this adds what the server itself needs. Thread rules: see
 * edge/http/http_tls.c. */
#ifndef EDGE_HTTP_TLS_H
#define EDGE_HTTP_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "edge/http/http.h"

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
