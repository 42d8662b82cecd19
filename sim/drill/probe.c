/* probe.c - `sim converge-probe` (probe.h): likes at one edge, polls of
 * another, and the time between A's ack and B's first answer showing it.
 *
 * Talks HTTP/1.1 over one kept-alive loopback connection per edge
 * (reopened once when the edge closed it between two requests). Answers
 * must carry Content-Length, as the edge's and evhttp's do; headers are
 * capped at HDR_MAX and bodies at PROBE_BODY_MAX. Owns its two
 * connections, the list of likes waiting to show and the samples.
 * Single-threaded: the caller's thread.
 */
#include "sim/drill/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "item.h"
#include "log.h"
#include "sbuf.h"
#include "xmem.h"

#define HDR_MAX (16u << 10)
#define REQ_MAX (8u << 10)

/* Sleeps until clock_mono_us() reaches t (the same clock, CLOCK_MONOTONIC;
 * an absolute wait, so an interrupted one resumes without drifting). */
static void sleep_until_us(uint64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / 1000000u),
	                      .tv_nsec = (long)(t % 1000000u) * 1000};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* --- one kept-alive HTTP/1.1 connection --------------------------------- */

typedef struct hconn {
	int port;
	int fd;    /* -1 when closed */
	char *buf; /* the answer being read: HDR_MAX + PROBE_BODY_MAX + 1 */
	size_t len;
} hconn;

static void hconn_init(hconn *c, int port)
{
	c->port = port;
	c->fd = -1;
	c->buf = xmalloc(HDR_MAX + PROBE_BODY_MAX + 1);
	c->len = 0;
}

static void hconn_close(hconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void hconn_free(hconn *c)
{
	hconn_close(c);
	free(c->buf);
	c->buf = NULL;
}

/* Waits for events on fd until deadline (us): 0, ERR_TIMEOUT or ERR_IO. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = clock_mono_us();
		if (now >= deadline)
			return ERR_TIMEOUT;
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, (int)((deadline - now + 999) / 1000));
		if (r > 0)
			return 0; /* errors and hangups show in the next call */
		if (r < 0 && errno != EINTR)
			return ERR_IO;
	}
}

static int hconn_open(hconn *c, uint64_t deadline)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ERR_IO;
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		int rc = errno == EINPROGRESS ? wait_fd(fd, POLLOUT, deadline) : ERR_IO;
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (rc == 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr))
			rc = ERR_IO;
		if (rc) {
			close(fd);
			return rc;
		}
	}
	c->fd = fd;
	return 0;
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rc = wait_fd(fd, POLLOUT, deadline);
			if (rc)
				return rc;
		} else {
			return ERR_IO;
		}
	}
	return 0;
}

/* The value of header name in the header block hdr (NUL-terminated,
 * lines ending in CRLF), or NULL; *vlen gets its length. */
static const char *header_value(const char *hdr, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	for (const char *line = strstr(hdr, "\r\n"); line; line = strstr(line, "\r\n")) {
		line += 2;
		if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			const char *e = strstr(v, "\r\n");
			*vlen = e ? (size_t)(e - v) : strlen(v);
			return v;
		}
	}
	return NULL;
}

/* Reads one whole answer off c. 0 with *status and the body (in c->buf,
 * NUL-terminated, valid until the next request); ERR_CLOSED when the
 * edge closed before sending a byte; ERR_IO, ERR_TIMEOUT, ERR_CORRUPT for
 * an answer we cannot read, ERR_TOOBIG above the caps. */
static int read_answer(hconn *c, uint64_t deadline, int *status, const char **body, size_t *blen,
                       bool *close_after)
{
	c->len = 0;
	size_t hdr_end = 0, want = 0;
	for (;;) {
		if (hdr_end && c->len >= want)
			break;
		size_t room = hdr_end ? want - c->len : HDR_MAX - c->len;
		if (room == 0)
			return ERR_TOOBIG; /* headers never ended */
		ssize_t r = recv(c->fd, c->buf + c->len, room, 0);
		if (r == 0)
			return c->len ? ERR_IO : ERR_CLOSED;
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				return c->len ? ERR_IO : ERR_CLOSED;
			int rc = wait_fd(c->fd, POLLIN, deadline);
			if (rc)
				return rc;
			continue;
		}
		c->len += (size_t)r;
		if (hdr_end)
			continue;
		c->buf[c->len] = '\0';
		char *e = strstr(c->buf, "\r\n\r\n");
		if (!e)
			continue;
		hdr_end = (size_t)(e - c->buf) + 4;
		e[2] = '\0'; /* the header block keeps its last CRLF */
		int code;
		if (sscanf(c->buf, "HTTP/1.%*1[01] %3d", &code) != 1 || code < 100 || code > 599)
			return ERR_CORRUPT;
		*status = code;
		size_t vl;
		const char *v = header_value(c->buf, "connection", &vl);
		*close_after = v && vl == 5 && strncasecmp(v, "close", 5) == 0;
		v = header_value(c->buf, "content-length", &vl);
		if (!v || vl == 0 || vl > 9 || strspn(v, "0123456789") < vl)
			return ERR_CORRUPT; /* we never ask for a chunked answer */
		size_t cl = (size_t)strtoul(v, NULL, 10);
		if (cl > PROBE_BODY_MAX)
			return ERR_TOOBIG;
		want = hdr_end + cl;
		if (c->len > want)
			return ERR_CORRUPT; /* bytes after the answer: not ours */
	}
	c->buf[want] = '\0';
	*body = c->buf + hdr_end;
	*blen = want - hdr_end;
	return 0;
}

