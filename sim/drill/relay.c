/* relay.c - sim's controllable TCP links: accept on one side, connect to the
 * other, and let bytes through (or hold them) as the path's faults say.
 *
 * One relay is one thread running a libevent loop over raw non-blocking
 * sockets. Each connection has two flows: flow 0 reads the accepted side
 * and writes the target (RELAY_FORWARD), flow 1 the reverse. A flow is a
 * FIFO of chunks, each stamped with its arrival time and a random place in
 * the jitter window, so a chunk is due at arrival + delay +- jitter under
 * the path's current settings; only the head may leave, so no chunk
 * overtakes an earlier one. A token bucket per flow spends the rate. A
 * flow stops reading once it holds RELAY_HOLD_MAX bytes, and passes its
 * source's FIN on (shutdown) only after its queue has drained and only
 * while its direction is open. The target is not even dialled while
 * RELAY_FORWARD is blocked, as a SYN would not cross a partition.
 *
 * Threads: the fault settings and the path list live under the relay's
 * mutex and may be changed from any thread; the loop reads them afresh
 * each time it moves bytes, so a block is in force as soon as relay_block
 * returns. A setter then writes the relay's eventfd so the loop looks at
 * every connection again (held bytes to release, targets to dial, resets
 * to do). Connections, chunks and events belong to the loop thread until
 * relay_free has joined it. Statistics are atomics.
 *
 * Owns: the listening sockets, every accepted and dialled socket, their
 * chunks, the event base and the thread.
 */
#include "sim/drill/relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "sim/drill/evbase.h"
#include "tsa.h"
#include "xmem.h"

#define READ_MAX (64u << 10) /* bytes taken from a socket per read */
#define ACCEPT_BURST 64      /* connections accepted per listener wake-up */
#define BURST_DIV 10         /* a token bucket holds 1/10 s of its rate */

typedef struct conn conn;

typedef struct chunk {
	struct chunk *next;
	uint64_t arrived_us;
	int32_t jitter_pm; /* -1000..1000: where this chunk falls in +- jitter */
	uint32_t len;
	uint32_t off; /* bytes already sent */
	unsigned char data[];
} chunk;

/* A path's fault settings; copied out under the relay's mutex. */
typedef struct faults {
	unsigned blocked; /* relay_dir bits */
	uint64_t delay_us;
	uint64_t jitter_us;
	uint64_t rate;     /* bytes per second per flow, 0: unlimited */
	unsigned rate_gen; /* bumped on every rate change: buckets restart */
} faults;

typedef struct flow {
	chunk *head, *tail;
	size_t held; /* unsent bytes queued */
	bool eof;    /* the source has sent its FIN */
	bool shut;   /* and it has been passed on */
	bool reading;
	double tokens;
	uint64_t refill_us;
	unsigned rate_gen;
	struct event *timer;
} flow;

/* Side 0 is the accepted socket, side 1 the one dialled to the target.
 * Flow i reads side i and writes side 1 - i. */
struct conn {
	conn *prev, *next;
	relay_path *p;
	uint64_t id;
	int fd[2];
	struct event *rd[2];
	struct event *wr[2];
	bool connecting;
	flow fl[2];
};

struct relay_path {
	relay_path *next;
	relay *r;
	char name[RELAY_NAME_MAX];
	const netns *to;
	int to_port;
	int port;
	int lfd;
	/* loop thread */
	struct event *accept_ev;
	conn *conns;
	/* under r->mu */
	faults ctl;
	uint64_t reset_req;
	uint64_t reset_done;
	/* any thread */
	_Atomic uint64_t accepted;
	_Atomic uint64_t bytes[2];
	_Atomic uint64_t resets;
	_Atomic unsigned open;
};

