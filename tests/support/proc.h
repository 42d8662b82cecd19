/* proc.h - helpers for integration tests that run the real binaries:
 * spawn with output to a log, stop by PID, wait on conditions with
 * deadlines, talk HTTP through curl. Header-only; test processes only.
 */
#ifndef TESTS_PROC_H
#define TESTS_PROC_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static inline void proc_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Starts argv[0] with stdout and stderr appended to log. -1 on failure. */
static inline pid_t proc_spawn(const char *log, char *const argv[])
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	/* Die with the test process, so nothing outlives a crashed test. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	execv(argv[0], argv);
	_exit(127);
}

/* Sends sig and reaps; returns the exit status as waitpid gives it. */
static inline int proc_stop(pid_t pid, int sig)
{
	int status = 0;
	if (pid <= 0)
		return -1;
	kill(pid, sig);
	uint64_t deadline = clock_mono_ms() + 15000;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (clock_mono_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		proc_sleep_ms(10);
	}
	return status;
}

static inline bool proc_alive(pid_t pid)
{
	int status;
	return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

/* A loopback port free now, below the kernel's ephemeral range (32768
 * and up): a daemon a test restarts on the same port must not find it
 * taken meanwhile by some connection's local end, which the kernel picks
 * from that range. The port is picked from 20000-31999, or from the
 * range LO-HI in $ITEST_PORTS: make gives each integration test binary
 * a range of its own, so two binaries that run at once (make -j2 itest)
 * cannot pick the same port in the moment between this check and the
 * daemon's bind. -1 when none is found. */
static inline int proc_free_port(void)
{
	static unsigned seed;
	static int lo, span;
	if (!seed)
		seed = (unsigned)getpid() * 2654435761u ^ (unsigned)clock_mono_ms();
	if (!span) {
		const char *env = getenv("ITEST_PORTS");
		int a, b;
		lo = 20000;
		span = 12000;
		if (env && sscanf(env, "%d-%d", &a, &b) == 2 && a >= 1024 && a <= b && b < 32768) {
			lo = a;
			span = b - a + 1;
		}
	}
	for (int tries = 0; tries < 500; tries++) {
		seed = seed * 1103515245u + 12345u;
		int port = lo + (int)((seed >> 8) % (unsigned)span);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_port = htons((uint16_t)port),
		                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
		close(fd);
		if (ok)
			return port;
	}
	return -1;
}

/* Runs a shell command and captures its stdout; returns the exit status. */
static inline int proc_capture(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	size_t n = 0;
	if (out && cap) {
		n = fread(out, 1, cap - 1, f);
		out[n] = 0;
	}
	/* Read what did not fit too: closing early would kill the command
	 * with SIGPIPE and turn a long answer into a failure. */
	char sink[4096];
	while (fread(sink, 1, sizeof sink, f) > 0)
		;
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One request through curl with extra options (already shell-quoted by
 * the caller: "--http1.1 -H 'If-None-Match: \"x\"'"). out gets the body,
 * or with "-i" among the options what curl -i prints: the answer's head,
 * a blank line and the body. Returns the status code, or -1 when nothing
 * answered. */
static inline int proc_curl(char *out, size_t cap, const char *opts, int port, const char *path)
{
	int rc =
	    proc_capture(out, cap, "curl -s -m 5 %s -w '\\n%%{http_code}' 'http://127.0.0.1:%d%s'",
	                 opts, port, path);
	if (rc != 0)
		return -1;
	char *nl = strrchr(out, '\n');
	if (!nl)
		return -1;
	int code = atoi(nl + 1);
	*nl = 0;
	return code == 0 ? -1 : code;
}

/* One HTTP/2 (prior knowledge) request as user (NULL: none). Returns the
 * status code, or -1 when nothing answered; body gets the answer's body. */
static inline int proc_http(const char *method, int port, const char *path, const char *user,
                            char *body, size_t cap)
{
	char out[8192], opts[256];
	snprintf(opts, sizeof opts, "--http2-prior-knowledge -X %s %s%s%s", method,
	         user ? "-H 'X-User-Id: " : "", user ? user : "", user ? "'" : "");
	int code = proc_curl(out, sizeof out, opts, port, path);
	if (body && cap) {
		size_t n = code < 0 ? 0 : strlen(out);
		if (n > cap - 1)
			n = cap - 1;
		memcpy(body, out, n);
		body[n] = 0;
	}
	return code;
}

/* The body in what proc_curl captured (after the last head). */
static inline const char *proc_body(const char *out)
{
	const char *b = out, *p;
	while ((p = strstr(b, "\r\n\r\n")) && strncmp(p + 4, "HTTP/", 5) == 0)
		b = p + 4;
	p = strstr(b, "\r\n\r\n");
	return p ? p + 4 : "";
}

/* The value of header name (lower case) in what proc_curl captured, into
 * val; false when absent. */
static inline bool proc_header(const char *out, const char *name, char *val, size_t cap)
{
	const char *end = strstr(out, "\r\n\r\n");
	size_t nl = strlen(name);
	for (const char *p = out; p && (!end || p < end); p = strstr(p, "\r\n")) {
		if (*p == '\r')
			p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ')
				p++;
			size_t n = strcspn(p, "\r\n");
			if (n >= cap)
				n = cap - 1;
			memcpy(val, p, n);
			val[n] = 0;
			return true;
		}
	}
	return false;
}

/* The unsigned number after "key": in a flat JSON body; -1 if absent. */
static inline long long proc_json_num(const char *body, const char *key)
{
	char pat[128];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(body, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

#endif