/* One request on c (reopened when needed): 0 with *status and the body
 * as in read_answer, or an ERR_*; the connection is closed after any
 * failure. A request on a kept connection that the edge had closed is
 * sent once more on a new one. */
static int hconn_request(hconn *c, const char *req, size_t reqlen, unsigned timeout_ms, int *status,
                         const char **body, size_t *blen)
{
	uint64_t deadline = clock_mono_us() + (uint64_t)timeout_ms * 1000u;
	for (int attempt = 0;; attempt++) {
		bool reused = c->fd >= 0;
		int rc = reused ? 0 : hconn_open(c, deadline);
		bool close_after = false;
		if (rc == 0)
			rc = send_all(c->fd, req, reqlen, deadline);
		if (rc == 0)
			rc = read_answer(c, deadline, status, body, blen, &close_after);
		if (rc == 0) {
			if (close_after)
				hconn_close(c);
			return 0;
		}
		hconn_close(c);
		if (!(reused && attempt == 0 && (rc == ERR_CLOSED || rc == ERR_IO)))
			return rc == ERR_CLOSED ? ERR_IO : rc;
	}
}

/* --- the edge's answers -------------------------------------------------- */

/* "count" of a single count answer: 0 or ERR_CORRUPT. */
static int parse_count(const char *body, size_t len, uint64_t *count)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr);
	json_t *n = root ? json_object_get(root, "count") : NULL;
	int rc = ERR_CORRUPT;
	if (json_is_integer(n) && json_integer_value(n) >= 0) {
		*count = (uint64_t)json_integer_value(n);
		rc = 0;
	}
	json_decref(root);
	return rc;
}

/* A like's answer: 0 when the like was new ("changed": true). */
static int parse_like(const char *body, size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr);
	int rc = json_is_true(json_object_get(root, "changed")) ? 0 : ERR_CONFLICT;
	json_decref(root);
	return rc;
}

/* --- the run ------------------------------------------------------------- */

typedef struct pending {
	char item[ITEM_MAX + 1];
	uint64_t base;   /* B's count before the like */
	uint64_t ack_us; /* when A's answer arrived */
	uint64_t due_us; /* when B is asked about it next */
	bool seen;       /* shown at B: dropped at the end of this poll */
} pending;

typedef struct run {
	const probe_opts *o;
	probe_result *r;
	hconn a, b;
	pending *pend;
	size_t npend;
	size_t *due; /* poll_all's: the indexes of the likes it asks about */
	double *samples;
	size_t nsamples, cap;
	uint64_t seq;
	char req[REQ_MAX];
} run;

static bool valid_prefix(const char *s, bool id)
{
	size_t n = strlen(s);
	if (n > PROBE_PREFIX_MAX)
		return false;
	if (n == 0)
		return true;
	return id ? item_id_valid(s, n) : item_user_valid(s, n);
}

