/* pace.c - `sim pace` (pace.h): requests due on a schedule, sent over
 * HTTP/2 connections from one poll loop, each timed from its due time.
 *
 * Every request's due time is computed before the first is sent. Each
 * turn of the loop submits, per connection, the requests whose time has
 * come (while fewer than `depth` of its streams are open), serializes
 * what nghttp2 has to send into the connection's buffer and writes it,
 * then sleeps in ppoll() until the next due time or a socket is ready.
 * What arrives goes through nghttp2_session_mem_recv; a stream's close
 * records its latency with the clock read before that read. The timer
 * slack is set to 1 ns so the sleeps end when asked, not up to 50 us
 * later. Owns its sockets, sessions and arrays; the calling thread only.
 */
#include "sim/bench/pace.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "clock.h"
#include "err.h"
#include "xmem.h"

#define READ_STEP (64u << 10)
#define BODY_MAX 65536u
#define NO_ANSWER 0

typedef struct pconn {
	int fd; /* -1 once dead */
	nghttp2_session *s;
	uint32_t k;    /* its number: requests k, k + conns, ... */
	uint64_t next; /* its next request to submit */
	uint32_t open; /* streams open */
	uint64_t now;  /* the clock when its last read or write began */
	bool told;     /* its failure was said */
	char *out;     /* serialized, not yet written */
	size_t out_len, out_off, out_cap;
	struct run *run;
} pconn;

typedef struct run {
	const pace_opts *o;
	uint64_t n;         /* requests due */
	uint64_t *due;      /* per request: monotonic ns */
	uint64_t *lat;      /* per request: ns from due to close */
	uint32_t *late;     /* per request: us from due to submit */
	uint16_t *status;   /* per request: :status, or NO_ANSWER */
	uint32_t *body_off; /* per request: body bytes handed to nghttp2 */
	bool *done;         /* per request: closed, or given up */
	uint64_t resolved;
	uint64_t last_close;
	char **paths;
	size_t npaths;
	char *body;
	size_t body_len;
	char body_len_text[8];
	char authority[32];
	char (*users)[96];
	pconn *c;
} run;

/* --- set-up ------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap + 1);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
	}
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		snprintf(err, errlen, "%s: read error", path);
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

/* The paths of the file, one per line: a whole http(s) URL loses its
 * scheme and authority. */
static int load_paths(run *r, char *err, size_t errlen)
{
	size_t len;
	char *text = read_file(r->o->uris, &len, err, errlen);
	if (!text)
		return ERR_IO;
	size_t cap = 1024;
	r->paths = xmalloc(cap * sizeof *r->paths);
	for (char *line = text, *end; *line; line = end) {
		end = line + strcspn(line, "\r\n");
		char *next = end + strspn(end, "\r\n");
		*end = 0;
		char *p = line;
		char *scheme = strstr(p, "://");
		if (scheme && scheme == p + strcspn(p, ":/"))
			p = strchr(scheme + 3, '/');
		if (p && *p == '/') {
			if (r->npaths == cap) {
				cap *= 2;
				r->paths = xrealloc(r->paths, cap * sizeof *r->paths);
			}
			r->paths[r->npaths++] = xstrdup(p);
		}
		end = next;
	}
	free(text);
	if (!r->npaths) {
		snprintf(err, errlen, "%s: no path in it", r->o->uris);
		return ERR_IO;
	}
	return 0;
}

/* xorshift64*: the same gaps in every run. */
static double uniform01(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	uint64_t x = *s * UINT64_C(2685821657736338717);
	return ((double)(x >> 11) + 0.5) / 9007199254740992.0; /* (0, 1) */
}

static void schedule(run *r, uint64_t start)
{
	double gap = 1e9 / (double)r->o->rate, t = 0;
	uint64_t seed = UINT64_C(0x9e3779b97f4a7c15);
	for (uint64_t i = 0; i < r->n; i++) {
		r->due[i] = start + (uint64_t)t;
		t += r->o->poisson ? -log(uniform01(&seed)) * gap : gap;
	}
}

/* A connected, non-blocking socket to 127.0.0.1:port, or ERR_IO. */
static int dial(int port, char *err, size_t errlen)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return ERR_IO;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
		snprintf(err, errlen, "127.0.0.1:%d: %s", port, strerror(errno));
		close(fd);
		return ERR_IO;
	}
	return fd;
}

