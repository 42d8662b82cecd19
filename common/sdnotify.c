/* sdnotify.c - systemd notifications as datagrams to $NOTIFY_SOCKET
 * (sdnotify.h). Owns nothing between calls: each send opens, uses and
 * closes its own socket. Any thread.
 */
#include "sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

int sdnotify_send(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	if (!name || !name[0])
		return 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	if ((name[0] != '/' && name[0] != '@') || n >= sizeof sa.sun_path)
		return ERR_INVAL;
	memcpy(sa.sun_path, name, n);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if (name[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract: no NUL at the end, length says */
	else
		len++;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ERR_IO;
	ssize_t w = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	int e = errno;
	close(fd);
	if (w < 0) {
		log_debug("sd_notify failed", "socket=%s err=\"%s\"", name, strerror(e));
		return ERR_IO;
	}
	return 0;
}

int sdnotify_status(const char *fmt, ...)
{
	char buf[512] = "STATUS=";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + 7, sizeof buf - 7, fmt, ap);
	va_end(ap);
	return sdnotify_send(buf);
}

uint64_t sdnotify_watchdog_ms(void)
{
	const char *us = getenv("WATCHDOG_USEC");
	if (!us || !us[0])
		return 0;
	const char *pid = getenv("WATCHDOG_PID");
	if (pid && pid[0]) {
		char *end;
		errno = 0;
		long long p = strtoll(pid, &end, 10);
		if (errno || *end || p != (long long)getpid())
			return 0;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(us, &end, 10);
	if (errno || *end || v == 0)
		return 0;
	uint64_t ms = v / 2000; /* half, in ms */
	return ms ? ms : 1;
}

void sdnotify_watchdog_init(sdnotify_watchdog *w)
{
	w->interval_ms = sdnotify_watchdog_ms();
	w->next_ms = 0;
}

bool sdnotify_watchdog_tick(sdnotify_watchdog *w, uint64_t now_ms)
{
	if (!w->interval_ms || now_ms < w->next_ms)
		return false;
	w->next_ms = now_ms + w->interval_ms;
	return sdnotify_send("WATCHDOG=1") == 0;
}
