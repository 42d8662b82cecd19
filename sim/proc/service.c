/* service.c - a sim process serving until a signal, with its files and
 * control socket (service.h). The serving loop runs on the caller's
 * thread; service_ask on any.
 */
#include "sim/proc/service.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define TICK_MS 1000
#define READ_MS 2000

/* The serving thread's signalfd while service_run runs, and a signal
 * service_interrupted took off it. */
static int serving_sfd = -1;
static int taken_signal;

bool service_interrupted(void)
{
	if (taken_signal)
		return true;
	if (serving_sfd < 0)
		return false;
	struct pollfd p = {.fd = serving_sfd, .events = POLLIN};
	if (poll(&p, 1, 0) <= 0)
		return false;
	struct signalfd_siginfo si;
	if (read(serving_sfd, &si, sizeof si) == (ssize_t)sizeof si)
		taken_signal = (int)si.ssi_signo;
	return taken_signal != 0;
}

/* Writes all of p to fd, a socket (sock) or a file. To a socket with
 * send(2): a peer gone is an error, never a SIGPIPE (a client that
 * stopped waiting must not kill the service, nor the JVMs that die with
 * it). */
static int write_full(int fd, const char *p, size_t n, bool sock)
{
	while (n > 0) {
		ssize_t w = sock ? send(fd, p, n, MSG_NOSIGNAL) : write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads a line from fd into buf (cap bytes with the NUL) until a newline
 * or EOF, within timeout_ms. The length, or -1. */
static ssize_t read_line(int fd, char *buf, size_t cap, unsigned timeout_ms)
{
	size_t n = 0;
	uint64_t end = clock_mono_ms() + timeout_ms;
	while (n + 1 < cap) {
		uint64_t now = clock_mono_ms();
		if (now >= end)
			return -1;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)(end - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		ssize_t k = read(fd, buf + n, cap - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		n += (size_t)k;
		if (memchr(buf, '\n', n))
			break;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

/* A listening Unix stream socket at path (any file there is replaced). */
static int control_listen(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof a.sun_path) {
		log_error("control socket path too long", "path=\"%s\"", path);
		return ERR_INVAL;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ERR_IO;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 8) < 0) {
		log_error("cannot listen on the control socket", "path=\"%s\" error=\"%s\"", path,
		          strerror(errno));
		close(fd);
		return ERR_IO;
	}
	return fd;
}

/* One connection of the control socket: its command, then the answer. */
static void control_serve_one(const service_ops *ops, int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	char line[SERVICE_LINE_MAX + 1], ans[SERVICE_ANSWER_MAX];
	if (read_line(fd, line, sizeof line, READ_MS) <= 0) {
		close(fd);
		return;
	}
	if (!strchr(line, '\n')) {
		/* Longer than a line may be, or cut off: never run a part. */
		static const char no[] = "error no whole line\n";
		(void)write_full(fd, no, sizeof no - 1, true);
		close(fd);
		return;
	}
	line[strcspn(line, "\r\n")] = '\0';
	char said[sizeof line];
	memcpy(said, line, sizeof said);
	ans[0] = '\0';
	ops->command(ops->ctx, line, ans, sizeof ans - 1);
	log_info("control command", "command=\"%s\" answer=\"%s\"", said, ans);
	size_t k = strlen(ans);
	ans[k++] = '\n';
	(void)write_full(fd, ans, k, true);
	close(fd);
}

int service_ask(const char *path, const char *command, unsigned timeout_ms, char *ans,
                size_t anslen, char *err, size_t errlen)
{
	char scratch[SERVICE_ANSWER_MAX];
	if (!err || !errlen) {
		err = scratch;
		errlen = sizeof scratch;
	}
	err[0] = '\0';
	if (ans && anslen)
		ans[0] = '\0';
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t cl = strlen(command);
	if (strlen(path) >= sizeof a.sun_path || cl == 0 || cl + 1 > SERVICE_LINE_MAX ||
	    strchr(command, '\n')) {
		snprintf(err, errlen, "bad control path or command");
		return ERR_INVAL;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		snprintf(err, errlen, "cannot reach %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ERR_IO;
	}
	char line[SERVICE_LINE_MAX + 1];
	snprintf(line, sizeof line, "%s\n", command);
	char got[SERVICE_ANSWER_MAX];
	int rc = 0;
	if (write_full(fd, line, strlen(line), true) < 0 ||
	    read_line(fd, got, sizeof got, timeout_ms) <= 0) {
		snprintf(err, errlen, "no answer from %s", path);
		rc = ERR_IO;
	} else {
		got[strcspn(got, "\r\n")] = '\0';
		if (strcmp(got, "ok") == 0 || strncmp(got, "ok ", 3) == 0) {
			if (ans && anslen)
				snprintf(ans, anslen, "%s", got[2] ? got + 3 : "");
		} else {
			snprintf(err, errlen, "%s", got);
			rc = ERR_KAFKA;
		}
	}
	close(fd);
	return rc;
}

int service_write_file(const char *path, const char *text)
{
	size_t plen = strlen(path);
	if (plen == 0 || plen > PATH_MAX - 16) {
		log_error("bad file path", "path=\"%s\"", path);
		return ERR_INVAL;
	}
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		log_error("cannot create file", "path=\"%s\" error=\"%s\"", tmp, strerror(errno));
		return ERR_IO;
	}
	const char *what = NULL;
	if (fchmod(fd, 0644) < 0)
		what = "fchmod";
	else if (write_full(fd, text, strlen(text), false) < 0)
		what = "write";
	else if (fsync(fd) < 0)
		what = "fsync";
	int saved = errno;
	if (close(fd) < 0 && !what) {
		what = "close";
		saved = errno;
	}
	if (!what && rename(tmp, path) < 0) {
		what = "rename";
		saved = errno;
	}
	if (what) {
		log_error("cannot write file", "path=\"%s\" step=%s error=\"%s\"", path, what,
		          strerror(saved));
		unlink(tmp);
		return ERR_IO;
	}
	return 0;
}

static void remove_file(const char *path)
{
	if (path && unlink(path) < 0 && errno != ENOENT)
		log_warn("cannot remove file", "path=\"%s\" error=\"%s\"", path, strerror(errno));
}

/* Serves the control socket lfd (-1: none) and ticks until SIGINT or
 * SIGTERM arrives on sfd; returns the signal, or -1. */
static int wait_signal(const service_ops *ops, int sfd, int lfd)
{
	uint64_t next_tick = clock_mono_ms() + TICK_MS;
	for (;;) {
		if (taken_signal)
			return taken_signal;
		struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = lfd, .events = POLLIN}};
		uint64_t now = clock_mono_ms();
		int wait = now >= next_tick ? 0 : (int)(next_tick - now);
		int r = poll(p, lfd >= 0 ? 2 : 1, ops->tick ? wait : -1);
		if (r < 0 && errno != EINTR) {
			log_error("poll failed", "error=\"%s\"", strerror(errno));
			return -1;
		}
		if (ops->tick && clock_mono_ms() >= next_tick) {
			ops->tick(ops->ctx);
			next_tick = clock_mono_ms() + TICK_MS;
		}
		if (r <= 0)
			continue;
		if (lfd >= 0 && (p[1].revents & POLLIN))
			control_serve_one(ops, lfd);
		if (!(p[0].revents & POLLIN))
			continue;
		struct signalfd_siginfo si;
		ssize_t k = read(sfd, &si, sizeof si);
		if (k == (ssize_t)sizeof si)
			return (int)si.ssi_signo;
		if (k < 0 && errno == EINTR)
			continue;
		log_error("signalfd read failed", "error=\"%s\"",
		          k < 0 ? strerror(errno) : "short");
		return -1;
	}
}

int service_run(const service_ops *ops, const char *bootstrap_file, const char *pid_file,
                const char *control_path)
{
	sigset_t mask, old;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	/* Before any thread exists: the service's threads inherit this
	 * mask, so the signals can only be taken from the signalfd. */
	int e = pthread_sigmask(SIG_BLOCK, &mask, &old);
	if (e) {
		log_error("cannot block signals", "error=\"%s\"", strerror(e));
		return ERR_IO;
	}
	int rc = 0, lfd = -1;
	bool started = false, wrote_pid = false, wrote_bootstrap = false;
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		log_error("signalfd failed", "error=\"%s\"", strerror(errno));
		rc = ERR_IO;
		goto out;
	}
	serving_sfd = sfd;
	taken_signal = 0;
	const char *bootstraps = ops->start(ops->ctx);
	if (!bootstraps && taken_signal) {
		log_info("stopping before the start ended", "signal=%s", strsignal(taken_signal));
		goto out;
	}
	if (!bootstraps) {
		rc = ERR_KAFKA;
		goto out;
	}
	started = true;
	if (pid_file) {
		char pid[32];
		snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
		if ((rc = service_write_file(pid_file, pid)) < 0)
			goto out;
		wrote_pid = true;
	}
	if (control_path && (lfd = control_listen(control_path)) < 0) {
		rc = lfd;
		lfd = -1;
		goto out;
	}
	/* The bootstrap file goes last: it tells readers we are ready. */
	if (bootstrap_file) {
		size_t n = strlen(bootstraps) + 2;
		char *line = malloc(n);
		if (!line) {
			rc = ERR_IO;
			goto out;
		}
		snprintf(line, n, "%s\n", bootstraps);
		rc = service_write_file(bootstrap_file, line);
		free(line);
		if (rc < 0)
			goto out;
		log_info("bootstrap file written", "path=\"%s\"", bootstrap_file);
		wrote_bootstrap = true;
	}
	log_info("ready", "pid=%ld bootstraps=%s", (long)getpid(), bootstraps);

	int sig = wait_signal(ops, sfd, lfd);
	if (sig < 0)
		rc = ERR_IO;
	else
		log_info("stopping", "signal=%s", strsignal(sig));

out:
	/* Files first, so no reader picks up an address that is going away.
	 * Only files we wrote: a failed start must not remove another
	 * instance's. */
	if (wrote_bootstrap)
		remove_file(bootstrap_file);
	if (wrote_pid)
		remove_file(pid_file);
	if (lfd >= 0) {
		close(lfd);
		remove_file(control_path);
	}
	if (started)
		ops->stop(ops->ctx);
	if (sfd >= 0)
		close(sfd);
	serving_sfd = -1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

bool service_parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}