/* --- nghttp2's callbacks --------------------------------------------------------- */

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
	(void)flags;
	if (f->hd.type != NGHTTP2_HEADERS || namelen != 7 || memcmp(name, ":status", 7) != 0 ||
	    valuelen != 3)
		return 0;
	uintptr_t at = (uintptr_t)nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	pconn *c = ud;
	if (at)
		c->run->status[at - 1] =
		    (uint16_t)((value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0'));
	return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	pconn *c = ud;
	run *r = c->run;
	uintptr_t at = (uintptr_t)nghttp2_session_get_stream_user_data(s, id);
	if (!at)
		return 0;
	uint64_t i = at - 1;
	if (code != NGHTTP2_NO_ERROR)
		r->status[i] = NO_ANSWER; /* reset: not an answer */
	r->lat[i] = c->now > r->due[i] ? c->now - r->due[i] : 0;
	r->done[i] = true;
	r->resolved++;
	r->last_close = c->now;
	c->open--;
	return 0;
}

/* A request nghttp2 gave up before its HEADERS went out (a GOAWAY came
 * first): no answer will come, and it holds no stream. */
static int on_not_sent(nghttp2_session *s, const nghttp2_frame *f, int code, void *ud)
{
	(void)code;
	pconn *c = ud;
	run *r = c->run;
	if (f->hd.type != NGHTTP2_HEADERS)
		return 0;
	uintptr_t at = (uintptr_t)nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (!at || r->done[at - 1])
		return 0;
	r->status[at - 1] = NO_ANSWER;
	r->done[at - 1] = true;
	r->resolved++;
	c->open--;
	return 0;
}

/* The body, in as many pieces as the flow-control windows let through. */
static ssize_t body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	(void)ud;
	run *r = src->ptr;
	uintptr_t at = (uintptr_t)nghttp2_session_get_stream_user_data(s, id);
	if (!at)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	size_t off = r->body_off[at - 1], n = r->body_len - off;
	if (n > length)
		n = length;
	memcpy(buf, r->body + off, n);
	r->body_off[at - 1] = (uint32_t)(off + n); /* body_len <= BODY_MAX */
	if (off + n == r->body_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* --- connections ---------------------------------------------------------------- */

/* A connection that failed (why: in errno's or nghttp2's words): its
 * open streams and the requests it has not sent yet are given up (status
 * NO_ANSWER, timed to now), and its first failure is said on stderr. */
static void conn_dead(pconn *c, const char *why)
{
	run *r = c->run;
	if (c->fd < 0)
		return;
	close(c->fd);
	c->fd = -1;
	if (!c->told) {
		fprintf(stderr, "sim pace: connection %u: %s\n", c->k, why);
		c->told = true;
	}
	uint64_t now = clock_mono_ns();
	for (uint64_t i = c->k; i < r->n; i += r->o->conns)
		if (!r->done[i]) {
			r->status[i] = NO_ANSWER;
			r->lat[i] = now > r->due[i] ? now - r->due[i] : 0;
			r->done[i] = true;
			r->resolved++;
		}
	c->open = 0;
}

/* Serializes what nghttp2 has to send and writes as much as the socket
 * takes. */
static void conn_flush(pconn *c)
{
	if (c->fd < 0)
		return;
	const uint8_t *data;
	ssize_t n;
	c->now = clock_mono_ns(); /* for a stream that closes while sending */
	while ((n = nghttp2_session_mem_send(c->s, &data)) > 0) {
		if (c->out_len + (size_t)n > c->out_cap) {
			c->out_cap = (c->out_len + (size_t)n) * 2;
			c->out = xrealloc(c->out, c->out_cap);
		}
		memcpy(c->out + c->out_len, data, (size_t)n);
		c->out_len += (size_t)n;
	}
	if (n < 0) {
		conn_dead(c, nghttp2_strerror((int)n));
		return;
	}
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_dead(c, strerror(errno));
			return;
		}
		c->out_off += (size_t)w;
	}
	c->out_off = c->out_len = 0;
}

