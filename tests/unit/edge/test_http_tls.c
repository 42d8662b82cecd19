/* test_http_tls.c - the edge HTTP server's TLS: the certificate reload
 * (http_tls_store, as SIGHUP drives it at the edge) and the modern
 * defaults (TLS 1.2+, AEAD suites only, ALPN h2 and http/1.1).
 *
 * Each test makes self-signed P-256 certificates with distinct common
 * names in its own temp dir (tests/support/http_server_util.h runs the server on
 * a loop thread), talks to it with the support library's clients over
 * TLS (tests/support/tconn.h: they do not verify; the CN they see tells
 * which certificate was served), and
 * swaps the files under the server the way an operator would. Reloads
 * run on the test thread while the server's loop runs on its own, as
 * SIGHUP's do on the edge's main loop while workers accept.
 */
#include "tests/support/http_server_util.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <time.h>

#include "err.h"
#include "tests/support/h1client.h"
#include "tests/support/tconn.h"

/* A second server (another "worker") on its own base and thread, for
 * the shared-store test; stopped through a pipe as H's is. */
static struct {
	struct event_base *base;
	http_server *srv;
	pthread_t thread;
	bool running;
	int stop[2];
	struct event *stop_ev;
	http_tls_store *store;
	char other_key[PATH_MAX + 16];
} T;

static void tls_init(void)
{
	suite_init();
	snprintf(T.other_key, sizeof T.other_key, "%s/other-key.pem", H.tmp);
}

static void stop_second(void);

static void tls_fini(void)
{
	stop_second();
	stop_server();
	http_tls_store_free(T.store); /* after both servers that used it */
	T.store = NULL;
	suite_fini();
}

TestSuite(http_tls, .init = tls_init, .fini = tls_fini, .timeout = 30);

/* --- certificates ----------------------------------------------------------- */

/* Writes a self-signed P-256 certificate for CN=cn, valid from from_s to
 * until_s seconds from now, to cert, and its key to key. */
static void write_cert(const char *cn, long from_s, long until_s, const char *cert, const char *key)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	cr_assert_not_null(pkey);
	X509 *x = X509_new();
	cr_assert_not_null(x);
	cr_assert(X509_set_version(x, 2));
	cr_assert(ASN1_INTEGER_set(X509_get_serialNumber(x), 7));
	cr_assert(X509_gmtime_adj(X509_getm_notBefore(x), from_s));
	cr_assert(X509_gmtime_adj(X509_getm_notAfter(x), until_s));
	cr_assert(X509_set_pubkey(x, pkey));
	X509_NAME *name = X509_get_subject_name(x);
	cr_assert(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
	                                     -1, -1, 0));
	cr_assert(X509_set_issuer_name(x, name));
	cr_assert(X509_sign(x, pkey, EVP_sha256()) > 0);
	FILE *f = fopen(cert, "w");
	cr_assert_not_null(f);
	cr_assert(PEM_write_X509(f, x));
	cr_assert_eq(fclose(f), 0);
	f = fopen(key, "w");
	cr_assert_not_null(f);
	cr_assert(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL));
	cr_assert_eq(fclose(f), 0);
	X509_free(x);
	EVP_PKEY_free(pkey);
}

/* A valid certificate for CN=cn in the server's files (H.cert, H.key). */
static void install_cert(const char *cn)
{
	write_cert(cn, -60, 3600, H.cert, H.key);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
}

/* A TLS server with CN=cn in its files; with a store, the store is made
 * first (as the edge's main does) and lent to the server. */
static void start_with(const char *cn, bool shared_store)
{
	install_cert(cn);
	http_config cfg = base_config();
	cfg.tls_listen = "127.0.0.1:0";
	cfg.tls_cert = H.cert;
	cfg.tls_key = H.key;
	if (shared_store) {
		char err[512] = "";
		T.store = http_tls_store_new(H.cert, H.key, err, sizeof err);
		cr_assert_not_null(T.store, "http_tls_store_new: %s", err);
		cfg.tls_store = T.store;
	}
	start_server(&cfg);
}

/* --- the second server --------------------------------------------------------- */

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	event_base_loopbreak(T.base);
}

