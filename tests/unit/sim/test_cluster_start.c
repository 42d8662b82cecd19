/* test_cluster_start.c - a node started again (sim/drill/cluster.h,
 * cluster_node_start) is announced to the cluster's spawned hook once
 * its process exists and before it is ready, so whatever it answers
 * while it gets ready is its new life's: the drill's checker holds an
 * answer only to what the same life acknowledged (seed 23 of the real
 * Kafka nemesis failed when the count of starts moved only once the
 * restarted standby was ready). A process that exits before it is
 * ready still was a life. The "edge" here is a shell script standing
 * in for the daemon: perl (Debian's perl-base, essential) serving
 * /healthz after a pause.
 */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "sim/drill/cluster.h"
#include "tests/support/proc.h"
#include "tests/support/testdir.h"

static char dir[64];
static cluster C;
static cluster_node N;

/* What the hook saw, call by call. */
static struct {
	int calls;
	pid_t pid;       /* the node's pid then */
	bool was_ready;  /* /healthz answered 200 then */
	const void *arg; /* the hook's argument */
} seen;

static void spawned(void *arg, const cluster_node *n)
{
	seen.calls++;
	seen.pid = n->pid;
	seen.arg = arg;
	hclient_answer a = {0};
	seen.was_ready = cluster_node_get(n, "/healthz", NULL, 200, &a) == 0 && a.status == 200;
	free(a.body);
}

/* The stand-in daemon: run as "edge -c CFG", CFG holding its port. */
static void write_edge(const char *body)
{
	char path[128];
	snprintf(path, sizeof path, "%s/edge", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(body, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, 0755), 0);
}

static void setup(void)
{
	testdir_make(dir, sizeof dir, "test_cluster_start");
	memset(&C, 0, sizeof C);
	memset(&N, 0, sizeof N);
	snprintf(C.bindir, sizeof C.bindir, "%s", dir);
	C.spawned = spawned;
	C.spawned_arg = &C;
	N.kind = DRILL_EDGE;
	N.exit_status = -1;
	N.disk_ns = -1;
	N.port = proc_free_port();
	cr_assert_gt(N.port, 0);
	snprintf(N.name, sizeof N.name, "edge0.standby");
	snprintf(N.cfg, sizeof N.cfg, "%s/edge.conf", dir);
	snprintf(N.log, sizeof N.log, "%s/edge.log", dir);
	FILE *f = fopen(N.cfg, "w");
	cr_assert_not_null(f);
	fprintf(f, "%d\n", N.port);
	cr_assert_eq(fclose(f), 0);
}

static void teardown(void)
{
	if (N.pid > 0 && N.pid != getpid()) { /* a failed assertion left it running */
		kill(N.pid, SIGKILL);
		waitpid(N.pid, NULL, 0);
	}
	testdir_remove(dir);
}

TestSuite(cluster_start, .init = setup, .fini = teardown, .timeout = 60);

Test(cluster_start, the_hook_hears_of_the_process_before_it_is_ready)
{
	/* One answer per connection, "Connection: close". */
	write_edge("#!/bin/sh\n"
	           "sleep 0.5\n"
	           "exec perl -MIO::Socket::INET -e '\n"
	           "open(my $f, \"<\", $ARGV[0]) or die; my $port = <$f>; chomp $port;\n"
	           "my $s = IO::Socket::INET->new(LocalAddr => \"127.0.0.1\", LocalPort => $port,\n"
	           "    Listen => 16, ReuseAddr => 1) or die \"listen: $!\";\n"
	           "while (my $c = $s->accept) {\n"
	           "    my $line = <$c>; $line = \"\" unless defined $line;\n"
	           "    while (my $h = <$c>) { last if $h =~ /^\\r?\\n$/ }\n"
	           "    my $st = $line =~ m{^GET /healthz } ? \"200 OK\" : \"404 Not Found\";\n"
	           "    print $c \"HTTP/1.1 $st\\r\\nContent-Length: 3\\r\\n\"\n"
	           "        . \"Connection: close\\r\\n\\r\\nok\\n\";\n"
	           "    close $c;\n"
	           "}' \"$2\"\n");
	char err[256] = "";
	cr_assert_eq(cluster_node_start(&C, &N, err, sizeof err), 0, "%s", err);
	cr_assert_eq(seen.calls, 1, "one process, one call");
	cr_assert_eq(seen.arg, &C);
	cr_assert_gt(seen.pid, 0, "called once the process exists");
	cr_assert_eq(seen.pid, N.pid);
	cr_assert_not(seen.was_ready, "called before /healthz answered");
	hclient_answer a = {0};
	cr_assert_eq(cluster_node_get(&N, "/healthz", NULL, 1000, &a), 0);
	cr_assert_eq(a.status, 200, "ready once cluster_node_start returned");
	free(a.body);
	cr_assert_eq(cluster_node_signal(&N, SIGKILL), 0);
	cr_assert_eq(N.pid, 0);
	/* Started again: a second life, a second call. */
	cr_assert_eq(cluster_node_start(&C, &N, err, sizeof err), 0, "%s", err);
	cr_assert_eq(seen.calls, 2);
	cr_assert_not(seen.was_ready);
	cr_assert_eq(cluster_node_signal(&N, SIGKILL), 0);
}

Test(cluster_start, a_process_that_exits_before_it_is_ready_was_a_life)
{
	write_edge("#!/bin/sh\nexit 3\n");
	char err[256] = "";
	cr_assert_eq(cluster_node_start(&C, &N, err, sizeof err), ERR_IO);
	cr_assert(strstr(err, "exited at start-up") != NULL, "%s", err);
	cr_assert_eq(seen.calls, 1, "the process existed, and might have answered");
	cr_assert_eq(N.pid, 0, "reaped");
	cr_assert(WIFEXITED(N.exit_status) && WEXITSTATUS(N.exit_status) == 3);
}

Test(cluster_start, a_node_already_running_is_not_started_nor_announced)
{
	N.pid = getpid(); /* as if running */
	char err[256] = "";
	cr_assert_eq(cluster_node_start(&C, &N, err, sizeof err), ERR_INVAL);
	cr_assert_eq(seen.calls, 0);
	N.pid = 0;
}
