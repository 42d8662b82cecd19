/* netns.c - network namespaces for sim: make one with its loopback up,
 * move a thread in and out, make sockets inside one.
 *
 * A netns owns one descriptor of its namespace; the namespace itself lives
 * while that descriptor or any socket made inside it is open. Sim's own
 * namespace is recorded once, by the first call into this module, from
 * /proc/thread-self/ns/net: the first call must come from a thread that is
 * still in sim's namespace. That holds as long as nothing else in the
 * process unshares, since no thread can be in one of our namespaces before
 * the first netns_new has returned.
 *
 * Any thread. setns(2) with CLONE_NEWNET acts on the calling thread only,
 * so every function here changes at most the caller's namespace, and the
 * socket helpers put it back where it was.
 */
#include "sim/drill/netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "xmem.h"

#define LISTEN_BACKLOG 128

struct netns {
	int fd; /* /proc/<tid>/ns/net of the thread that made it */
};

static pthread_once_t home_once = PTHREAD_ONCE_INIT;
static int home_fd = -1; /* sim's own namespace */
static int home_errno;

static void record_home(void)
{
	home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home_fd < 0) {
		home_errno = errno;
		log_error("cannot open own network namespace", "error=\"%s\"",
		          strerror(home_errno));
	}
}

static int home(void)
{
	pthread_once(&home_once, record_home);
	return home_fd;
}

/* --- making a namespace ---------------------------------------------- */

typedef struct maker {
	int fd;
	char why[160];
} maker;

static int loopback_up(char *why, size_t cap)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		snprintf(why, cap, "socket: %s", strerror(errno));
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	int rc = -1;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		snprintf(why, cap, "SIOCGIFFLAGS lo: %s", strerror(errno));
	} else {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			snprintf(why, cap, "SIOCSIFFLAGS lo: %s", strerror(errno));
		else
			rc = 0;
	}
	close(s);
	return rc;
}

/* Runs on a thread of its own that exits right after: the unshare moves
 * only this thread, and the descriptor keeps the namespace alive. */
static void *make_ns(void *arg)
{
	maker *m = arg;
	if (unshare(CLONE_NEWNET) < 0) {
		snprintf(m->why, sizeof m->why, "unshare(CLONE_NEWNET): %s", strerror(errno));
		return NULL;
	}
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(m->why, sizeof m->why, "open new namespace: %s", strerror(errno));
		return NULL;
	}
	if (loopback_up(m->why, sizeof m->why) < 0) {
		close(fd);
		return NULL;
	}
	m->fd = fd;
	return NULL;
}

netns *netns_new(char *err, size_t errlen)
{
	char scratch[160];
	if (!err || errlen == 0) {
		err = scratch;
		errlen = sizeof scratch;
	}
	err[0] = '\0';
	if (home() < 0) {
		snprintf(err, errlen, "cannot open own namespace: %s", strerror(home_errno));
		return NULL;
	}
	maker m = {.fd = -1};
	pthread_t t;
	int e = pthread_create(&t, NULL, make_ns, &m);
	if (e) {
		snprintf(err, errlen, "pthread_create: %s", strerror(e));
		return NULL;
	}
	pthread_join(t, NULL);
	if (m.fd < 0) {
		snprintf(err, errlen, "%s", m.why);
		return NULL;
	}
	netns *ns = xcalloc(1, sizeof *ns);
	ns->fd = m.fd;
	return ns;
}

void netns_free(netns *ns)
{
	if (!ns)
		return;
	close(ns->fd);
	free(ns);
}

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static bool probe_ok;

static void probe(void)
{
	char err[160];
	netns *ns = netns_new(err, sizeof err);
	probe_ok = ns != NULL;
	if (!ns)
		log_warn("network namespaces unavailable", "error=\"%s\"", err);
	netns_free(ns);
}

bool netns_supported(void)
{
	pthread_once(&probe_once, probe);
	return probe_ok;
}

void netns_path(const netns *ns, char *out, size_t cap)
{
	snprintf(out, cap, "/proc/%d/fd/%d", (int)getpid(), ns->fd);
}

/* --- moving threads ---------------------------------------------------- */

static int enter_fd(int fd)
{
	if (fd < 0)
		return ERR_IO;
	if (setns(fd, CLONE_NEWNET) < 0) {
		log_error("setns failed", "error=\"%s\"", strerror(errno));
		return ERR_IO;
	}
	return 0;
}

int netns_enter(const netns *ns)
{
	return enter_fd(ns ? ns->fd : home());
}

/* Makes a TCP socket inside ns and leaves the calling thread in the
 * namespace it was in. The fd or a negative ERR_*. */
static int socket_in(const netns *ns)
{
	int target = ns ? ns->fd : home();
	if (target < 0)
		return ERR_IO;
	int was = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (was < 0) {
		log_error("cannot open current namespace", "error=\"%s\"", strerror(errno));
		return ERR_IO;
	}
	int rc = enter_fd(target);
	if (rc < 0) {
		close(was);
		return rc;
	}
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int saved = errno;
	rc = enter_fd(was);
	close(was);
	if (rc < 0) {
		/* The thread is stuck in the wrong namespace: everything it
		 * does next would be wrong, so say so loudly. */
		log_error("cannot return to previous namespace", "%s", "");
		if (s >= 0)
			close(s);
		return rc;
	}
	if (s < 0) {
		log_error("socket failed", "error=\"%s\"", strerror(saved));
		return ERR_IO;
	}
	return s;
}

int netns_socket(const netns *ns)
{
	return socket_in(ns);
}

int netns_listen(const netns *ns, int port, int *bound)
{
	if (port < 0 || port > 65535)
		return ERR_INVAL;
	int s = socket_in(ns);
	if (s < 0)
		return s;
	int one = 1;
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	const char *what = NULL;
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		what = "setsockopt";
	else if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0)
		what = "bind";
	else if (listen(s, LISTEN_BACKLOG) < 0)
		what = "listen";
	else if (getsockname(s, (struct sockaddr *)&sa, &len) < 0)
		what = "getsockname";
	if (what) {
		log_warn("cannot listen", "port=%d step=%s error=\"%s\"", port, what,
		         strerror(errno));
		close(s);
		return ERR_IO;
	}
	if (bound)
		*bound = ntohs(sa.sin_port);
	return s;
}
