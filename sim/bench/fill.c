/* fill.c - `sim fill`: distinct items and users through an edge's
 * POST /v1/ops over HTTP/1.1 keep-alive (see fill.h for the plan).
 *
 * One poll() loop over a fixed set of non-blocking connections, each with
 * at most one request in flight (the edge's HTTP/1.1 answers one request
 * at a time per connection, so pipelining would buy nothing). A request is
 * built into its connection's buffer when the connection is free; the
 * answer is read until its Content-Length is in, capped at HDR_MAX for the
 * head and FILL_ANSWER_MAX for the body. A connection that fails is closed
 * and made again for its next request. Owns its sockets and buffers; runs
 * on the calling thread only.
 */
#include "sim/bench/fill.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "xmem.h"

#define HDR_MAX (16u << 10)
/* A request: the head, then at most FILL_OPS_MAX ops of bounded size. */
#define OP_MAX (48 + FILL_PREFIX_MAX + 20 + FILL_PREFIX_MAX)
#define OUT_MAX (512 + 2 * FILL_PREFIX_MAX + 20 + FILL_OPS_MAX * OP_MAX)
#define READ_STEP (16u << 10)

enum { C_FREE, C_CONNECTING, C_SENDING, C_READING };

typedef struct conn {
	int fd; /* -1 when closed */
	int state;
	char *out;
	size_t out_len, out_off;
	char *in;
	size_t in_len, in_cap;
	uint32_t nops;     /* ops in the request in flight */
	uint64_t deadline; /* of the request in flight, monotonic ms */
} conn;

typedef struct run {
	const fill_opts *o;
	fill_result *r;
	conn *c;
	uint32_t per;
	uint64_t nreq, next;
	char body[OUT_MAX];
} run;

void fill_opts_default(fill_opts *o)
{
	*o = (fill_opts){.items = 1000000,
	                 .users = 100000,
	                 .conns = 8,
	                 .timeout_ms = 10000,
	                 .item_prefix = "post:m",
	                 .user_prefix = "mu",
	                 .counter = "likes"};
}

uint32_t fill_per_request(const fill_opts *o)
{
	if (o->per_request)
		return o->per_request;
	if (!o->users)
		return 1;
	uint64_t per = (o->items + o->users - 1) / o->users;
	return per > FILL_OPS_MAX ? FILL_OPS_MAX : per < 1 ? 1 : (uint32_t)per;
}

/* A name part that is safe inside a JSON string and an HTTP header. */
static bool plain(const char *s, size_t max)
{
	if (!s || !*s || strlen(s) > max)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 127 || *s == '"' || *s == '\\')
			return false;
	return true;
}

static int check_opts(const fill_opts *o, char *err, size_t errlen)
{
	const char *why = NULL;
	if (o->port < 1 || o->port > 65535)
		why = "port out of range";
	else if (o->items < 1 || o->items > FILL_ITEMS_MAX)
		why = "items out of range";
	else if (o->users < 1 || o->users > o->items)
		why = "users must be 1..items";
	else if (o->per_request > FILL_OPS_MAX)
		why = "more ops per request than the edge takes";
	else if (o->conns < 1 || o->conns > FILL_CONNS_MAX)
		why = "connections out of range";
	else if (o->timeout_ms < 1)
		why = "timeout must be positive";
	else if (!plain(o->item_prefix, FILL_PREFIX_MAX) ||
	         !plain(o->user_prefix, FILL_PREFIX_MAX) || !plain(o->counter, FILL_PREFIX_MAX) ||
	         (o->home && !plain(o->home, FILL_PREFIX_MAX)))
		why = "prefixes, counter and home: 1-32 visible characters, no quote or backslash";
	if (why) {
		snprintf(err, errlen, "%s", why);
		return ERR_INVAL;
	}
	return 0;
}

/* --- requests ------------------------------------------------------------ */

