/* test_check.c - the drill checker can fail: fake centrals and edges
 * (listeners of one fakesrv.h server, on its own thread) answer counts
 * and digests chosen by each test, and check_converge / check_digests
 * must name what disagrees, and a central that is not running; a count
 * given-up ops leave open passes in its range only alike everywhere.
 */
#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/drill/check.h"
#include "sim/drill/report_svg.h"
#include "tests/support/fakesrv.h"
#include "log.h"

/* One fake daemon: what it answers to /v1/counts and /v1/digest. */
typedef struct fake {
	int port;
	char counts[512];
	char digest[128];
	atomic_int hits;
} fake;

static struct {
	fakesrv srv;
	fake central, edge, replica;
	drill d;
	cluster c;
	report *r;
} T;

static void answer(struct evhttp_request *req, void *arg)
{
	fake *f = arg;
	atomic_fetch_add(&f->hits, 1);
	const char *uri = evhttp_request_get_uri(req);
	const char *body = strncmp(uri, "/v1/digest", 10) == 0 ? f->digest : f->counts;
	struct evbuffer *out = evbuffer_new();
	evbuffer_add(out, body, strlen(body));
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

static void setup(void)
{
	log_threshold = LOG_ERROR;
	memset(&T, 0, sizeof T);
	cr_assert_eq(evthread_use_pthreads(), 0);
	fakesrv_init(&T.srv);
	T.central.port = fakesrv_listen(&T.srv, NULL, answer, &T.central);
	T.edge.port = fakesrv_listen(&T.srv, NULL, answer, &T.edge);
	T.replica.port = fakesrv_listen(&T.srv, NULL, answer, &T.replica);
	fakesrv_start(&T.srv);

	snprintf(T.d.name, sizeof T.d.name, "fake");
	T.d.regions = 1;
	T.d.centrals = 1;
	T.c.d = &T.d;
	/* The fakes are served by this process: its pid is theirs, so the
	 * checker finds them running. */
	T.c.centrals[0] = (cluster_node){
	    .kind = DRILL_CENTRAL, .name = "central0", .port = T.central.port, .pid = getpid()};
	T.c.centrals[1] = (cluster_node){
	    .kind = DRILL_CENTRAL, .name = "central1", .port = T.replica.port, .pid = getpid()};
	T.c.edges[0] = (cluster_node){
	    .kind = DRILL_EDGE, .name = "edge0", .port = T.edge.port, .pid = getpid()};
	T.r = report_new("fake", true, 1);
}

static void teardown(void)
{
	fakesrv_stop(&T.srv);
	report_free(T.r);
}

TestSuite(check, .init = setup, .fini = teardown, .timeout = 30);

static const load_truth_entry truth[] = {
    {"likes", "post:a", 3, 3, 3},
    {"views", "post:a", 10, 10, 10},
    {"likes", "post:b", 0, 0, 0},
};

/* post:a's likes left open by given-up ops: 2..4. */
static const load_truth_entry open_truth[] = {
    {"likes", "post:a", 3, 2, 4},
    {"views", "post:a", 10, 10, 10},
};

static void answers(const char *central, const char *edge)
{
	snprintf(T.central.counts, sizeof T.central.counts, "%s", central);
	snprintf(T.edge.counts, sizeof T.edge.counts, "%s", edge);
}

Test(check, agreeing_counts_converge_without_violations)
{
	answers("{\"items\":{\"post:a\":{\"counts\":{\"likes\":3,\"views\":10}},"
	        "\"post:b\":{\"counts\":{\"likes\":0,\"views\":0}}}}",
	        "{\"counts\":{\"post:a\":{\"likes\":3,\"views\":10},"
	        "\"post:b\":{\"likes\":0,\"views\":0}}}");
	double secs = -1;
	cr_assert(check_converge(&T.c, truth, 3, 2, T.r, &secs));
	cr_assert_eq(report_violations(T.r), 0);
	cr_assert_geq(secs, 0);
	cr_assert_gt(atomic_load(&T.central.hits), 0, "central was asked");
	cr_assert_gt(atomic_load(&T.edge.hits), 0, "the edge was asked");
}

Test(check, a_wrong_or_missing_count_is_a_violation)
{
	/* Central double counts a view; the edge does not know post:b. */
	answers(
	    "{\"items\":{\"post:a\":{\"counts\":{\"likes\":3,\"views\":11}},"
	    "\"post:b\":{\"counts\":{\"likes\":0,\"views\":0}}}}",
	    "{\"counts\":{\"post:a\":{\"likes\":3,\"views\":10}},\"missing\":[\"post:b/likes\"]}");
	double secs;
	cr_assert_not(check_converge(&T.c, truth, 3, 1, T.r, &secs));
	cr_assert_eq(report_violations(T.r), 2);
	cr_assert_geq(secs, 1, "it waited for the deadline");
	cr_assert_not(report_passed(T.r));
}

Test(check, an_open_count_passes_anywhere_in_its_range_if_alike_everywhere)
{
	answers("{\"items\":{\"post:a\":{\"counts\":{\"likes\":4,\"views\":10}}}}",
	        "{\"counts\":{\"post:a\":{\"likes\":4,\"views\":10}}}");
	double secs;
	cr_assert(check_converge(&T.c, open_truth, 2, 1, T.r, &secs));
	cr_assert_eq(report_violations(T.r), 0);
}

Test(check, an_open_count_that_differs_between_nodes_is_a_violation)
{
	/* Both in range, but counted at central and not at the edge. */
	answers("{\"items\":{\"post:a\":{\"counts\":{\"likes\":4,\"views\":10}}}}",
	        "{\"counts\":{\"post:a\":{\"likes\":3,\"views\":10}}}");
	double secs;
	cr_assert_eq(check_counts_off(&T.c, open_truth, 2, 1, T.r, &secs), 1);
	cr_assert_eq(report_violations(T.r), 1);
}

Test(check, an_open_count_outside_its_range_is_a_violation)
{
	answers("{\"items\":{\"post:a\":{\"counts\":{\"likes\":5,\"views\":10}}}}",
	        "{\"counts\":{\"post:a\":{\"likes\":5,\"views\":10}}}");
	double secs;
	cr_assert_not(check_converge(&T.c, open_truth, 2, 1, T.r, &secs));
	cr_assert_eq(report_violations(T.r), 2, "at central and at the edge");
}

Test(check, a_central_not_running_at_the_end_is_a_violation)
{
	answers("{\"items\":{\"post:a\":{\"counts\":{\"likes\":3,\"views\":10}},"
	        "\"post:b\":{\"counts\":{\"likes\":0,\"views\":0}}}}",
	        "{\"counts\":{\"post:a\":{\"likes\":3,\"views\":10},"
	        "\"post:b\":{\"likes\":0,\"views\":0}}}");
	T.c.centrals[0].pid = 0; /* stopped, or never started again */
	double secs;
	check_converge(&T.c, truth, 3, 1, T.r, &secs);
	cr_assert_eq(report_violations(T.r), 1);
	cr_assert_not(report_passed(T.r));
}

Test(check, replicas_with_different_digests_are_a_violation)
{
	T.d.centrals = 2;
	snprintf(T.central.digest, sizeof T.central.digest,
	         "{\"digest\":\"00aa\",\"keys\":5,\"offsets\":[4,4]}");
	snprintf(T.replica.digest, sizeof T.replica.digest,
	         "{\"digest\":\"00aa\",\"keys\":5,\"offsets\":[4,4]}");
	cr_assert(check_digests(&T.c, 1, T.r));
	cr_assert_eq(report_violations(T.r), 0);
	snprintf(T.replica.digest, sizeof T.replica.digest,
	         "{\"digest\":\"00bb\",\"keys\":5,\"offsets\":[4,4]}");
	cr_assert_not(check_digests(&T.c, 1, T.r));
	cr_assert_eq(report_violations(T.r), 1);
}

/* --- Kafka's own unclean elections ------------------------------------------- */

static void write_file_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

Test(check, unclean_elections_in_the_real_nodes_logs_are_counted_and_named)
{
	char dir[] = "/tmp/test_check_elections.XXXXXX", path[256], cmd[300];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/kafka-r0", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	for (int i = 1; i <= 2; i++) {
		snprintf(path, sizeof path, "%s/kafka-r0/node%d", dir, i);
		cr_assert_eq(mkdir(path, 0755), 0);
	}
	/* As Kafka 4.0's controller logs them (one line each). */
	snprintf(path, sizeof path, "%s/kafka-r0/node1/out.log", dir);
	write_file_text(path, "[2026-11-29 07:15:14,172] INFO Setting new leader for topicId "
	                      "pRoK7dS1TlChdkgIZVRqjw, partition 0 to 3 using an unclean election. "
	                      "Previous partition: PartitionRegistration(replicas=[1, 2, 3])\n"
	                      "[2026-11-29 07:15:14,180] INFO Setting new leader for topicId "
	                      "5GYZuBoaQ76IrfxNGklhRg, partition 1 to 2 using ELR. Previous ...\n");
	snprintf(path, sizeof path, "%s/kafka-r0/node2/out.log", dir);
	write_file_text(path, "[2026-11-29 07:13:55,303] INFO nothing of note\n");
	T.d.regional_kafka = true;
	T.c.regional[0] = (kproc){.name = "kafka-r0", .real = true, .nbrokers = 2};
	snprintf(T.c.regional[0].log, sizeof T.c.regional[0].log, "%s/kafka-r0.log", dir);
	check_kafka_elections(&T.c, 0, T.r);
	cr_assert_eq(report_violations(T.r), 0, "Kafka's choice, judged by the counts");
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cr_assert_not_null(f);
	report_write_summary(T.r, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert(strstr(text, "kafka_unclean_elections"), "%s", text);
	const char *at = strstr(text, "kafka_unclean_elections ");
	cr_assert_not_null(at, "%s", text);
	cr_assert_eq(strtol(at + strlen("kafka_unclean_elections "), NULL, 10), 1, "%s", text);
	cr_assert(strstr(text, "kafka-r0 node1: pRoK7dS1TlChdkgIZVRqjw, partition 0 to 3"), "%s",
	          text);
	/* No sim kafka runs to ask for its leader changes: none are given,
	 * rather than a 0 that would read as none moved. */
	cr_assert(strstr(text, "kafka_leader_changes_unread"), "%s", text);
	cr_assert_null(strstr(text, "kafka_changelog_leader_changes"), "%s", text);
	free(text);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}