static void *second_main(void *arg)
{
	(void)arg;
	event_base_loop(T.base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static void start_second(http_tls_store *ts)
{
	http_config cfg = base_config();
	cfg.listen = NULL;
	cfg.tls_listen = "127.0.0.1:0";
	cfg.tls_store = ts;
	char err[256] = "";
	T.base = event_base_new();
	cr_assert_not_null(T.base);
	T.srv = http_server_new(T.base, &cfg, handler, NULL, err, sizeof err);
	cr_assert_not_null(T.srv, "second server: %s", err);
	cr_assert_eq(pipe2(T.stop, O_CLOEXEC), 0);
	T.stop_ev = event_new(T.base, T.stop[0], EV_READ, on_stop, NULL);
	cr_assert_not_null(T.stop_ev);
	cr_assert_eq(event_add(T.stop_ev, NULL), 0);
	cr_assert_eq(pthread_create(&T.thread, NULL, second_main, NULL), 0);
	T.running = true;
}

static void stop_second(void)
{
	if (!T.running)
		return;
	if (write(T.stop[1], "x", 1) != 1)
		abort();
	pthread_join(T.thread, NULL);
	T.running = false;
	http_server_free(T.srv);
	event_free(T.stop_ev);
	close(T.stop[0]);
	close(T.stop[1]);
	event_base_free(T.base);
}

/* --- the client --------------------------------------------------------------- */

/* Offers only http/1.1, so an answer comes over HTTP/1.1. */
static const tconn_tls h1_tls = {.alpn = "\x08http/1.1", .alpn_len = 9};

/* An HTTP/1.1 client over TLS with ALPN http/1.1. */
static void client_open_h1(h1client *cl, int port, const tconn_tls *tls)
{
	cr_assert(h1client_open_tls(cl, port, tls), "handshake failed: %s",
	          ERR_reason_error_string(cl->conn.tls_err));
}

/* The common name of the certificate the server sent, in out. */
static const char *peer_cn(const tconn *c, char *out, size_t cap)
{
	X509 *x = SSL_get1_peer_certificate(c->ssl);
	cr_assert_not_null(x, "no peer certificate");
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)cap);
	X509_free(x);
	cr_assert(n > 0, "no CN in the peer certificate");
	return out;
}

/* One keep-alive GET on cl; the status, once the whole answer (headers,
 * then content-length bytes) is read, so the next request starts clean. */
static int client_get(h1client *cl, const char *path)
{
	char req[256];
	snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nhost: edge\r\n\r\n", path);
	int want = cl->n + 1;
	h1client_send_str(cl, req);
	cr_assert(h1client_wait(cl, want), "connection closed before the answer");
	const h1client_resp *r = &cl->r[want - 1];
	cr_assert_not_null(h1client_header(r, "content-length"), "no content-length (%d)",
	                   r->status);
	return r->status;
}

/* Connects, checks the served CN and that a request is answered. */
static void expect_served(int p, const char *cn)
{
	h1client cl;
	char got[128];
	client_open_h1(&cl, p, &h1_tls);
	cr_assert_str_eq(peer_cn(&cl.conn, got, sizeof got), cn);
	cr_assert_eq(client_get(&cl, "/check"), 200);
	h1client_close(&cl);
}

/* A handshake offering only what the server must refuse (TLS 1.1, a CBC
 * suite); the first OpenSSL error, 0 when it succeeded.
 * This one stays here, outside tconn.h: to offer such versions and
 * suites at all the client must drop to OpenSSL's security level 0, and
 * the support clients should never offer them by mistake. With level 0
 * the refusal is the server's, not the client's. */
static unsigned long weak_handshake_refusal(int port, int min_version, int max_version,
                                            const char *ciphers)
{
	tconn c = {.fd = tconn_tcp_connect(port)};
	cr_assert(c.fd >= 0, "connect: %s", strerror(errno));
	c.ctx = SSL_CTX_new(TLS_client_method());
	cr_assert_not_null(c.ctx);
	SSL_CTX_set_security_level(c.ctx, 0);
	if (min_version)
		cr_assert_eq(SSL_CTX_set_min_proto_version(c.ctx, min_version), 1);
	cr_assert_eq(SSL_CTX_set_max_proto_version(c.ctx, max_version), 1);
	cr_assert_eq(SSL_CTX_set_cipher_list(c.ctx, ciphers ? ciphers : "DEFAULT:@SECLEVEL=0"), 1);
	c.ssl = SSL_new(c.ctx);
	cr_assert_not_null(c.ssl);
	cr_assert_eq(SSL_set_fd(c.ssl, c.fd), 1);
	ERR_clear_error();
	unsigned long err = 0;
	if (SSL_connect(c.ssl) != 1)
		err = ERR_peek_error();
	ERR_clear_error();
	tconn_close(&c);
	return err;
}

/* --- reload ---------------------------------------------------------------------- */

Test(http_tls, new_connections_get_the_reloaded_certificate_while_open_ones_keep_theirs)
{
	start_with("edge-one", false);
	char got[128], err[512] = "";
	h1client old;
	client_open_h1(&old, port(true), &h1_tls);
	cr_assert_str_eq(peer_cn(&old.conn, got, sizeof got), "edge-one");
	cr_assert_eq(client_get(&old, "/before"), 200);

	install_cert("edge-two");
	cr_assert_eq(http_server_reload_tls(H.srv, err, sizeof err), 0, "reload: %s", err);
	expect_served(port(true), "edge-two");

	/* The connection from before the reload carries on, on cert 1. */
	cr_assert_eq(client_get(&old, "/after"), 200);
	cr_assert_str_eq(peer_cn(&old.conn, got, sizeof got), "edge-one");
	h1client_close(&old);
}

