/* http_server_util.h - the edge HTTP server under test, shared by
 * test_http.c, test_http1.c, test_http_both.c, test_http_guard.c,
 * test_http_tls.c, test_hclient.c and test_pace.c. Header-only, included once per
 * test file: its state, H, and its test handler are the file's fixture.
 *
 * start_server() runs an http_server on 127.0.0.1 port 0 with its own
 * event_base, whose loop runs in a pthread; the test thread is the
 * client. The loop thread runs commands the test sends over a pipe
 * (run_on_loop), so the test thread never touches the base while it runs
 * (libevent is built without locking here). The state of the fixture and
 * what the test handler saw live in H; each test process (Criterion forks
 * one per test) has its own, and .init/.fini make and remove a temp dir
 * for the throwaway TLS certificate.
 */
#ifndef TESTS_SUPPORT_HTTP_SERVER_UTIL_H
#define TESTS_SUPPORT_HTTP_SERVER_UTIL_H

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "edge/http/http.h"
#include "clock.h"
#include "tests/support/h2client.h"
#include "log.h"
#include "tests/support/testdir.h"
#include "xmem.h"

#define HTTP_SERVER_UTIL static __attribute__((unused))
#define WAIT_MS H2CLIENT_WAIT_MS

static struct {
	char tmp[PATH_MAX];
	char cert[PATH_MAX + 16], key[PATH_MAX + 16];
	struct event_base *base;
	http_server *srv;
	pthread_t thread;
	bool running;
	int cmd[2]; /* pipe: wakes the loop to run H.cmd_fn */
	struct event *cmd_ev;
	void (*cmd_fn)(void);
	atomic_bool cmd_done;
	atomic_int calls;           /* handler calls */
	atomic_int finished;        /* deferred answers finished by a timer */
	atomic_int alive_at_finish; /* http_deferred_alive just before, 1 or 0 */
	atomic_int seq;             /* orders handler calls against finishes */
	atomic_int finish_seq, after_seq;
	http_deferred *_Atomic held; /* "/hold": never finished by the server side */
	pthread_mutex_t mu;
	char last_method[16], last_path[256], last_peer[64];
	size_t last_body_len;
	bool last_tls, last_h1;
	uint64_t arrived[64]; /* each call's req->arrived_ns, the first 64 */
	int narrived;
} H = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* --- the test handler ------------------------------------------------------ */

typedef struct later {
	struct event *ev;
	http_deferred *d;
	char path[128];
} later;

/* Finishes a deferred answer from a timer, as the edge will once a count
 * comes back from elsewhere. */
HTTP_SERVER_UTIL void on_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	later *l = arg;
	atomic_store(&H.alive_at_finish, http_deferred_alive(l->d) ? 1 : 0);
	atomic_store(&H.finish_seq, atomic_fetch_add(&H.seq, 1));
	http_response resp;
	http_response_init(&resp);
	resp.status = 202;
	char body[160];
	int n = snprintf(body, sizeof body, "{\"deferred\":\"%s\"}", l->path);
	resp.body = xmemdup(body, (size_t)n);
	resp.body_len = (size_t)n;
	if (http_add_header(&resp, "x-deferred", "1") != 0)
		resp.status = 599;
	http_finish(l->d, &resp);
	event_free(l->ev);
	free(l);
	atomic_fetch_add(&H.finished, 1);
}

/* Answers a deferred path: "/defer/MS" MS ms later through http_defer
 * ("/keep/MS" the same, marked http_deferred_keep);
 * "/now" defers and finishes at once; "/hold" defers and leaves it to the
 * test (in H.held). False for any other path. */
HTTP_SERVER_UTIL bool handle_deferred(const http_request *req, http_response *resp)
{
	if (strncmp(req->path, "/defer/", 7) == 0 || strncmp(req->path, "/keep/", 6) == 0) {
		bool keep = req->path[1] == 'k';
		later *l = xcalloc(1, sizeof *l);
		snprintf(l->path, sizeof l->path, "%s", req->path);
		l->d = http_defer(req);
		if (keep)
			http_deferred_keep(l->d);
		l->ev = evtimer_new(H.base, on_later, l);
		long ms = strtol(req->path + (keep ? 6 : 7), NULL, 10);
		struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
		/* Criterion cannot assert off the test thread: crash instead. */
		if (!l->d || http_defer(req) || !l->ev || evtimer_add(l->ev, &tv) != 0)
			abort();
		resp->body = xstrdup("dropped"); /* the server must free this */
		resp->body_len = 7;
		return true;
	}
	if (strcmp(req->path, "/hold") == 0) {
		atomic_store(&H.held, http_defer(req));
		return true;
	}
	if (strcmp(req->path, "/now") == 0) {
		http_deferred *d = http_defer(req);
		http_response now;
		memset(&now, 0, sizeof now); /* zeroed means status 200 */
		now.body = xstrdup("{\"now\":true}");
		now.body_len = strlen(now.body);
		http_finish(d, &now);
		return true;
	}
	return false;
}

