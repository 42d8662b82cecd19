/* proc.c - integration tests' helpers for the real binaries (proc.h). */
#include "tests/support/proc.h"

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

void proc_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

pid_t proc_spawn(const char *log, char *const argv[])
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

int proc_stop(pid_t pid, int sig)
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

bool proc_alive(pid_t pid)
{
	int status;
	return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

/* Whether this process handed port out already. */
static bool port_given(const int *given, size_t n, int port)
{
	for (size_t i = 0; i < n && i < PROC_PORTS_KEPT; i++)
		if (given[i] == port)
			return true;
	return false;
}

int proc_free_port(void)
{
	static unsigned seed;
	static pid_t seeded_by;
	static int lo, span;
	static int given[PROC_PORTS_KEPT];
	static size_t ngiven;
	if (seeded_by != getpid()) {
		/* A forked test process (Criterion runs each test in one)
		 * draws its own ports, not its parent's sequence again; the
		 * ports its parent handed out stay remembered. */
		seeded_by = getpid();
		seed = (unsigned)getpid() * 2654435761u ^ (unsigned)clock_mono_ms();
	}
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
		if (port_given(given, ngiven, port))
			continue;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_port = htons((uint16_t)port),
		                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
		close(fd);
		if (ok) {
			given[ngiven++ % PROC_PORTS_KEPT] = port;
			return port;
		}
	}
	return -1;
}

int proc_capture(char *out, size_t cap, const char *fmt, ...)
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

int proc_curl(char *out, size_t cap, const char *opts, int port, const char *path)
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

int proc_http(const char *method, int port, const char *path, const char *user, char *body,
              size_t cap)
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

const char *proc_body(const char *out)
{
	const char *b = out, *p;
	while ((p = strstr(b, "\r\n\r\n")) && strncmp(p + 4, "HTTP/", 5) == 0)
		b = p + 4;
	p = strstr(b, "\r\n\r\n");
	return p ? p + 4 : "";
}

bool proc_header(const char *out, const char *name, char *val, size_t cap)
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

long long proc_json_num(const char *body, const char *key)
{
	char pat[128];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(body, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}
