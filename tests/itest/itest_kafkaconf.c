/* itest_kafkaconf.c - the shipped local configs (configs/local/, what
 * `make run` and the browser test start) on the embedded broker: central
 * and an edge started from them, with only their paths and ports
 * overridden, carry a like end to end, and neither logs a librdkafka
 * configuration warning (kafka_fac=CONFWARN): each client gets only the
 * properties of its role ([kafka], [kafka.producer], [kafka.consumer]).
 * stack_down checks the same of every stack the other tests start.
 */
#include <criterion/criterion.h>
#include <signal.h>

#include "tests/support/prom_util.h"
#include "tests/support/stack.h"

#define WAIT_MS 30000

static void setup(void)
{
	S.nparts = 16; /* topics.partitions of the local configs (the default) */
	S.nedges = 1;
	/* The local configs' regions follow their home streams. */
	S.topics[0] = "likes.home.mumbai:16";
	S.topics[1] = "likes.home.virginia:16";
	S.topics[2] = "likes.home.singapore:16";
	testdir_make(S.dir, sizeof S.dir, "likes-itest");
	stack_start_broker();
	S.ops_port = proc_free_port();
	S.edge_port[0] = proc_free_port();
}

TestSuite(kafkaconf_itest, .init = setup, .fini = stack_down, .timeout = 120);

/* Spawns argv logging to name in the stack's dir; waits until
 * http://127.0.0.1:port/healthz answers 200 (h2c when h2). */
static pid_t spawn(char **argv, const char *name, int port, bool h2)
{
	char log[512];
	snprintf(log, sizeof log, "%s/%s", S.dir, name);
	pid_t pid = proc_spawn(log, argv);
	cr_assert_gt(pid, 0);
	uint64_t deadline = clock_mono_ms() + 20000;
	char out[256];
	for (;;) {
		int code = h2 ? proc_http("GET", port, "/healthz", NULL, NULL, 0)
		              : proc_curl(out, sizeof out, "", port, "/healthz");
		if (code == 200)
			return pid;
		cr_assert(clock_mono_ms() < deadline, "%s never answered /healthz", argv[2]);
		cr_assert(proc_alive(pid), "%s exited at start-up; its log ends:\n%s", argv[2],
		          stack_log_tail(name));
		proc_sleep_ms(50);
	}
}

/* Lines of the named log in the stack's dir holding needle (grep -c). */
static long count_lines(const char *name, const char *needle)
{
	char out[64];
	proc_capture(out, sizeof out, "grep -c '%s' '%s/%s'", needle, S.dir, name);
	return strtol(out, NULL, 10);
}

Test(kafkaconf_itest, the_shipped_local_configs_give_no_client_a_property_it_ignores)
{
	char data[400], ops[64], bs[400], listen[64], edata[400], cops[64];
	snprintf(data, sizeof data, "central.data_dir=%s/central", S.dir);
	snprintf(ops, sizeof ops, "central.ops_listen=127.0.0.1:%d", S.ops_port);
	snprintf(bs, sizeof bs, "bus.bootstrap_file=%s/bootstrap", S.dir);
	char *cargv[] = {"build/central",
	                 "-c",
	                 "configs/local/central.ini",
	                 "-s",
	                 data,
	                 "-s",
	                 ops,
	                 "-s",
	                 bs,
	                 NULL};
	S.central_pid = spawn(cargv, "central.log", S.ops_port, false);

	snprintf(edata, sizeof edata, "edge.data_dir=%s/edge", S.dir);
	snprintf(listen, sizeof listen, "http.listen=127.0.0.1:%d", S.edge_port[0]);
	snprintf(cops, sizeof cops, "central.ops=127.0.0.1:%d", S.ops_port);
	char *eargv[] = {"build/edge", "-c",  "configs/local/edge-virginia.ini",
	                 "-s",         edata, "-s",
	                 listen,       "-s",  cops,
	                 "-s",         bs,    NULL};
	S.edge_pid[0] = spawn(eargv, "edge0.log", S.edge_port[0], true);

	/* One like through both clients of each: the edge's producer,
	 * central's consumer and producer, the edge's snapshot consumer. */
	int code = proc_http("POST", S.edge_port[0], "/v1/items/post/conf1/likes", "u1", NULL, 0);
	cr_assert(code == 200 || code == 201, "like -> %d", code);
	char text[1 << 16];
	double v = 0;
	uint64_t deadline = clock_mono_ms() + WAIT_MS;
	do {
		cr_assert(clock_mono_ms() < deadline, "the like never came back in a snapshot");
		proc_sleep_ms(100);
	} while (proc_curl(text, sizeof text, "", S.edge_port[0], "/metrics") != 200 ||
	         !prom_util_value(text, "likes_edge_batches_applied_total", &v) || v < 1);

	proc_stop(S.edge_pid[0], SIGTERM);
	S.edge_pid[0] = 0;
	proc_stop(S.central_pid, SIGTERM);
	S.central_pid = 0;
	/* The clients were made and used: their lines are there. */
	cr_assert_gt(count_lines("central.log", "central started"), 0);
	cr_assert_eq(count_lines("central.log", "kafka_fac=CONFWARN"), 0, "%s",
	             stack_tail("central.log"));
	cr_assert_eq(count_lines("edge0.log", "kafka_fac=CONFWARN"), 0, "%s",
	             stack_tail("edge0.log"));
}