static int check_opts(const probe_opts *o, char *err, size_t errlen)
{
	const char *bad = NULL;
	if (o->port_a < 1 || o->port_a > 65535 || o->port_b < 1 || o->port_b > 65535)
		bad = "ports are 1..65535";
	else if (!o->type || !item_type_valid(o->type, strlen(o->type)))
		bad = "item type is not [a-z0-9_]{1,32}";
	else if (!o->counter || !item_counter_valid(o->counter, strlen(o->counter)))
		bad = "counter is not [a-z0-9_]{1,32}";
	else if (!o->id_prefix || !valid_prefix(o->id_prefix, true))
		bad = "id prefix is not [A-Za-z0-9_-]{0,40}";
	else if (!o->user_prefix || !valid_prefix(o->user_prefix, false))
		bad = "user prefix is not 0..40 bytes of a user id";
	else if (o->duration_ms < 1 || o->duration_ms > 86400000u)
		bad = "duration is 1..86400000 ms";
	else if (o->interval_ms < 1 || o->interval_ms > 60000u)
		bad = "interval is 1..60000 ms";
	else if (o->poll_ms < 1 || o->poll_ms > 1000u)
		bad = "poll interval is 1..1000 ms";
	else if (o->poll_frac > 1000u)
		bad = "poll fraction is 0..1000";
	else if (o->timeout_ms < 1 || o->timeout_ms > 3600000u)
		bad = "timeout is 1..3600000 ms";
	else if (o->batch_items < 1 || o->batch_items > PROBE_BATCH_ITEMS_MAX)
		bad = "batch items are 1..100";
	else if (o->max_pending < 1 || o->max_pending > PROBE_PENDING_MAX)
		bad = "max pending is 1..10000";
	else if (o->http_timeout_ms < 1 || o->http_timeout_ms > 600000u)
		bad = "request timeout is 1..600000 ms";
	if (bad) {
		snprintf(err, errlen, "%s", bad);
		return ERR_INVAL;
	}
	return 0;
}

