/* child.c - ending a child process (child.h). */
#include "sim/drill/child.h"

#include <signal.h>
#include <stdint.h>
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
