/* fuzz_http.c - libFuzzer target for the edge's request path, from raw
 * HTTP/2 frames through the server (edge/http/http*.c, nghttp2), routing,
 * identity, JSON parsing and the ledger (edge/api/api*.c) down to LevelDB.
 *
 * LLVMFuzzerInitialize starts the real server on 127.0.0.1, port 0 (h2c
 * and HTTP/1.1), with the real API handler over a ledger whose store is
 * in a temp dir (removed at exit) and whose sealed batches are dropped;
 * dev identity is on, so X-User-Id writes reach the ledger, and group
 * commit is on as in the daemon's default. Each input is sent by a fresh
 * loopback client as the frames that follow the client connection
 * preface and an empty SETTINGS frame (so mutations explore frames, not
 * the preface), then the client shuts down its side. The server's loop
 * runs on this thread, alongside a read event on the client socket,
 * until the server closes the connection or 200 ms pass; then the client
 * closes. A crash, a sanitizer report or a leak is a finding.
 * Single-threaded: the loop runs only inside LLVMFuzzerTestOneInput.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "edge/api/api.h"
#include "edge/http/http.h"
#include "edge/ledger/ledger.h"
#include "tests/support/api_util.h"
#include "tests/support/ledger_sink.h"
#include "clock.h"
#include "log.h"
#include "store.h"

#define DEADLINE_MS 200

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	char dir[64];
	store *db;
	ledger *lg;
	api a;
	struct event_base *base;
	http_server *srv;
	int port;
	bool eof; /* the server closed the client's connection */
} F;

/* The client connection preface and an empty SETTINGS frame. */
static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                              "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
#define PREFACE_LEN (sizeof preface - 1)

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_http: %s: %s\n", what, detail);
	abort();
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	ledger_stats ls;
	ledger_get_stats(F.lg, &ls);
	fprintf(stderr, "fuzz_http: %llu requests handled, %llu ops accepted\n",
	        (unsigned long long)F.a.st.requests, (unsigned long long)ls.ops_accepted);
	http_server_free(F.srv);
	api_free(&F.a);
	guard_free(F.a.guard);
	item_free_names(F.a.types);
	counters_free(&F.a.counters);
	ledger_free(F.lg);
	store_close(F.db);
	event_base_free(F.base);
	if (F.dir[0])
		nftw(F.dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	log_threshold = -1; /* every refused request would log */
	signal(SIGPIPE, SIG_IGN);
	snprintf(F.dir, sizeof F.dir, "/tmp/fuzz_http.XXXXXX");
	if (!mkdtemp(F.dir))
		die("mkdtemp", strerror(errno));
	atexit(cleanup);

	store_opts so;
	store_opts_default(&so);
	so.cache_bytes = 1u << 20;
	so.write_buffer = 1u << 20;
	F.db = store_open(F.dir, &so, err, sizeof err);
	if (!F.db)
		die("store_open", err);
	/* A large budget: sealed batches are never confirmed here, and a
	 * full budget would turn every write into 503. */
	ledger_opts o = api_util_ledger_opts(4);
	o.edge_id = "fz";
	o.budget_bytes = 1ull << 30;
	F.lg = ledger_open(F.db, &o, err, sizeof err);
	if (!F.lg)
		die("ledger_open", err);
	F.base = event_base_new();
	if (!F.base)
		die("event_base_new", "failed");

	api_config cfg = api_util_config();
	cfg.max_items = cfg.max_ops = 100;
	cfg.member_entries = 64;
	if (api_util_prepare(&F.a, F.lg, "post,reel", "likes,saves", "views", cfg, err, sizeof err))
		die("api set-up", err);
	F.a.edge_id = "fz";
	F.a.base = F.base;
	F.a.group_commit = true;
	/* Limits on, loose enough that inputs still reach the ledger, tight
	 * enough that a few resets in one input hit the rapid-reset cut. */
	guard_config gc = {.user_writes_per_min = 100000,
	                   .addr_per_s = 1000000,
	                   .conns_per_addr = 4,
	                   .users = 512,
	                   .addrs = 512};
	F.a.guard = guard_new(&gc);
	if (api_init(&F.a))
		die("api_init", "failed");

	http_config hc = {.listen = "127.0.0.1:0",
	                  .max_body = 64 * 1024,
	                  .max_header_list = 16 * 1024,
	                  .max_streams = 100,
	                  .reset_burst = 4,
	                  .reset_rate = 1,
	                  .admission = guard_http_admission(F.a.guard)};
	F.srv = http_server_new(F.base, &hc, api_handle, &F.a, err, sizeof err);
	if (!F.srv)
		die("http_server_new", err);
	F.port = http_server_port(F.srv, false);
	if (F.port <= 0)
		die("http_server_port", "no port");
	return 0;
}

/* Drains what the server sent; notes the end of the connection. */
static void on_client_read(evutil_socket_t fd, short what, void *arg)
{
	char buf[16384];
	ssize_t n;

	(void)what;
	(void)arg;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		;
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		F.eof = true;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static int client_connect(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)F.port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		die("socket", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) && errno != EINPROGRESS)
		die("connect", strerror(errno));
	return fd;
}

/* Writes all of b, running the server's loop while the socket is full
 * (the server reads as it goes). False if the server went away. */
static bool client_write(int fd, const void *b, size_t n, uint64_t deadline)
{
	const char *p = b;

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return false;
		if (clock_mono_ms() > deadline)
			return false;
		event_base_loop(F.base, EVLOOP_NONBLOCK);
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t deadline = clock_mono_ms() + DEADLINE_MS;
	int fd = client_connect();
	struct event *rd = event_new(F.base, fd, EV_READ | EV_PERSIST, on_client_read, NULL);
	struct event *tm = evtimer_new(F.base, on_deadline, NULL);
	struct timeval tv = {0, DEADLINE_MS * 1000};

	if (!rd || !tm || event_add(rd, NULL) || evtimer_add(tm, &tv))
		die("event_new", "failed");
	F.eof = false;
	if (client_write(fd, preface, PREFACE_LEN, deadline) &&
	    client_write(fd, data, size, deadline))
		shutdown(fd, SHUT_WR);
	while (!F.eof && clock_mono_ms() < deadline)
		event_base_loop(F.base, EVLOOP_ONCE);
	event_free(rd);
	event_free(tm);
	close(fd);
	/* Let the server see the close and free the connection. */
	event_base_loop(F.base, EVLOOP_NONBLOCK);
	return 0;
}
