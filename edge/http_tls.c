/* http_tls.c - the edge's TLS setup: an SSL_CTX with TLS 1.2+ and AEAD
 * suites only, the certificate and key from the config, and ALPN that
 * picks h2, else http/1.1 (a client without ALPN gets HTTP/1.1 too). Owns nothing after it returns;
 * the server owns the SSL_CTX. Called on the server's loop thread.
 */
#include "http_tls.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

/* The oldest queued OpenSSL error as text; clears the queue. */
const char *http_tls_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "unknown");
	ERR_clear_error();
	return buf;
}

bool http_tls_is_h2(SSL *ssl)
{
	const unsigned char *proto = NULL;
	unsigned len = 0;
	SSL_get0_alpn_selected(ssl, &proto, &len);
	return proto && len == 2 && memcmp(proto, "h2", 2) == 0;
}

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
	(void)ssl, (void)arg;
	/* Ours, in order of preference: the first of these the client
	 * offers wins. */
	static const unsigned char ours[] = {2,   'h', '2', 8,   'h', 't',
	                                     't', 'p', '/', '1', '.', '1'};
	unsigned char *sel = NULL;
	unsigned char sellen = 0;
	if (SSL_select_next_proto(&sel, &sellen, ours, sizeof ours, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL; /* no_application_protocol */
	*out = sel;
	*outlen = sellen;
	return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *http_tls_ctx_new(const http_config *cfg, char *err, size_t errlen)
{
	char buf[256];
	if (!cfg->tls_cert || !cfg->tls_cert[0] || !cfg->tls_key || !cfg->tls_key[0]) {
		snprintf(err, errlen, "tls_listen needs tls_cert and tls_key");
		return NULL;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(err, errlen, "cannot create TLS context: %s",
		         http_tls_reason(buf, sizeof buf));
		return NULL;
	}
	/* TLS 1.2 ciphers limited to the AEAD suites RFC 9113 allows. */
	static const char ciphers[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		snprintf(err, errlen, "cannot configure TLS: %s", http_tls_reason(buf, sizeof buf));
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		snprintf(err, errlen, "cannot load certificate %s: %s", cfg->tls_cert,
		         http_tls_reason(buf, sizeof buf));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "cannot load private key %s: %s", cfg->tls_key,
		         http_tls_reason(buf, sizeof buf));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "private key %s does not match the certificate: %s",
		         cfg->tls_key, http_tls_reason(buf, sizeof buf));
		goto fail;
	}
	SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}