/* Writes request number q into c->out. */
static void build_request(run *ru, conn *c, uint64_t q)
{
	const fill_opts *o = ru->o;
	uint64_t first = q * ru->per;
	uint64_t last = first + ru->per;
	if (last > o->items)
		last = o->items;
	size_t bl = (size_t)snprintf(ru->body, sizeof ru->body, "{\"ops\":[");
	for (uint64_t i = first; i < last; i++) {
		int n = snprintf(ru->body + bl, sizeof ru->body - bl,
		                 "%s{\"op\":\"add\",\"item\":\"%s%" PRIu64 "\",\"counter\":\"%s\"}",
		                 i > first ? "," : "", o->item_prefix, i, o->counter);
		bl += (size_t)n; /* OUT_MAX holds the longest op list */
	}
	bl += (size_t)snprintf(ru->body + bl, sizeof ru->body - bl, "]}");
	int hn = snprintf(c->out, OUT_MAX,
	                  "POST /v1/ops HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                  "X-User-Id: %s%" PRIu64 "\r\n%s%s%sContent-Type: application/json\r\n"
	                  "Content-Length: %zu\r\n\r\n",
	                  o->user_prefix, q % o->users, o->home ? "X-User-Home: " : "",
	                  o->home ? o->home : "", o->home ? "\r\n" : "", bl);
	memcpy(c->out + hn, ru->body, bl);
	c->out_len = (size_t)hn + bl;
	c->out_off = 0;
	c->in_len = 0;
	c->nops = (uint32_t)(last - first);
	ru->r->requests++;
	ru->r->ops += c->nops;
}

static void close_conn(conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* The request in flight on c ended without a usable answer. */
static void fail_request(run *ru, conn *c, const char *why)
{
	fill_result *r = ru->r;
	r->requests_failed++;
	r->conn_errors++;
	r->ops_failed += c->nops;
	if (r->conn_errors <= 5)
		log_warn("fill request failed", "port=%d why=\"%s\" errno=%d", ru->o->port, why,
		         errno);
	close_conn(c);
	c->state = C_FREE;
	c->nops = 0;
}

static int open_conn(run *ru, conn *c)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ERR_IO;
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ru->o->port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
		close(fd);
		return ERR_IO;
	}
	c->fd = fd;
	return 0;
}

/* Starts the next request on the free connection c. */
static void start_request(run *ru, conn *c)
{
	build_request(ru, c, ru->next++);
	c->deadline = clock_mono_ms() + ru->o->timeout_ms;
	if (c->fd < 0) {
		if (open_conn(ru, c)) {
			fail_request(ru, c, "connect");
			return;
		}
		c->state = C_CONNECTING;
		return;
	}
	c->state = C_SENDING;
}

/* --- answers ------------------------------------------------------------- */

/* Counts the per-op statuses of a /v1/ops answer body. */
static void count_ops(const char *b, size_t n, uint64_t *ok, uint64_t *bad, uint64_t *same)
{
	static const char st[] = "\"status\":", ch[] = "\"changed\":false";
	const char *end = b + n;
	for (const char *p = b; p < end; p++) {
		if (*p != '"')
			continue;
		size_t left = (size_t)(end - p);
		if (left > sizeof st - 1 && memcmp(p, st, sizeof st - 1) == 0) {
			const char *d = p + sizeof st - 1;
			if (end - d >= 4 && memcmp(d, "200", 3) == 0 && (d[3] < '0' || d[3] > '9'))
				(*ok)++;
			else
				(*bad)++;
		} else if (left >= sizeof ch - 1 && memcmp(p, ch, sizeof ch - 1) == 0) {
			(*same)++;
		}
	}
}