static void conn_read(pconn *c, uint8_t *buf)
{
	for (;;) {
		c->now = clock_mono_ns();
		ssize_t n = recv(c->fd, buf, READ_STEP, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_dead(c, n == 0 ? "closed by the server" : strerror(errno));
			return;
		}
		ssize_t used = nghttp2_session_mem_recv(c->s, buf, (size_t)n);
		if (used != n) {
			conn_dead(c, used < 0 ? nghttp2_strerror((int)used) : "input not taken");
			return;
		}
	}
}

/* Submits c's requests that are due while it has streams free. */
static void conn_submit(pconn *c)
{
	run *r = c->run;
	const pace_opts *o = r->o;
	uint64_t now = clock_mono_ns();
	while (c->fd >= 0 && c->next < r->n && r->due[c->next] <= now && c->open < o->depth) {
		uint64_t i = c->next, j = i / o->conns;
		const char *path = r->paths[j % r->npaths];
		nghttp2_nv nv[7];
		size_t nn = 0;
#define NV(nm, v)                                                                                  \
	nv[nn++] = (nghttp2_nv){(uint8_t *)(nm), (uint8_t *)(v), strlen(nm), strlen(v),            \
	                        NGHTTP2_NV_FLAG_NO_COPY_NAME}
		NV(":method", r->body ? "POST" : "GET");
		NV(":scheme", "http");
		NV(":authority", r->authority);
		NV(":path", path);
		if (o->user)
			NV("x-user-id", r->users[c->k]);
		if (r->body)
			NV("content-length", r->body_len_text);
#undef NV
		nghttp2_data_provider dp = {.source.ptr = r, .read_callback = body_read};
		int32_t id = nghttp2_submit_request(c->s, NULL, nv, nn, r->body ? &dp : NULL,
		                                    (void *)(uintptr_t)(i + 1));
		if (id < 0) {
			conn_dead(c, nghttp2_strerror(id));
			return;
		}
		uint64_t late = now - r->due[i];
		r->late[i] = late / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(late / 1000);
		c->open++;
		c->next += o->conns;
	}
}

static int conn_open(run *r, pconn *c, uint32_t k, nghttp2_session_callbacks *cbs, char *err,
                     size_t errlen)
{
	c->run = r;
	c->k = k;
	c->next = k;
	c->fd = dial(r->o->port, err, errlen);
	if (c->fd < 0)
		return ERR_IO;
	if (nghttp2_session_client_new(&c->s, cbs, c) != 0) {
		snprintf(err, errlen, "nghttp2_session_client_new failed");
		return ERR_IO;
	}
	nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	                               {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20}};
	if (nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0) {
		snprintf(err, errlen, "nghttp2_submit_settings failed");
		return ERR_IO;
	}
	conn_flush(c);
	if (c->fd < 0) {
		snprintf(err, errlen, "127.0.0.1:%d: the connection closed", r->o->port);
		return ERR_IO;
	}
	return 0;
}

/* --- the run --------------------------------------------------------------------- */

/* The loop: until every request is answered or given up, or the
 * timeout after the last due time has passed. */
