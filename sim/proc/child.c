/* child.c - starting, waiting for and ending a child process (child.h). */
#include "sim/proc/child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"

void child_end(pid_t pid, unsigned grace_ms)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	uint64_t end = clock_mono_ms() + grace_ms;
	while (waitpid(pid, NULL, WNOHANG) == 0) {
		if (clock_mono_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return;
		}
		usleep(20 * 1000);
	}
}

int child_wait(pid_t pid, unsigned ms, bool (*give_up)(void))
{
	uint64_t end = clock_mono_ms() + ms;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if ((r < 0 && errno != EINTR) || clock_mono_ms() > end || (give_up && give_up())) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		usleep(20 * 1000);
	}
}

void child_prepare(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) /* sim died before the line above */
		_exit(126);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

extern char **environ;

pid_t child_spawn(const char *log, const char *const *argv, int (*enter)(const void *ctx),
                  const void *ctx)
{
	return child_spawn_env(log, argv, NULL, enter, ctx);
}

pid_t child_spawn_env(const char *log, const char *const *argv, char *const *env,
                      int (*enter)(const void *ctx), const void *ctx)
{
	int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0)
		return -1;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* Only async-signal-safe calls until exec: sim has threads. */
		child_prepare(parent);
		int st = enter ? enter(ctx) : 0;
		if (st)
			_exit(st);
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		execve(argv[0], (char *const *)argv, env ? env : environ);
		_exit(127);
	}
	int saved = errno;
	close(logfd);
	errno = saved;
	return pid;
}