Test(http_tls, reload_with_a_broken_key_keeps_the_current_certificate)
{
	start_with("edge-one", false);
	char err[512] = "";
	install_cert("edge-two");
	cr_assert_eq(http_server_reload_tls(H.srv, err, sizeof err), 0, "reload: %s", err);

	write_file(H.key, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
	err[0] = '\0';
	cr_assert_eq(http_server_reload_tls(H.srv, err, sizeof err), ERR_TLS);
	cr_assert_not_null(strstr(err, "private key"), "err: %s", err);
	expect_served(port(true), "edge-two");
}

Test(http_tls, reload_with_the_key_of_another_certificate_is_refused)
{
	start_with("edge-one", false);
	char err[512] = "";
	/* edge-two's certificate next to a key that is not its own, as when
	 * an operator has copied one file and not yet the other. */
	char other_cert[PATH_MAX + 32];
	snprintf(other_cert, sizeof other_cert, "%s/other-cert.pem", H.tmp);
	write_cert("edge-other", -60, 3600, other_cert, T.other_key);
	install_cert("edge-two");
	cr_assert_eq(rename(T.other_key, H.key), 0);
	cr_assert_eq(http_server_reload_tls(H.srv, err, sizeof err), ERR_TLS);
	cr_assert_not_null(strstr(err, "does not match"), "err: %s", err);
	expect_served(port(true), "edge-one");
}

Test(http_tls, reload_with_a_missing_certificate_is_refused)
{
	start_with("edge-one", false);
	char err[512] = "";
	cr_assert_eq(unlink(H.cert), 0);
	cr_assert_eq(http_server_reload_tls(H.srv, err, sizeof err), ERR_TLS);
	cr_assert_not_null(strstr(err, "certificate"), "err: %s", err);
	expect_served(port(true), "edge-one");
}

Test(http_tls, an_expired_certificate_is_reloaded_all_the_same)
{
	start_with("edge-one", false);
	char err[512] = "";
	write_cert("edge-expired", -7200, -3600, H.cert, H.key);
	cr_assert_eq(http_server_reload_tls(H.srv, err, sizeof err), 0, "reload: %s", err);
	expect_served(port(true), "edge-expired");
}

Test(http_tls, reload_without_a_tls_listener_is_an_error)
{
	http_config cfg = base_config();
	start_server(&cfg);
	char err[256] = "";
	cr_assert_eq(http_server_reload_tls(H.srv, err, sizeof err), ERR_INVAL);
	cr_assert_not_null(strstr(err, "TLS"), "err: %s", err);
}

Test(http_tls, workers_sharing_a_store_all_serve_the_reloaded_certificate)
{
	start_with("edge-one", true);
	start_second(T.store);
	int p2 = http_server_port(T.srv, true);
	cr_assert_gt(p2, 0);
	cr_assert_neq(p2, port(true));
	expect_served(port(true), "edge-one");
	expect_served(p2, "edge-one");

	install_cert("edge-two");
	char err[512] = "";
	cr_assert_eq(http_tls_store_reload(T.store, err, sizeof err), 0, "reload: %s", err);
	expect_served(port(true), "edge-two");
	expect_served(p2, "edge-two");
}

Test(http_tls, the_store_tells_when_its_certificate_expires_and_follows_a_reload)
{
	write_cert("edge-one", -60, 3600, H.cert, H.key);
	char err[512] = "";
	T.store = http_tls_store_new(H.cert, H.key, err, sizeof err);
	cr_assert_not_null(T.store, "http_tls_store_new: %s", err);
	double t, now = (double)time(NULL);
	cr_assert(http_tls_store_not_after(T.store, &t));
	cr_assert(t > now + 3590 && t < now + 3610, "not_after %.0f, now %.0f", t, now);
	write_cert("edge-two", -60, 86400, H.cert, H.key);
	cr_assert_eq(http_tls_store_reload(T.store, err, sizeof err), 0, "reload: %s", err);
	cr_assert(http_tls_store_not_after(T.store, &t));
	cr_assert(t > now + 86390 && t < now + 86410, "not_after %.0f after the reload", t);
}

Test(http_tls, store_with_a_mismatched_key_is_not_made)
{
	char other_cert[PATH_MAX + 32], err[512] = "";
	snprintf(other_cert, sizeof other_cert, "%s/other-cert.pem", H.tmp);
	install_cert("edge-one");
	write_cert("edge-other", -60, 3600, other_cert, T.other_key);
	http_tls_store *ts = http_tls_store_new(H.cert, T.other_key, err, sizeof err);
	cr_assert_null(ts);
	cr_assert_not_null(strstr(err, "does not match"), "err: %s", err);
}

/* --- modern defaults ------------------------------------------------------------ */

Test(http_tls, tls11_client_is_refused)
{
	start_with("edge-one", false);
	unsigned long err =
	    weak_handshake_refusal(port(true), TLS1_1_VERSION, TLS1_1_VERSION, NULL);
	cr_assert_neq(err, 0, "a TLS 1.1 handshake succeeded");
	/* The server's protocol_version alert, not a client-side refusal. */
	cr_assert_eq(ERR_GET_REASON(err), SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, "reason: %s",
	             ERR_reason_error_string(err));
}

Test(http_tls, tls12_with_a_non_aead_suite_is_refused)
{
	start_with("edge-one", false);
	/* CBC with HMAC-SHA1, for the server's ECDSA key (plain AES128-SHA
	 * uses RSA key exchange, which this certificate could not do
	 * anyway, so refusing it would prove nothing). */
	unsigned long err =
	    weak_handshake_refusal(port(true), 0, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA");
	cr_assert_neq(err, 0, "a CBC suite was accepted");
	cr_assert_eq(ERR_GET_REASON(err), SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, "reason: %s",
	             ERR_reason_error_string(err));
}

Test(http_tls, tls12_with_an_aead_suite_is_accepted)
{
	start_with("edge-one", false);
	h1client cl;
	tconn_tls o = {.min_version = TLS1_2_VERSION,
	               .max_version = TLS1_2_VERSION,
	               .ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256",
	               .alpn = "\x08http/1.1",
	               .alpn_len = 9};
	client_open_h1(&cl, port(true), &o);
	cr_assert_eq(SSL_version(cl.conn.ssl), TLS1_2_VERSION);
	cr_assert_eq(client_get(&cl, "/tls12"), 200);
	h1client_close(&cl);
}

Test(http_tls, alpn_picks_h2_when_offered_even_second)
{
	start_with("edge-one", false);
	h2client cl;
	char got[32];
	cr_assert(h2client_open(&cl, port(true), true, "\x08http/1.1\x02h2", 12),
	          "handshake failed: %s", ERR_reason_error_string(cl.conn.tls_err));
	cr_assert_str_eq(tconn_alpn(&cl.conn, got, sizeof got), "h2");
	h2client_close(&cl);
}

Test(http_tls, alpn_http11_alone_negotiates_http11)
{
	start_with("edge-one", false);
	h1client cl;
	char got[32];
	client_open_h1(&cl, port(true), &h1_tls);
	cr_assert_str_eq(tconn_alpn(&cl.conn, got, sizeof got), "http/1.1");
	cr_assert_eq(client_get(&cl, "/h1"), 200);
	pthread_mutex_lock(&H.mu);
	bool tls = H.last_tls, h1 = H.last_h1;
	pthread_mutex_unlock(&H.mu);
	cr_assert(tls && h1);
	h1client_close(&cl);
}

/* --- HTTP/2 connection errors over TLS (RFC 9113) ------------------------- */

/* Raw frames over TLS with ALPN h2: a connection, no HTTP/2 session. */
static const tconn_tls h2_tls = {.alpn = "\x02h2", .alpn_len = 3};

static void tls_send(tconn *c, const void *p, size_t n)
{
	cr_assert(tconn_write(c, p, n));
}

Test(http_tls, a_wrong_preface_is_goaway_protocol_error)
{
	start_with("edge-one", false);
	tconn c;
	cr_assert(tconn_open(&c, port(true), &h2_tls));
	tls_send(&c, "PRI * HTTP/2.0\r\n\r\nSX\r\n\r\n", 24);
	cr_assert_eq(h2client_read_goaway(&c, WAIT_MS), 1, "GOAWAY(PROTOCOL_ERROR)");
	tconn_close(&c);
}

Test(http_tls, a_headers_frame_on_a_lower_stream_id_is_goaway_protocol_error)
{
	start_with("edge-one", false);
	tconn c;
	cr_assert(tconn_open(&c, port(true), &h2_tls));
	static const unsigned char settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
	/* GET / over https from HPACK's static table, END_STREAM|END_HEADERS. */
	static const unsigned char five[12] = {0, 0, 3, 1, 5, 0, 0, 0, 5, 0x82, 0x87, 0x84};
	static const unsigned char three[12] = {0, 0, 3, 1, 5, 0, 0, 0, 3, 0x82, 0x87, 0x84};
	tls_send(&c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	tls_send(&c, settings, sizeof settings);
	tls_send(&c, five, sizeof five);
	tls_send(&c, three, sizeof three);
	cr_assert_eq(h2client_read_goaway(&c, WAIT_MS), 1, "GOAWAY(PROTOCOL_ERROR)");
	tconn_close(&c);
}
