/* http_tls.c - the edge's TLS setup: an SSL_CTX with TLS 1.2+ and AEAD
 * suites only, the certificate and key from the config, and ALPN that
 * picks h2, else http/1.1 (a client without ALPN gets HTTP/1.1 too); and
 * the http_tls_store that holds the current SSL_CTX so that it can be
 * swapped while the servers run (SIGHUP at the edge).
 *
 * Owns the store's SSL_CTX reference and its copies of the file names.
 *
 * Threads: a store is shared by every worker's http_server. Each worker
 * calls http_tls_store_ssl_new on its own loop thread at accept time;
 * any one thread (the edge's main loop, on SIGHUP) may call
 * http_tls_store_reload meanwhile. The mutex guards only the ctx pointer:
 * a reader takes a reference under it (SSL_CTX_up_ref) and makes the SSL
 * outside it; reload builds the new context outside it, swaps the
 * pointer under it and drops the store's reference to the old one, which
 * lives on until the last connection made from it is freed. A context is
 * never changed once it is in the store. http_tls_store_new and _free run
 * while no server uses the store (before the first, after the last).
 */
#include "edge/http/http_tls.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "metrics.h"
#include "tsa.h"
#include "xmem.h"

struct http_tls_store {
	tsa_mutex mu;     /* guards ctx */
	SSL_CTX *ctx;     /* current; never NULL */
	char *cert, *key; /* file names, read again on each reload */
};

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

/* What the logs say about ctx's certificate: its subject as OpenSSL's
 * one-line form (log.c escapes whatever it holds) and notAfter as UTC
 * ISO 8601. */
typedef struct cert_desc {
	char subject[256];
	char not_after[32];
	bool expired, not_yet_valid;
} cert_desc;

static void describe(SSL_CTX *ctx, cert_desc *d)
{
	snprintf(d->subject, sizeof d->subject, "?");
	snprintf(d->not_after, sizeof d->not_after, "?");
	d->expired = d->not_yet_valid = false;
	X509 *x = SSL_CTX_get0_certificate(ctx);
	if (!x)
		return;
	if (!X509_NAME_oneline(X509_get_subject_name(x), d->subject, (int)sizeof d->subject))
		snprintf(d->subject, sizeof d->subject, "?");
	struct tm tm;
	const ASN1_TIME *na = X509_get0_notAfter(x);
	if (na && ASN1_TIME_to_tm(na, &tm) == 1)
		strftime(d->not_after, sizeof d->not_after, "%Y-%m-%dT%H:%M:%SZ", &tm);
	d->expired = na && X509_cmp_current_time(na) < 0;
	const ASN1_TIME *nb = X509_get0_notBefore(x);
	d->not_yet_valid = nb && X509_cmp_current_time(nb) > 0;
	ERR_clear_error();
}

/* A server context from the chain in cert and the key in key: TLS 1.2
 * and up, AEAD suites only, ALPN "h2" or "http/1.1" (h2 preferred; a
 * client offering neither is refused with no_application_protocol).
 * NULL with the reason in err. */
static SSL_CTX *ctx_new(const char *cert, const char *key, char *err, size_t errlen)
{
	char buf[256];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(err, errlen, "cannot create TLS context: %s",
		         http_tls_reason(buf, sizeof buf));
		return NULL;
	}
	/* TLS 1.2 ciphers limited to the AEAD suites RFC 9113 allows; TLS
	 * 1.3 has only AEAD suites. */
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
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "cannot load certificate %s: %s", cert,
		         http_tls_reason(buf, sizeof buf));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		/* A readable key of another certificate fails here already. */
		bool other = ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH;
		snprintf(err, errlen, "%s %s%s: %s",
		         other ? "private key" : "cannot load private key", key,
		         other ? " does not match the certificate" : "",
		         http_tls_reason(buf, sizeof buf));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "private key %s does not match the certificate %s: %s", key,
		         cert, http_tls_reason(buf, sizeof buf));
		goto fail;
	}
	SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* An expired certificate is still served (refusing would take the edge
 * off TLS altogether), but it is worth a warning every time it loads. */