static void loop(run *r)
{
	const pace_opts *o = r->o;
	struct pollfd *pf = xcalloc(o->conns, sizeof *pf);
	uint8_t *buf = xmalloc(READ_STEP);
	uint64_t give_up = r->due[r->n - 1] + (uint64_t)o->timeout_ms * 1000000u;
	while (r->resolved < r->n) {
		uint64_t now = clock_mono_ns();
		if (now >= give_up)
			break;
		uint64_t wake = give_up;
		for (uint32_t k = 0; k < o->conns; k++) {
			pconn *c = &r->c[k];
			conn_submit(c);
			conn_flush(c);
			if (c->fd >= 0 && !nghttp2_session_want_read(c->s) &&
			    !nghttp2_session_want_write(c->s))
				conn_dead(c, "the session ended (GOAWAY)");
			pf[k].fd = c->fd;
			pf[k].events = c->fd < 0 ? 0 : POLLIN;
			if (c->out_len > c->out_off || (c->s && nghttp2_session_want_write(c->s)))
				pf[k].events |= POLLOUT;
			if (c->fd >= 0 && c->next < r->n && c->open < o->depth &&
			    r->due[c->next] < wake)
				wake = r->due[c->next];
		}
		now = clock_mono_ns();
		uint64_t wait = wake > now ? wake - now : 0;
		struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
		int n = ppoll(pf, o->conns, &ts, NULL);
		if (n < 0 && errno != EINTR)
			break;
		for (uint32_t k = 0; n > 0 && k < o->conns; k++) {
			pconn *c = &r->c[k];
			if (c->fd < 0 || !pf[k].revents)
				continue;
			if (pf[k].revents & (POLLIN | POLLHUP | POLLERR))
				conn_read(c, buf);
			if (c->fd >= 0 && (pf[k].revents & POLLOUT))
				conn_flush(c);
		}
	}
	/* What is left open was given up now. */
	uint64_t end = clock_mono_ns();
	for (uint64_t i = 0; i < r->n; i++)
		if (!r->done[i])
			r->lat[i] = end > r->due[i] ? end - r->due[i] : 0;
	free(buf);
	free(pf);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Where the q quantile of n sorted values is: the floor(n q)-th value
 * (the first when that is 0), as bench.sh's percentiles picks it. */
static size_t rank(size_t n, double q)
{
	size_t i = (size_t)((double)n * q);
	return i ? i - 1 : 0;
}

/* Whether request i went out: its connection got past it. */
static bool was_sent(const run *r, uint64_t i)
{
	return i < r->c[i % r->o->conns].next;
}

static void summarize(run *r, uint64_t start, pace_result *out)
{
	memset(out, 0, sizeof *out);
	uint64_t *ok = xmalloc((r->n + 1) * sizeof *ok);
	uint32_t *late = xmalloc((r->n + 1) * sizeof *late);
	size_t nok = 0, nlate = 0;
	for (uint64_t i = 0; i < r->n; i++) {
		if (!was_sent(r, i))
			continue;
		out->sent++;
		late[nlate++] = r->late[i];
		if (!r->done[i] || r->status[i] == NO_ANSWER)
			out->failed++;
		else if (r->status[i] >= 200 && r->status[i] < 300)
			ok[nok++] = r->lat[i];
		else
			out->non_2xx++;
	}
	out->failed += r->n - out->sent; /* never sent: their connection died */
	out->ok = nok;
	qsort(ok, nok, sizeof *ok, cmp_u64);
	qsort(late, nlate, sizeof *late, cmp_u32);
	if (nok) {
		out->p50_ms = (double)ok[rank(nok, 0.5)] / 1e6;
		out->p99_ms = (double)ok[rank(nok, 0.99)] / 1e6;
		out->p999_ms = (double)ok[rank(nok, 0.999)] / 1e6;
		out->max_ms = (double)ok[nok - 1] / 1e6;
	}
	if (nlate)
		out->late_p99_ms = (double)late[rank(nlate, 0.99)] / 1e3;
	uint64_t end = r->last_close > start ? r->last_close : start;
	out->seconds = (double)(end - start) / 1e9;
	out->rate = out->seconds > 0 ? (double)(nok + out->non_2xx) / out->seconds : 0;
	free(ok);
	free(late);
}

static int write_log(const run *r, uint64_t start, uint64_t wall_us, char *err, size_t errlen)
{
	FILE *f = fopen(r->o->log, "w");
	if (!f) {
		snprintf(err, errlen, "%s: %s", r->o->log, strerror(errno));
		return ERR_IO;
	}
	for (uint64_t i = 0; i < r->n; i++)
		if (was_sent(r, i))
			fprintf(f, "%" PRIu64 "\t%d\t%" PRIu64 "\n",
			        wall_us + (r->due[i] - start) / 1000,
			        r->status[i] == NO_ANSWER ? -1 : (int)r->status[i],
			        r->lat[i] / 1000);
	if (fclose(f) != 0) {
		snprintf(err, errlen, "%s: %s", r->o->log, strerror(errno));
		return ERR_IO;
	}
	return 0;
}

void pace_opts_default(pace_opts *o)
{
	*o = (pace_opts){
	    .rate = 1000, .requests = 10000, .conns = 4, .depth = 16, .timeout_ms = 10000};
}

static void run_free(run *r)
{
	for (uint32_t k = 0; r->c && k < r->o->conns; k++) {
		if (r->c[k].fd >= 0)
			close(r->c[k].fd);
		nghttp2_session_del(r->c[k].s);
		free(r->c[k].out);
	}
	free(r->c);
	for (size_t i = 0; i < r->npaths; i++)
		free(r->paths[i]);
	free(r->paths);
	free(r->body);
	free(r->users);
	free(r->due);
	free(r->lat);
	free(r->late);
	free(r->status);
	free(r->body_off);
	free(r->done);
}

int pace_run(const pace_opts *o, pace_result *res, char *err, size_t errlen)
{
	if (!o->port || !o->rate || !o->requests || o->requests > PACE_REQUESTS_MAX || !o->conns ||
	    o->conns > PACE_CONNS_MAX || !o->depth || !o->uris) {
		snprintf(err, errlen, "options out of range");
		return ERR_INVAL;
	}
	run r = {.o = o, .n = o->requests};
	int rc = load_paths(&r, err, errlen);
	if (rc == 0 && o->body) {
		r.body = read_file(o->body, &r.body_len, err, errlen);
		if (!r.body)
			rc = ERR_IO;
		else if (r.body_len > BODY_MAX) {
			snprintf(err, errlen, "%s: over %u bytes", o->body, BODY_MAX);
			rc = ERR_IO;
		}
		snprintf(r.body_len_text, sizeof r.body_len_text, "%zu", r.body_len);
	}
	snprintf(r.authority, sizeof r.authority, "127.0.0.1:%d", o->port);
	r.users = xcalloc(o->conns, sizeof *r.users);
	for (uint32_t k = 0; o->user && k < o->conns; k++)
		snprintf(r.users[k], sizeof r.users[k], "%s%u", o->user, k);
	r.due = xcalloc(r.n, sizeof *r.due);
	r.lat = xcalloc(r.n, sizeof *r.lat);
	r.late = xcalloc(r.n, sizeof *r.late);
	r.status = xcalloc(r.n, sizeof *r.status);
	r.body_off = xcalloc(r.n, sizeof *r.body_off);
	r.done = xcalloc(r.n, sizeof *r.done);
	r.c = xcalloc(o->conns, sizeof *r.c);
	for (uint32_t k = 0; k < o->conns; k++)
		r.c[k].fd = -1;
	nghttp2_session_callbacks *cbs = NULL;
	if (rc == 0 && nghttp2_session_callbacks_new(&cbs) != 0) {
		snprintf(err, errlen, "nghttp2_session_callbacks_new failed");
		rc = ERR_IO;
	}
	if (rc == 0) {
		nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
		nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
		nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, on_not_sent);
		for (uint32_t k = 0; rc == 0 && k < o->conns; k++)
			rc = conn_open(&r, &r.c[k], k, cbs, err, errlen);
	}
	nghttp2_session_callbacks_del(cbs);
	if (rc == 0) {
		/* Sleeps end when asked rather than up to 50 us later. */
		(void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
		struct timespec wall;
		clock_gettime(CLOCK_REALTIME, &wall);
		uint64_t start = clock_mono_ns() + 20000000u; /* the settings exchanged first */
		uint64_t wall_us =
		    (uint64_t)wall.tv_sec * 1000000u + (uint64_t)wall.tv_nsec / 1000u + 20000u;
		schedule(&r, start);
		loop(&r);
		summarize(&r, start, res);
		if (o->log)
			rc = write_log(&r, start, wall_us, err, errlen);
	}
	run_free(&r);
	return rc;
}

void pace_print(FILE *f, const pace_result *r)
{
	fprintf(f,
	        "sent=%" PRIu64 "\nok=%" PRIu64 "\nnon_2xx=%" PRIu64 "\nfailed=%" PRIu64
	        "\nseconds=%.3f\nrate=%.0f\np50_ms=%.3f\np99_ms=%.3f\np999_ms=%.3f\nmax_ms=%.3f\n"
	        "late_p99_ms=%.3f\n",
	        r->sent, r->ok, r->non_2xx, r->failed, r->seconds, r->rate, r->p50_ms, r->p99_ms,
	        r->p999_ms, r->max_ms, r->late_p99_ms);
}