/* Test handler: "/echo" returns the request body; "/big/N" returns N
 * patterned bytes; "/created" answers 201; the deferred paths above;
 * "/after" notes when it ran; anything else a small JSON object. Every
 * answer that is not deferred carries x-path, x-peer, x-tls, x-h1, x-n
 * (the number of request headers) and x-in (the request's x-in header). */
HTTP_SERVER_UTIL void handler(void *ctx, const http_request *req, http_response *resp)
{
	(void)ctx;
	int seq = atomic_fetch_add(&H.seq, 1);
	atomic_fetch_add(&H.calls, 1);
	pthread_mutex_lock(&H.mu);
	snprintf(H.last_method, sizeof H.last_method, "%s", req->method);
	snprintf(H.last_path, sizeof H.last_path, "%s", req->path);
	snprintf(H.last_peer, sizeof H.last_peer, "%s", req->peer);
	H.last_body_len = req->body_len;
	H.last_tls = req->tls;
	H.last_h1 = req->h1;
	if (H.narrived < 64)
		H.arrived[H.narrived++] = req->arrived_ns;
	pthread_mutex_unlock(&H.mu);

	if (handle_deferred(req, resp))
		return;
	if (strcmp(req->path, "/after") == 0)
		atomic_store(&H.after_seq, seq);

	int bad = 0;
	bad |= http_add_header(resp, "x-path", req->path);
	bad |= http_add_header(resp, "x-peer", req->peer);
	bad |= http_add_header(resp, "x-tls", req->tls ? "1" : "0");
	bad |= http_add_header(resp, "x-h1", req->h1 ? "1" : "0");
	char nh[24];
	snprintf(nh, sizeof nh, "%zu", req->nheaders);
	bad |= http_add_header(resp, "x-n", nh);
	const http_header *in = http_find_header(req, "x-in");
	if (in)
		bad |= http_add_header(resp, "x-in", in->value);
	if (bad != 0)
		resp->status = 599;

	if (strcmp(req->path, "/echo") == 0) {
		resp->content_type = "application/octet-stream";
		if (req->body_len) {
			resp->body = xmemdup(req->body, req->body_len);
			resp->body_len = req->body_len;
		}
	} else if (strncmp(req->path, "/big/", 5) == 0) {
		size_t n = strtoul(req->path + 5, NULL, 10);
		resp->body = xmalloc(n);
		for (size_t i = 0; i < n; i++)
			resp->body[i] = (char)(i * 7 % 251);
		resp->body_len = n;
	} else {
		if (strcmp(req->path, "/created") == 0)
			resp->status = 201;
		char buf[400];
		int n = snprintf(buf, sizeof buf, "{\"method\":\"%s\",\"path\":\"%s\"}",
		                 req->method, req->path);
		resp->body = xmemdup(buf, (size_t)n);
		resp->body_len = (size_t)n;
	}
}

/* --- waiting ----------------------------------------------------------------- */

/* Polls cond every millisecond; false when ms pass first. */
HTTP_SERVER_UTIL bool wait_until(bool (*cond)(void *), void *arg, int ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)ms;
	while (!cond(arg)) {
		if (clock_mono_ms() > end)
			return false;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return true;
}

/* Conditions for wait_until: arg points at the count to reach. */
HTTP_SERVER_UTIL bool calls_reach(void *arg)
{
	return atomic_load(&H.calls) >= *(int *)arg;
}

HTTP_SERVER_UTIL bool finished_reach(void *arg)
{
	return atomic_load(&H.finished) >= *(int *)arg;
}

/* --- the server and its loop thread ------------------------------------------ */