struct relay {
	pthread_t thread;
	bool started;
	struct event_base *base;
	int wake_fd;
	struct event *wake_ev;
	tsa_mutex mu;
	pthread_cond_t cv;
	relay_path *paths; /* under mu; only grows until relay_free */
	bool stop;         /* under mu */
	bool stopped;      /* under mu: the loop has exited */
	/* loop thread */
	uint64_t rng;
	uint64_t next_id;
	unsigned char scratch[READ_MAX];
};

static int pump(conn *c, int i);

static uint64_t next_random(relay *r)
{
	/* xorshift64: plenty for spreading jitter. */
	uint64_t x = r->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	r->rng = x;
	return x;
}

static void wake(relay *r)
{
	uint64_t one = 1;
	if (write(r->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_error("relay wake failed", "error=\"%s\"", strerror(errno));
}

static void snapshot(relay_path *p, faults *out)
{
	tsa_lock(&p->r->mu);
	*out = p->ctl;
	tsa_unlock(&p->r->mu);
}

static unsigned dir_bit(int i)
{
	return i == 0 ? RELAY_FORWARD : RELAY_BACKWARD;
}

static void arm(struct event *ev, uint64_t us)
{
	struct timeval tv = {.tv_sec = (time_t)(us / 1000000u),
	                     .tv_usec = (suseconds_t)(us % 1000000u)};
	event_add(ev, &tv);
}

static void set_nodelay(int fd)
{
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
		log_debug("TCP_NODELAY failed", "error=\"%s\"", strerror(errno));
}

/* Closes with RST rather than FIN, so the peer sees the link break. */
static void close_abort(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(fd);
}

/* --- connections -------------------------------------------------------- */

static void free_event(struct event **ev)
{
	if (*ev) {
		event_free(*ev);
		*ev = NULL;
	}
}

static void close_conn(conn *c, bool abort)
{
	relay_path *p = c->p;
	for (int i = 0; i < 2; i++) {
		free_event(&c->rd[i]);
		free_event(&c->wr[i]);
		free_event(&c->fl[i].timer);
		if (c->fd[i] >= 0) {
			if (abort)
				close_abort(c->fd[i]);
			else
				close(c->fd[i]);
		}
		chunk *ch = c->fl[i].head;
		while (ch) {
			chunk *next = ch->next;
			free(ch);
			ch = next;
		}
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		p->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	atomic_fetch_sub(&p->open, 1);
	log_debug("relay connection closed", "path=%s conn=%" PRIu64 " abort=%d", p->name, c->id,
	          (int)abort);
	free(c);
}

static void on_read(conn *c, int i)
{
	flow *f = &c->fl[i];
	relay *r = c->p->r;
	size_t room = RELAY_HOLD_MAX - f->held;
	if (room == 0) {
		pump(c, i);
		return;
	}
	if (room > READ_MAX)
		room = READ_MAX;
	ssize_t n = recv(c->fd[i], r->scratch, room, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		log_debug("relay read failed", "path=%s conn=%" PRIu64 " side=%d error=\"%s\"",
		          c->p->name, c->id, i, strerror(errno));
		close_conn(c, true);
		return;
	}
	if (n == 0) {
		f->eof = true;
	} else {
		chunk *ch = xmalloc(sizeof *ch + (size_t)n);
		ch->next = NULL;
		ch->arrived_us = clock_mono_us();
		ch->jitter_pm = (int32_t)(next_random(r) % 2001) - 1000;
		ch->len = (uint32_t)n;
		ch->off = 0;
		memcpy(ch->data, r->scratch, (size_t)n);
		if (f->tail)
			f->tail->next = ch;
		else
			f->head = ch;
		f->tail = ch;
		f->held += (size_t)n;
	}
	pump(c, i);
}

static void finish_connect(conn *c)
{
	int e = 0;
	socklen_t len = sizeof e;
	if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		e = errno;
	if (e) {
		log_info("relay target unreachable",
		         "path=%s conn=%" PRIu64 " port=%d error=\"%s\"", c->p->name, c->id,
		         c->p->to_port, strerror(e));
		close_conn(c, true);
		return;
	}
	c->connecting = false;
	if (pump(c, 0) == 0)
		pump(c, 1);
}

static void on_read0(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	on_read(arg, 0);
}

static void on_read1(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	on_read(arg, 1);
}

/* The accepted side can take bytes again: flow 1 writes there. */
static void on_write0(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg, 1);
}

static void on_write1(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn *c = arg;
	if (c->connecting)
		finish_connect(c);
	else
		pump(c, 0);
}

static void on_timer0(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg, 0);
}

static void on_timer1(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg, 1);
}

