/* child.c - ending a child process (child.h). */
#include "sim/drill/child.h"

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

void child_prepare(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) /* sim died before the line above */
		_exit(126);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