/* A header's value in the head [h, h + n) (case-insensitive name), or NULL. */
static const char *header(const char *h, size_t n, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *end = h + n;
	const char *line = memchr(h, '\n', n); /* skip the status line */
	while (line && line + 1 < end) {
		line++;
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			break;
		if ((size_t)(eol - line) > nl && line[nl] == ':' &&
		    strncasecmp(line, name, nl) == 0) {
			const char *v = line + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = eol;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		line = eol;
	}
	return NULL;
}

/* Done with the answer in c->in: 1 when complete and handled, 0 when more
 * bytes are needed, -1 when it cannot be a good answer (failed). */
static int try_answer(run *ru, conn *c)
{
	const char *h = c->in;
	const char *sep = memmem(h, c->in_len, "\r\n\r\n", 4);
	if (!sep) {
		if (c->in_len > HDR_MAX) {
			fail_request(ru, c, "answer head too long");
			return -1;
		}
		return 0;
	}
	size_t hl = (size_t)(sep - h) + 4;
	if (hl < 12 || memcmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ') {
		fail_request(ru, c, "not an HTTP/1 answer");
		return -1;
	}
	int status = 0;
	for (int i = 9; i < 12; i++) {
		if (h[i] < '0' || h[i] > '9') {
			fail_request(ru, c, "bad status");
			return -1;
		}
		status = status * 10 + (h[i] - '0');
	}
	size_t vl;
	const char *v = header(h, hl, "content-length", &vl);
	char num[24];
	if (!v || vl == 0 || vl >= sizeof num || header(h, hl, "transfer-encoding", &vl)) {
		fail_request(ru, c, "answer without a content-length");
		return -1;
	}
	memcpy(num, v, vl);
	num[vl] = '\0';
	char *e;
	unsigned long long clen = strtoull(num, &e, 10);
	if (*e || clen > FILL_ANSWER_MAX) {
		fail_request(ru, c, "bad content-length");
		return -1;
	}
	if (c->in_len < hl + clen)
		return 0;
	if (c->in_len > hl + clen) {
		fail_request(ru, c, "bytes after the answer");
		return -1;
	}
	fill_result *r = ru->r;
	const char *conn_hdr = header(h, hl, "connection", &vl);
	bool closing = conn_hdr && vl == 5 && strncasecmp(conn_hdr, "close", 5) == 0;
	if (status < 200 || status > 299) {
		r->requests_failed++;
		r->non_2xx++;
		r->ops_failed += c->nops;
		if (r->non_2xx <= 5)
			log_warn("fill answer not 2xx", "status=%d body=\"%.*s\"", status,
			         (int)(clen < 200 ? clen : 200), h + hl);
	} else {
		uint64_t ok = 0, bad = 0, same = 0;
		count_ops(h + hl, (size_t)clen, &ok, &bad, &same);
		if (ok > c->nops)
			ok = c->nops;
		r->ops_ok += ok;
		r->ops_failed += c->nops - ok;
		r->ops_unchanged += same;
		if (ok == c->nops && bad == 0) {
			r->requests_ok++;
		} else {
			r->requests_failed++;
			if (r->requests_failed - r->conn_errors - r->non_2xx <= 5)
				log_warn("fill ops refused", "ops=%u ok=%" PRIu64 " body=\"%.*s\"",
				         c->nops, ok, (int)(clen < 300 ? clen : 300), h + hl);
		}
	}
	c->state = C_FREE;
	c->nops = 0;
	c->in_len = 0;
	if (closing)
		close_conn(c);
	return 1;
}

/* --- the loop ------------------------------------------------------------ */

static void on_writable(run *ru, conn *c)
{
	if (c->state == C_CONNECTING) {
		int soerr = 0;
		socklen_t len = sizeof soerr;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr) {
			errno = soerr;
			fail_request(ru, c, "connect");
			return;
		}
		c->state = C_SENDING;
	}
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		fail_request(ru, c, "send");
		return;
	}
	c->state = C_READING;
}

static void on_readable(run *ru, conn *c)
{
	for (;;) {
		if (c->in_cap - c->in_len < READ_STEP) {
			if (c->in_cap >= HDR_MAX + FILL_ANSWER_MAX + READ_STEP) {
				fail_request(ru, c, "answer too long");
				return;
			}
			c->in_cap = c->in_cap ? c->in_cap * 2 : 2 * READ_STEP;
			c->in = xrealloc(c->in, c->in_cap);
		}
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n > 0) {
			c->in_len += (size_t)n;
			if (try_answer(ru, c) != 0)
				return;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		fail_request(ru, c, n == 0 ? "closed before the answer" : "recv");
		return;
	}
}

static void progress(run *ru, uint64_t t0, uint64_t now)
{
	if (!ru->o->progress)
		return;
	const fill_result *r = ru->r;
	double s = (double)(now - t0) / 1000.0;
	fprintf(ru->o->progress,
	        "fill t=%.1f requests=%" PRIu64 "/%" PRIu64 " ops=%" PRIu64 " ok=%" PRIu64
	        " failed=%" PRIu64 " rate=%.0f\n",
	        s, r->requests, ru->nreq, r->ops, r->ops_ok, r->requests_failed,
	        s > 0 ? (double)r->ops_ok / s : 0.0);
	fflush(ru->o->progress);
}