/* Dials the target. 0 while the connection lives, -1 once it is closed. */
static int start_connect(conn *c)
{
	relay_path *p = c->p;
	int s = netns_socket(p->to);
	if (s < 0) {
		log_warn("relay cannot make target socket", "path=%s error=%s", p->name,
		         err_str(s));
		close_conn(c, true);
		return -1;
	}
	set_nodelay(s);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)p->to_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = connect(s, (struct sockaddr *)&sa, sizeof sa);
	if (rc < 0 && errno != EINPROGRESS) {
		log_info("relay target unreachable",
		         "path=%s conn=%" PRIu64 " port=%d error=\"%s\"", p->name, c->id,
		         p->to_port, strerror(errno));
		close(s);
		close_conn(c, true);
		return -1;
	}
	struct event_base *base = p->r->base;
	c->fd[1] = s;
	c->rd[1] = event_new(base, s, EV_READ | EV_PERSIST, on_read1, c);
	c->wr[1] = event_new(base, s, EV_WRITE, on_write1, c);
	if (!c->rd[1] || !c->wr[1]) {
		log_error("relay cannot make events", "path=%s", p->name);
		close_conn(c, true);
		return -1;
	}
	c->connecting = true;
	/* Even a connect that finished at once is completed from the write
	 * event, so the flows are never pumped from inside a pump. */
	event_add(c->wr[1], NULL);
	return 0;
}

static void refill(flow *f, const faults *fx, uint64_t now)
{
	if (fx->rate_gen != f->rate_gen) {
		f->rate_gen = fx->rate_gen;
		f->tokens = 0;
		f->refill_us = now;
		return;
	}
	double burst = (double)fx->rate / BURST_DIV;
	if (burst < 1)
		burst = 1;
	f->tokens += (double)(now - f->refill_us) * (double)fx->rate / 1e6;
	if (f->tokens > burst)
		f->tokens = burst;
	f->refill_us = now;
}

static uint64_t due_at(const chunk *ch, const faults *fx)
{
	if (fx->delay_us == 0)
		return ch->arrived_us;
	int64_t off = (int64_t)fx->delay_us + (int64_t)fx->jitter_us * ch->jitter_pm / 1000;
	return ch->arrived_us + (uint64_t)(off > 0 ? off : 0);
}

/* Sends what flow i may send now. Returns -1 when it closed the
 * connection (c is gone), else 0. */
static int send_due(conn *c, int i, const faults *fx)
{
	flow *f = &c->fl[i];
	int dst = c->fd[1 - i];
	uint64_t now = clock_mono_us();
	if (fx->rate)
		refill(f, fx, now);
	while (f->head) {
		chunk *ch = f->head;
		uint64_t due = due_at(ch, fx);
		if (due > now) {
			arm(f->timer, due - now);
			return 0;
		}
		size_t n = ch->len - ch->off;
		if (fx->rate) {
			double burst = (double)fx->rate / BURST_DIV;
			double need = (double)n < burst ? (double)n : burst;
			if (need < 1)
				need = 1;
			if (f->tokens < need) {
				arm(f->timer,
				    (uint64_t)((need - f->tokens) * 1e6 / (double)fx->rate) + 1);
				return 0;
			}
			if ((double)n > f->tokens)
				n = (size_t)f->tokens;
		}
		ssize_t w = send(dst, ch->data + ch->off, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				event_add(c->wr[1 - i], NULL);
				return 0;
			}
			log_debug("relay write failed",
			          "path=%s conn=%" PRIu64 " side=%d error=\"%s\"", c->p->name,
			          c->id, 1 - i, strerror(errno));
			close_conn(c, true);
			return -1;
		}
		ch->off += (uint32_t)w;
		f->held -= (size_t)w;
		if (fx->rate)
			f->tokens -= (double)w;
		atomic_fetch_add(&c->p->bytes[i], (uint64_t)w);
		if (ch->off == ch->len) {
			f->head = ch->next;
			if (!f->head)
				f->tail = NULL;
			free(ch);
		}
	}
	if (f->eof && !f->shut) {
		if (shutdown(dst, SHUT_WR) < 0 && errno != ENOTCONN)
			log_debug("relay shutdown failed", "path=%s conn=%" PRIu64 " error=\"%s\"",
			          c->p->name, c->id, strerror(errno));
		f->shut = true;
	}
	return 0;
}

