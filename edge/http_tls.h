/* http_tls.h - TLS for the edge's HTTP server (private to edge/http*.c). */
#ifndef EDGE_HTTP_TLS_H
#define EDGE_HTTP_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "http.h"

/* A server context from cfg's certificate chain and key: TLS 1.2 and up,
 * AEAD suites only, ALPN "h2" or "http/1.1" (h2 preferred; a client
 * offering neither is refused with no_application_protocol). NULL with
 * the reason in err (which must not be NULL). */
SSL_CTX *http_tls_ctx_new(const http_config *cfg, char *err, size_t errlen);
/* True when the handshake on ssl selected h2. */
bool http_tls_is_h2(SSL *ssl);
/* The oldest queued OpenSSL error as text in buf; clears the queue. */
const char *http_tls_reason(char *buf, size_t len);

#endif