int fill_run(const fill_opts *o, fill_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	int rc = check_opts(o, err, errlen);
	if (rc)
		return rc;
	run ru = {.o = o, .r = r, .per = fill_per_request(o)};
	ru.nreq = (o->items + ru.per - 1) / ru.per;
	r->per_request = ru.per;
	ru.c = xcalloc(o->conns, sizeof *ru.c);
	struct pollfd *pfd = xcalloc(o->conns, sizeof *pfd);
	for (uint32_t i = 0; i < o->conns; i++) {
		ru.c[i].fd = -1;
		ru.c[i].out = xmalloc(OUT_MAX);
	}
	uint64_t t0 = clock_mono_ms(), next_progress = t0 + 1000;
	bool stopping = false;
	for (;;) {
		uint64_t now = clock_mono_ms();
		if (!stopping && ((o->max_ms && now - t0 >= o->max_ms) ||
		                  (o->max_failures && r->requests_failed >= o->max_failures))) {
			stopping = true;
			r->stopped_early = ru.next < ru.nreq;
		}
		int busy = 0;
		for (uint32_t i = 0; i < o->conns; i++) {
			conn *c = &ru.c[i];
			if (c->state == C_FREE && !stopping && ru.next < ru.nreq)
				start_request(&ru, c);
			if (c->state == C_FREE)
				continue;
			if (now >= c->deadline) {
				errno = ETIMEDOUT;
				fail_request(&ru, c, "timeout");
				continue;
			}
			pfd[busy].fd = c->fd;
			pfd[busy].events = c->state == C_READING ? POLLIN : POLLOUT;
			pfd[busy].revents = 0;
			busy++;
		}
		if (now >= next_progress) {
			progress(&ru, t0, now);
			next_progress = now + 1000;
		}
		if (busy == 0) {
			if (stopping || ru.next >= ru.nreq)
				break;
			continue; /* every connection failed at once: start again */
		}
		int n = poll(pfd, (nfds_t)busy, 100);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "poll: %s", strerror(errno));
			rc = ERR_IO;
			break;
		}
		if (n == 0)
			continue;
		/* pfd[k] belongs to the k-th busy connection, in the same order. */
		int k = 0;
		for (uint32_t i = 0; i < o->conns && k < busy; i++) {
			conn *c = &ru.c[i];
			if (c->state == C_FREE || c->fd != pfd[k].fd)
				continue;
			short ev = pfd[k++].revents;
			if (!ev)
				continue;
			if (c->state == C_READING)
				on_readable(&ru, c);
			else
				on_writable(&ru, c);
		}
	}
	r->seconds = (double)(clock_mono_ms() - t0) / 1000.0;
	r->items = r->ops;
	r->users = r->requests < o->users ? r->requests : o->users;
	progress(&ru, t0, clock_mono_ms());
	for (uint32_t i = 0; i < o->conns; i++) {
		close_conn(&ru.c[i]);
		free(ru.c[i].out);
		free(ru.c[i].in);
	}
	free(ru.c);
	free(pfd);
	return rc;
}

void fill_print(FILE *f, const fill_result *r)
{
	fprintf(f,
	        "items=%" PRIu64 "\nusers=%" PRIu64 "\nops_per_request=%u\nrequests=%" PRIu64
	        "\nrequests_ok=%" PRIu64 "\nrequests_failed=%" PRIu64 "\nconn_errors=%" PRIu64
	        "\nnon_2xx=%" PRIu64 "\nops=%" PRIu64 "\nops_ok=%" PRIu64 "\nops_failed=%" PRIu64
	        "\nops_unchanged=%" PRIu64 "\nseconds=%.3f\nlike_rate=%.0f\nstopped_early=%d\n",
	        r->items, r->users, r->per_request, r->requests, r->requests_ok, r->requests_failed,
	        r->conn_errors, r->non_2xx, r->ops, r->ops_ok, r->ops_failed, r->ops_unchanged,
	        r->seconds, r->seconds > 0 ? (double)r->ops_ok / r->seconds : 0.0,
	        r->stopped_early ? 1 : 0);
}