/* Moves flow i as far as the path's faults allow, then decides whether
 * its source is read and whether the connection is finished. Returns -1
 * when the connection was closed (c is gone), else 0. */
static int pump(conn *c, int i)
{
	flow *f = &c->fl[i];
	faults fx;
	snapshot(c->p, &fx);
	bool blocked = (fx.blocked & dir_bit(i)) != 0;

	if (c->fd[1] < 0) {
		/* Not dialled yet: only the forward flow exists. */
		if (i == 0 && !blocked && start_connect(c) < 0)
			return -1;
	} else if (!c->connecting && !blocked) {
		if (send_due(c, i, &fx) < 0)
			return -1;
	}

	bool want =
	    c->fd[i] >= 0 && !(i == 1 && c->connecting) && !f->eof && f->held < RELAY_HOLD_MAX;
	if (want != f->reading) {
		if (want)
			event_add(c->rd[i], NULL);
		else
			event_del(c->rd[i]);
		f->reading = want;
	}
	if (c->fl[0].shut && c->fl[1].shut) {
		close_conn(c, false);
		return -1;
	}
	return 0;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	relay_path *p = arg;
	relay *r = p->r;
	for (int k = 0; k < ACCEPT_BURST; k++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("relay accept failed", "path=%s error=\"%s\"", p->name,
				         strerror(errno));
			return;
		}
		set_nodelay(fd);
		conn *c = xcalloc(1, sizeof *c);
		c->p = p;
		c->id = ++r->next_id;
		c->fd[0] = fd;
		c->fd[1] = -1;
		c->rd[0] = event_new(r->base, fd, EV_READ | EV_PERSIST, on_read0, c);
		c->wr[0] = event_new(r->base, fd, EV_WRITE, on_write0, c);
		c->fl[0].timer = evtimer_new(r->base, on_timer0, c);
		c->fl[1].timer = evtimer_new(r->base, on_timer1, c);
		c->next = p->conns;
		if (p->conns)
			p->conns->prev = c;
		p->conns = c;
		atomic_fetch_add(&p->accepted, 1);
		atomic_fetch_add(&p->open, 1);
		if (!c->rd[0] || !c->wr[0] || !c->fl[0].timer || !c->fl[1].timer) {
			log_error("relay cannot make events", "path=%s", p->name);
			close_conn(c, true);
			continue;
		}
		log_debug("relay connection accepted", "path=%s conn=%" PRIu64, p->name, c->id);
		pump(c, 0);
	}
}

/* --- the loop ------------------------------------------------------------ */