HTTP_SERVER_UTIL void *loop_main(void *arg)
{
	(void)arg;
	event_base_loop(H.base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

HTTP_SERVER_UTIL http_config base_config(void)
{
	return (http_config){.listen = "127.0.0.1:0",
	                     .max_body = 64 * 1024,
	                     .max_header_list = 8192,
	                     .max_streams = 100};
}

HTTP_SERVER_UTIL void on_cmd(evutil_socket_t fd, short what, void *arg)
{
	(void)what, (void)arg;
	char b;
	if (read(fd, &b, 1) == 1 && H.cmd_fn) {
		H.cmd_fn();
		atomic_store(&H.cmd_done, true);
	}
}

HTTP_SERVER_UTIL bool cmd_done(void *arg)
{
	(void)arg;
	return atomic_load(&H.cmd_done);
}

/* Runs fn on the server's loop thread and waits for it. */
HTTP_SERVER_UTIL void run_on_loop(void (*fn)(void))
{
	H.cmd_fn = fn;
	atomic_store(&H.cmd_done, false);
	cr_assert_eq(write(H.cmd[1], "x", 1), 1);
	cr_assert(wait_until(cmd_done, NULL, WAIT_MS), "loop did not run the command");
}

HTTP_SERVER_UTIL void break_loop(void)
{
	event_base_loopbreak(H.base);
}

HTTP_SERVER_UTIL void start_server(const http_config *cfg)
{
	char err[256] = "";
	H.base = event_base_new();
	cr_assert_not_null(H.base);
	H.srv = http_server_new(H.base, cfg, handler, NULL, err, sizeof err);
	cr_assert_not_null(H.srv, "http_server_new: %s", err);
	cr_assert_eq(pipe2(H.cmd, O_CLOEXEC), 0);
	H.cmd_ev = event_new(H.base, H.cmd[0], EV_READ | EV_PERSIST, on_cmd, NULL);
	cr_assert_not_null(H.cmd_ev);
	cr_assert_eq(event_add(H.cmd_ev, NULL), 0);
	cr_assert_eq(pthread_create(&H.thread, NULL, loop_main, NULL), 0);
	H.running = true;
}

/* Stops the loop thread, then frees the server (closing every open
 * connection) and the base. A no-op when no server runs. */
HTTP_SERVER_UTIL void stop_server(void)
{
	if (!H.running)
		return;
	run_on_loop(break_loop);
	pthread_join(H.thread, NULL);
	H.running = false;
	http_server_free(H.srv);
	H.srv = NULL;
	event_free(H.cmd_ev);
	close(H.cmd[0]);
	close(H.cmd[1]);
	event_base_free(H.base);
	H.base = NULL;
}

/* The port a running server's listener is bound to. */
HTTP_SERVER_UTIL int port(bool tls)
{
	int p = http_server_port(H.srv, tls);
	cr_assert_gt(p, 0);
	return p;
}

/* --- TLS ----------------------------------------------------------------------- */

/* A self-signed P-256 certificate for CN=localhost in H.cert and H.key. */
HTTP_SERVER_UTIL void make_cert(void)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	cr_assert_not_null(pkey);
	X509 *x = X509_new();
	cr_assert_not_null(x);
	cr_assert(X509_set_version(x, 2));
	cr_assert(ASN1_INTEGER_set(X509_get_serialNumber(x), 1));
	cr_assert(X509_gmtime_adj(X509_getm_notBefore(x), -60));
	cr_assert(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	cr_assert(X509_set_pubkey(x, pkey));
	X509_NAME *name = X509_get_subject_name(x);
	cr_assert(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                     (const unsigned char *)"localhost", -1, -1, 0));
	cr_assert(X509_set_issuer_name(x, name));
	cr_assert(X509_sign(x, pkey, EVP_sha256()) > 0);
	FILE *f = fopen(H.cert, "w");
	cr_assert_not_null(f);
	cr_assert(PEM_write_X509(f, x));
	fclose(f);
	f = fopen(H.key, "w");
	cr_assert_not_null(f);
	cr_assert(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(pkey);
}

/* base_config() plus a TLS listener on port 0 with a fresh certificate. */
HTTP_SERVER_UTIL http_config tls_config(void)
{
	make_cert();
	http_config cfg = base_config();
	cfg.tls_listen = "127.0.0.1:0";
	cfg.tls_cert = H.cert;
	cfg.tls_key = H.key;
	return cfg;
}

HTTP_SERVER_UTIL void start_tls_server(void)
{
	http_config cfg = tls_config();
	start_server(&cfg);
}

/* --- the suite ------------------------------------------------------------- */

HTTP_SERVER_UTIL void suite_init(void)
{
	signal(SIGPIPE, SIG_IGN);
	const char *lvl = getenv("TEST_LOG_LEVEL"); /* e.g. debug, to trace a failure */
	cr_assert_eq(log_set_level(lvl ? lvl : "warn"), 0);
	/* /tmp/test_http.XXXXXX or /tmp/test_http1.XXXXXX: the binary's name */
	testdir_make(H.tmp, sizeof H.tmp, program_invocation_short_name);
	snprintf(H.cert, sizeof H.cert, "%s/cert.pem", H.tmp);
	snprintf(H.key, sizeof H.key, "%s/key.pem", H.tmp);
}

HTTP_SERVER_UTIL void suite_fini(void)
{
	stop_server();
	testdir_remove(H.tmp);
}

#endif