static void warn_validity(const cert_desc *d)
{
	if (d->expired)
		log_warn("tls certificate has expired; serving it anyway",
		         "subject=\"%s\" not_after=%s", d->subject, d->not_after);
	else if (d->not_yet_valid)
		log_warn("tls certificate is not valid yet; serving it anyway",
		         "subject=\"%s\" not_after=%s", d->subject, d->not_after);
}

http_tls_store *http_tls_store_new(const char *cert, const char *key, char *err, size_t errlen)
{
	if (!cert || !cert[0] || !key || !key[0]) {
		snprintf(err, errlen, "tls_listen needs tls_cert and tls_key");
		return NULL;
	}
	SSL_CTX *ctx = ctx_new(cert, key, err, errlen);
	if (!ctx)
		return NULL;
	http_tls_store *ts = xcalloc(1, sizeof *ts);
	if (pthread_mutex_init(&ts->mu, NULL) != 0) {
		snprintf(err, errlen, "cannot create the TLS store's mutex");
		SSL_CTX_free(ctx);
		free(ts);
		return NULL;
	}
	ts->ctx = ctx;
	ts->cert = xstrdup(cert);
	ts->key = xstrdup(key);
	cert_desc d;
	describe(ctx, &d);
	log_info("tls certificate loaded", "subject=\"%s\" not_after=%s cert=%s", d.subject,
	         d.not_after, cert);
	warn_validity(&d);
	return ts;
}

int http_tls_store_reload(http_tls_store *ts, char *err, size_t errlen)
{
	char why[512];
	SSL_CTX *ctx = ctx_new(ts->cert, ts->key, why, sizeof why);
	if (!ctx) {
		snprintf(err, errlen, "%s", why);
		return ERR_TLS;
	}
	cert_desc d;
	describe(ctx, &d);
	tsa_lock(&ts->mu);
	SSL_CTX *old = ts->ctx;
	ts->ctx = ctx;
	tsa_unlock(&ts->mu);
	SSL_CTX_free(old); /* connections made from it hold their own reference */
	log_info("tls reloaded", "subject=\"%s\" not_after=%s cert=%s", d.subject, d.not_after,
	         ts->cert);
	warn_validity(&d);
	return 0;
}

bool http_tls_store_not_after(http_tls_store *ts, double *unix_s)
{
	tsa_lock(&ts->mu);
	SSL_CTX *ctx = ts->ctx;
	SSL_CTX_up_ref(ctx);
	tsa_unlock(&ts->mu);
	bool ok = false;
	X509 *x = SSL_CTX_get0_certificate(ctx);
	const ASN1_TIME *na = x ? X509_get0_notAfter(x) : NULL;
	struct tm tm;
	if (na && ASN1_TIME_to_tm(na, &tm) == 1) {
		*unix_s = (double)timegm(&tm);
		ok = true;
	}
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return ok;
}

SSL *http_tls_store_ssl_new(http_tls_store *ts)
{
	tsa_lock(&ts->mu);
	SSL_CTX *ctx = ts->ctx;
	int up = SSL_CTX_up_ref(ctx);
	tsa_unlock(&ts->mu);
	if (up != 1)
		return NULL;
	SSL *ssl = SSL_new(ctx); /* takes a reference of its own */
	SSL_CTX_free(ctx);
	return ssl;
}

void http_tls_store_free(http_tls_store *ts)
{
	if (!ts)
		return;
	SSL_CTX_free(ts->ctx);
	pthread_mutex_destroy(&ts->mu);
	free(ts->cert);
	free(ts->key);
	free(ts);
}

static void render(const metrics *m, void *obj, sbuf *out)
{
	double t;
	if (http_tls_store_not_after(obj, &t))
		metrics_single(
		    m, out, "tls_cert_expiry_timestamp_seconds", METRIC_GAUGE,
		    "When the certificate new TLS connections get expires (its notAfter), "
		    "in Unix seconds; it follows a reload (SIGHUP).",
		    t);
}

void http_tls_metrics_add(metrics *reg, http_tls_store *ts)
{
	metrics_add_object_hook(reg, render, ts);
}