static void reset_path(relay_path *p)
{
	uint64_t n = 0;
	while (p->conns) {
		close_conn(p->conns, true);
		n++;
	}
	atomic_fetch_add(&p->resets, n);
	log_info("relay path reset", "path=%s connections=%" PRIu64, p->name, n);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	relay *r = arg;
	uint64_t v;
	if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_error("relay wake read failed", "error=\"%s\"", strerror(errno));

	tsa_lock(&r->mu);
	if (r->stop) {
		tsa_unlock(&r->mu);
		event_base_loopbreak(r->base);
		return;
	}
	relay_path *head = r->paths;
	tsa_unlock(&r->mu);

	for (relay_path *p = head; p; p = p->next) {
		if (!p->accept_ev) {
			p->accept_ev =
			    event_new(r->base, p->lfd, EV_READ | EV_PERSIST, on_accept, p);
			if (!p->accept_ev || event_add(p->accept_ev, NULL) < 0)
				log_error("relay cannot watch listener", "path=%s", p->name);
		}
		tsa_lock(&r->mu);
		uint64_t want = p->reset_req;
		bool reset = want != p->reset_done;
		tsa_unlock(&r->mu);
		if (reset) {
			reset_path(p);
			tsa_lock(&r->mu);
			p->reset_done = want;
			pthread_cond_broadcast(&r->cv);
			tsa_unlock(&r->mu);
			continue;
		}
		conn *next;
		for (conn *c = p->conns; c; c = next) {
			next = c->next;
			if (pump(c, 0) == 0)
				pump(c, 1);
		}
	}
}

static void *loop(void *arg)
{
	relay *r = arg;
	if (event_base_dispatch(r->base) < 0)
		log_error("relay loop failed", "%s", "");
	tsa_lock(&r->mu);
	r->stopped = true;
	pthread_cond_broadcast(&r->cv);
	tsa_unlock(&r->mu);
	return NULL;
}

relay *relay_new(const char *thread_name, char *err, size_t errlen)
{
	char scratch[128];
	if (!err || errlen == 0) {
		err = scratch;
		errlen = sizeof scratch;
	}
	err[0] = '\0';
	relay *r = xcalloc(1, sizeof *r);
	r->wake_fd = -1;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->rng = (clock_mono_us() ^ (uint64_t)(uintptr_t)r) | 1;
	r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->wake_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	r->base = sim_event_base_precise(); /* for the delays (evbase.h) */
	if (!r->base) {
		snprintf(err, errlen, "event_base_new failed");
		goto fail;
	}
	r->wake_ev = event_new(r->base, r->wake_fd, EV_READ | EV_PERSIST, on_wake, r);
	if (!r->wake_ev || event_add(r->wake_ev, NULL) < 0) {
		snprintf(err, errlen, "cannot watch the wake-up descriptor");
		goto fail;
	}
	int e = pthread_create(&r->thread, NULL, loop, r);
	if (e) {
		snprintf(err, errlen, "pthread_create: %s", strerror(e));
		goto fail;
	}
	r->started = true;
	(void)pthread_setname_np(r->thread, thread_name);
	return r;
fail:
	relay_free(r);
	return NULL;
}