static int request(run *ru, hconn *c, const char *method, const char *path, const char *user,
                   int *status, const char **body, size_t *blen)
{
	int n;
	if (user)
		n = snprintf(ru->req, sizeof ru->req,
		             "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-User-Id: %s\r\n"
		             "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		             method, path, c->port, user);
	else
		n = snprintf(ru->req, sizeof ru->req,
		             "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", method, path, c->port);
	if (n < 0 || (size_t)n >= sizeof ru->req)
		return ERR_TOOBIG;
	return hconn_request(c, ru->req, (size_t)n, ru->o->http_timeout_ms, status, body, blen);
}

/* Reads the baseline at B and likes a fresh item at A; on success the
 * like joins the pending list. */
static void like_one(run *ru)
{
	const probe_opts *o = ru->o;
	uint64_t n = ru->seq++;
	pending *p = &ru->pend[ru->npend];
	char id[ITEM_ID_MAX + 1], user[USER_MAX + 1], path[256];
	snprintf(id, sizeof id, "%s%" PRIu64, o->id_prefix, n);
	snprintf(user, sizeof user, "%s%" PRIu64, o->user_prefix, n);
	snprintf(p->item, sizeof p->item, "%s:%s", o->type, id);
	snprintf(path, sizeof path, "/v1/items/%s/%s/%s", o->type, id, o->counter);

	int status;
	const char *body;
	size_t blen;
	int rc = request(ru, &ru->b, "GET", path, NULL, &status, &body, &blen);
	if (rc == 0 && status != 200)
		rc = ERR_AGAIN;
	if (rc == 0)
		rc = parse_count(body, blen, &p->base);
	if (rc) {
		ru->r->errors++;
		log_warn("baseline read failed", "item=%s status=%d err=\"%s\"", p->item,
		         rc == ERR_AGAIN ? status : 0, err_str(rc));
		return;
	}
	rc = request(ru, &ru->a, "POST", path, user, &status, &body, &blen);
	p->ack_us = clock_mono_us();
	if (rc == 0 && (status < 200 || status > 299))
		rc = ERR_AGAIN;
	if (rc == 0)
		rc = parse_like(body, blen);
	if (rc) {
		ru->r->errors++;
		log_warn("like failed", "item=%s user=%s status=%d err=\"%s\"", p->item, user,
		         rc == ERR_AGAIN ? status : 0, err_str(rc));
		return;
	}
	ru->r->likes++;
	p->due_us = p->ack_us;
	p->seen = false;
	ru->npend++;
}

static void add_sample(run *ru, double ms)
{
	if (ru->nsamples == ru->cap) {
		ru->cap = ru->cap ? ru->cap * 2 : 256;
		ru->samples = xrealloc(ru->samples, ru->cap * sizeof *ru->samples);
	}
	ru->samples[ru->nsamples++] = ms;
}

/* Asks B for the pending likes at idx[0..n) in one batch GET; those
 * that show are recorded and marked seen. */
static void poll_batch(run *ru, const size_t *idx, size_t n)
{
	sbuf path;
	sbuf_init(&path);
	sbuf_adds(&path, "/v1/counts?items=");
	for (size_t i = 0; i < n; i++) {
		if (i)
			sbuf_add(&path, ",", 1);
		sbuf_adds(&path, ru->pend[idx[i]].item);
	}
	sbuf_adds(&path, "&counters=");
	sbuf_adds(&path, ru->o->counter);
	sbuf_add(&path, "", 1); /* NUL */

	int status;
	const char *body;
	size_t blen;
	ru->r->polls++;
	int rc = request(ru, &ru->b, "GET", path.p, NULL, &status, &body, &blen);
	uint64_t seen_us = clock_mono_us();
	sbuf_free(&path);
	if (rc || (status != 200 && status != 503)) {
		/* 503: B knows none of these counts yet; any other answer is a
		 * failed poll. */
		ru->r->poll_errors++;
		log_warn("poll failed", "items=%zu status=%d err=\"%s\"", n, rc ? 0 : status,
		         err_str(rc));
		return;
	}
	if (status != 200)
		return;
	json_error_t jerr;
	json_t *root = json_loadb(body, blen, 0, &jerr);
	json_t *counts = json_object_get(root, "counts");
	if (!json_is_object(counts)) {
		ru->r->poll_errors++;
		log_warn("poll answer has no counts", "items=%zu", n);
		json_decref(root);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		pending *p = &ru->pend[idx[k]];
		json_t *c = json_object_get(json_object_get(counts, p->item), ru->o->counter);
		if (!json_is_integer(c) || json_integer_value(c) < 0 ||
		    (uint64_t)json_integer_value(c) <= p->base)
			continue;
		add_sample(ru, (double)(seen_us - p->ack_us) / 1000.0);
		ru->r->visible++;
		p->seen = true;
	}
	json_decref(root);
}

/* When a like not yet seen at `now` is asked about next: after the poll
 * interval, or after 1/poll_frac of its age when that is longer. */
static uint64_t next_due(const run *ru, const pending *p, uint64_t now)
{
	uint64_t wait = (uint64_t)ru->o->poll_ms * 1000u;
	if (ru->o->poll_frac) {
		uint64_t rel = (now - p->ack_us) / ru->o->poll_frac;
		if (rel > wait)
			wait = rel;
	}
	return now + wait;
}

/* One poll of every pending like that is due, batch_items at a time;
 * then drops the likes seen and those past their timeout. A like's next
 * turn counts from this poll's start, as the run loop's next poll does:
 * counted from its end, a young like would miss every other poll. */
static void poll_all(run *ru)
{
	size_t bi = ru->o->batch_items, n = 0;
	uint64_t start = clock_mono_us();
	for (size_t i = 0; i < ru->npend; i++)
		if (ru->pend[i].due_us <= start)
			ru->due[n++] = i;
	for (size_t at = 0; at < n; at += bi)
		poll_batch(ru, ru->due + at, n - at < bi ? n - at : bi);
	for (size_t k = 0; k < n; k++) {
		pending *p = &ru->pend[ru->due[k]];
		if (!p->seen)
			p->due_us = next_due(ru, p, start);
	}
	uint64_t now = clock_mono_us();
	uint64_t limit = (uint64_t)ru->o->timeout_ms * 1000u;
	size_t keep = 0;
	for (size_t i = 0; i < ru->npend; i++) {
		pending *p = &ru->pend[i];
		if (p->seen)
			continue;
		if (now - p->ack_us > limit) {
			ru->r->timed_out++;
			log_warn("like not visible in time", "item=%s timeout_ms=%u", p->item,
			         ru->o->timeout_ms);
			continue;
		}
		if (keep != i)
			ru->pend[keep] = *p;
		keep++;
	}
	ru->npend = keep;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void probe_sort(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
}

double probe_quantile(const double *sorted, size_t n, double q)
{
	if (n == 0)
		return 0;
	double rank = q * (double)n;
	size_t k = (size_t)rank;
	if ((double)k < rank)
		k++; /* ceil */
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return sorted[k - 1];
}

static void summarize(run *ru)
{
	probe_result *r = ru->r;
	size_t n = ru->nsamples;
	if (n == 0)
		return;
	probe_sort(ru->samples, n);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += ru->samples[i];
	r->min_ms = ru->samples[0];
	r->max_ms = ru->samples[n - 1];
	r->mean_ms = sum / (double)n;
	r->p50_ms = probe_quantile(ru->samples, n, 0.50);
	r->p90_ms = probe_quantile(ru->samples, n, 0.90);
	r->p99_ms = probe_quantile(ru->samples, n, 0.99);
}

void probe_opts_default(probe_opts *o)
{
	static char ids[32], users[32];
	snprintf(ids, sizeof ids, "cvg%d-", (int)getpid());
	snprintf(users, sizeof users, "cvgu%d-", (int)getpid());
	*o = (probe_opts){
	    .type = "post",
	    .counter = "likes",
	    .id_prefix = ids,
	    .user_prefix = users,
	    .duration_ms = 10000,
	    .interval_ms = 20,
	    .poll_ms = 2,
	    .poll_frac = 100,
	    .timeout_ms = 30000,
	    .batch_items = PROBE_BATCH_ITEMS_MAX,
	    .max_pending = 1000,
	    .http_timeout_ms = 2000,
	};
}

int probe_run(const probe_opts *o, probe_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	r->poll_ms = o->poll_ms;
	r->poll_frac = o->poll_frac;
	int rc = check_opts(o, err, errlen);
	if (rc)
		return rc;
	run ru = {.o = o, .r = r};
	hconn_init(&ru.a, o->port_a);
	hconn_init(&ru.b, o->port_b);
	ru.pend = xcalloc(o->max_pending, sizeof *ru.pend);
	ru.due = xcalloc(o->max_pending, sizeof *ru.due);

	uint64_t start = clock_mono_us();
	uint64_t stop_liking = start + (uint64_t)o->duration_ms * 1000u;
	uint64_t every = (uint64_t)o->interval_ms * 1000u,
	         poll_every = (uint64_t)o->poll_ms * 1000u;
	uint64_t next_like = start, next_poll = start;
	for (;;) {
		uint64_t now = clock_mono_us();
		bool liking = now < stop_liking;
		if (!liking && ru.npend == 0)
			break;
		if (liking && now >= next_like) {
			if (ru.npend < o->max_pending)
				like_one(&ru);
			else
				r->skipped++;
			next_like += every;
			if (next_like < now)
				next_like = now; /* fell behind: no burst to catch up */
		}
		now = clock_mono_us();
		if (ru.npend && now >= next_poll) {
			next_poll = now + poll_every;
			poll_all(&ru);
		}
		uint64_t wake = ru.npend ? next_poll : UINT64_MAX;
		if (liking && next_like < wake)
			wake = next_like;
		if (!liking && wake == UINT64_MAX)
			continue; /* nothing pending: the loop ends */
		if (wake > clock_mono_us())
			sleep_until_us(wake);
	}
	summarize(&ru);
	free(ru.samples);
	free(ru.pend);
	free(ru.due);
	hconn_free(&ru.a);
	hconn_free(&ru.b);
	return 0;
}

void probe_print_table(FILE *f, const probe_result *r)
{
	fprintf(f, "convergence (ack at edge A -> visible at edge B), a like polled every %u ms",
	        r->poll_ms);
	if (r->poll_frac)
		fprintf(f, " or 1/%u of its age", r->poll_frac);
	fprintf(f,
	        ":\n"
	        "  likes %" PRIu64 ", visible %" PRIu64 ", timed out %" PRIu64 ", errors %" PRIu64
	        ", skipped %" PRIu64 ", polls %" PRIu64 " (%" PRIu64 " failed)\n",
	        r->likes, r->visible, r->timed_out, r->errors, r->skipped, r->polls,
	        r->poll_errors);
	if (r->visible)
		fprintf(f, "  ms: min %.1f  p50 %.1f  p90 %.1f  p99 %.1f  max %.1f  mean %.1f\n",
		        r->min_ms, r->p50_ms, r->p90_ms, r->p99_ms, r->max_ms, r->mean_ms);
}

static void json_ms(FILE *f, const char *key, double v, bool have)
{
	if (have)
		fprintf(f, ",\"%s\":%.3f", key, v);
	else
		fprintf(f, ",\"%s\":null", key);
}

void probe_print_json(FILE *f, const probe_result *r)
{
	bool have = r->visible > 0;
	fprintf(f,
	        "{\"likes\":%" PRIu64 ",\"visible\":%" PRIu64 ",\"timed_out\":%" PRIu64
	        ",\"errors\":%" PRIu64 ",\"skipped\":%" PRIu64 ",\"polls\":%" PRIu64
	        ",\"poll_errors\":%" PRIu64 ",\"poll_ms\":%u,\"poll_frac\":%u",
	        r->likes, r->visible, r->timed_out, r->errors, r->skipped, r->polls, r->poll_errors,
	        r->poll_ms, r->poll_frac);
	json_ms(f, "convergence_min_ms", r->min_ms, have);
	json_ms(f, "convergence_p50_ms", r->p50_ms, have);
	json_ms(f, "convergence_p90_ms", r->p90_ms, have);
	json_ms(f, "convergence_p99_ms", r->p99_ms, have);
	json_ms(f, "convergence_max_ms", r->max_ms, have);
	json_ms(f, "convergence_mean_ms", r->mean_ms, have);
	fprintf(f, "}\n");
}
