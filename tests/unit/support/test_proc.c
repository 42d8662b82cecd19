/* test_proc.c - the test helpers' port picker (tests/support/proc.h):
 * within one process no port is handed out twice, even when nothing has
 * bound the earlier ones yet, and a forked child does not draw its
 * parent's ports again. Two edges given one port would both bind it
 * (SO_REUSEPORT) and share its connections. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/proc.h"

Test(proc, a_port_is_handed_out_once_until_the_range_runs_out)
{
	/* Ten ports, none bound by anyone: each pick must differ. */
	cr_assert_eq(setenv("ITEST_PORTS", "30500-30509", 1), 0);
	bool seen[10] = {0};
	for (int i = 0; i < 10; i++) {
		int p = proc_free_port();
		cr_assert(p >= 30500 && p <= 30509, "pick %d: %d", i, p);
		cr_assert(!seen[p - 30500], "port %d handed out twice", p);
		seen[p - 30500] = true;
	}
	cr_assert_eq(proc_free_port(), -1, "every port of the range was handed out");
}

Test(proc, a_forked_child_draws_other_ports_than_its_parent)
{
	cr_assert_eq(setenv("ITEST_PORTS", "30600-30609", 1), 0);
	int mine[5];
	for (int i = 0; i < 5; i++)
		mine[i] = proc_free_port();
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int p = proc_free_port();
		_exit(write(fds[1], &p, sizeof p) == (ssize_t)sizeof p ? 0 : 1);
	}
	int theirs = 0;
	cr_assert_eq(read(fds[0], &theirs, sizeof theirs), (ssize_t)sizeof theirs);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	close(fds[0]);
	close(fds[1]);
	for (int i = 0; i < 5; i++)
		cr_assert_neq(theirs, mine[i], "the child drew its parent's port %d", mine[i]);
}