void relay_free(relay *r)
{
	if (!r)
		return;
	if (r->started) {
		tsa_lock(&r->mu);
		r->stop = true;
		tsa_unlock(&r->mu);
		wake(r);
		pthread_join(r->thread, NULL);
	}
	/* The loop is gone: everything below is ours alone. */
	relay_path *p = r->paths;
	while (p) {
		relay_path *next = p->next;
		while (p->conns)
			close_conn(p->conns, true);
		free_event(&p->accept_ev);
		close(p->lfd);
		free(p);
		p = next;
	}
	free_event(&r->wake_ev);
	if (r->base)
		event_base_free(r->base);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* --- paths --------------------------------------------------------------- */

relay_path *relay_add(relay *r, const char *name, const netns *from, int port, const netns *to,
                      int to_port, int *bound, char *err, size_t errlen)
{
	char scratch[128];
	if (!err || errlen == 0) {
		err = scratch;
		errlen = sizeof scratch;
	}
	err[0] = '\0';
	if (port < 0 || port > 65535 || to_port < 1 || to_port > 65535) {
		snprintf(err, errlen, "ports must be 0..65535 and 1..65535, not %d and %d", port,
		         to_port);
		return NULL;
	}
	int got = 0;
	int lfd = netns_listen(from, port, &got);
	if (lfd < 0) {
		snprintf(err, errlen, "cannot listen on 127.0.0.1:%d: %s", port, err_str(lfd));
		return NULL;
	}
	relay_path *p = xcalloc(1, sizeof *p);
	p->r = r;
	snprintf(p->name, sizeof p->name, "%s", name ? name : "path");
	p->to = to;
	p->to_port = to_port;
	p->port = got;
	p->lfd = lfd;
	tsa_lock(&r->mu);
	p->next = r->paths;
	r->paths = p;
	tsa_unlock(&r->mu);
	wake(r);
	if (bound)
		*bound = got;
	log_info("relay path added", "path=%s port=%d to_port=%d", p->name, got, to_port);
	return p;
}

const char *relay_path_name(const relay_path *p)
{
	return p->name;
}

static void change(relay_path *p, unsigned block, unsigned unblock)
{
	tsa_lock(&p->r->mu);
	p->ctl.blocked = (p->ctl.blocked | block) & ~unblock & RELAY_BOTH;
	unsigned now = p->ctl.blocked;
	tsa_unlock(&p->r->mu);
	wake(p->r);
	log_info("relay path blocked", "path=%s forward=%d backward=%d", p->name,
	         (now & RELAY_FORWARD) != 0, (now & RELAY_BACKWARD) != 0);
}

void relay_block(relay_path *p, relay_dir dir)
{
	change(p, (unsigned)dir, 0);
}

void relay_unblock(relay_path *p, relay_dir dir)
{
	change(p, 0, (unsigned)dir);
}

void relay_set_delay(relay_path *p, unsigned delay_ms, unsigned jitter_ms)
{
	if (jitter_ms > delay_ms) {
		log_warn("relay jitter above delay, clamped", "path=%s delay_ms=%u jitter_ms=%u",
		         p->name, delay_ms, jitter_ms);
		jitter_ms = delay_ms;
	}
	tsa_lock(&p->r->mu);
	p->ctl.delay_us = (uint64_t)delay_ms * 1000u;
	p->ctl.jitter_us = (uint64_t)jitter_ms * 1000u;
	tsa_unlock(&p->r->mu);
	wake(p->r);
	log_info("relay path delay", "path=%s delay_ms=%u jitter_ms=%u", p->name, delay_ms,
	         jitter_ms);
}

void relay_set_rate(relay_path *p, uint64_t bytes_per_s)
{
	tsa_lock(&p->r->mu);
	p->ctl.rate = bytes_per_s;
	p->ctl.rate_gen++;
	tsa_unlock(&p->r->mu);
	wake(p->r);
	log_info("relay path rate", "path=%s bytes_per_s=%" PRIu64, p->name, bytes_per_s);
}

void relay_reset(relay_path *p)
{
	relay *r = p->r;
	tsa_lock(&r->mu);
	uint64_t ticket = ++p->reset_req;
	tsa_unlock(&r->mu);
	wake(r);
	tsa_lock(&r->mu);
	while (p->reset_done < ticket && !r->stopped)
		pthread_cond_wait(&r->cv, &r->mu);
	tsa_unlock(&r->mu);
}

void relay_heal(relay_path *p)
{
	tsa_lock(&p->r->mu);
	p->ctl.blocked = 0;
	p->ctl.delay_us = 0;
	p->ctl.jitter_us = 0;
	p->ctl.rate = 0;
	p->ctl.rate_gen++;
	tsa_unlock(&p->r->mu);
	wake(p->r);
	log_info("relay path healed", "path=%s", p->name);
}

void relay_get_stats(relay_path *p, relay_stats *out)
{
	out->accepted = atomic_load(&p->accepted);
	out->bytes_forward = atomic_load(&p->bytes[0]);
	out->bytes_backward = atomic_load(&p->bytes[1]);
	out->resets = atomic_load(&p->resets);
	out->open = atomic_load(&p->open);
}
