/* test_ktopics.c - configs/deploy/topics.conf, parsed (sim/kafka/topics.c):
 * the shipped table itself, lookups by name and by prefix, and every
 * kind of bad line with its number. */
#include <criterion/criterion.h>

#include <string.h>

#include "sim/kafka/topics.h"

TestSuite(ktopics, .timeout = 10);

Test(ktopics, the_shipped_table_holds_every_topic_the_daemons_use)
{
	ktopics ts;
	char err[256];
	cr_assert_eq(ktopics_load("configs/deploy/topics.conf", &ts, err, sizeof err), 0, "%s",
	             err);
	const char *central[] = {"likes.batches", "likes.snapshots",  "likes.deadletter",
	                         "likes.changes", "likes.milestones", "likes.home.mumbai",
	                         "likes.home.r0"};
	for (size_t i = 0; i < sizeof central / sizeof central[0]; i++) {
		const ktopic *t = ktopics_find(&ts, central[i]);
		cr_assert_not_null(t, "%s", central[i]);
		cr_assert_str_eq(t->cluster, "central");
		cr_assert_eq(t->replication, 3, "%s", central[i]);
		cr_assert_str_eq(ktopic_config_get(t, "min.insync.replicas"), "2", "%s",
		                 central[i]);
		cr_assert_str_eq(ktopic_config_get(t, "cleanup.policy"), "delete",
		                 "%s: nothing is compacted", central[i]);
	}
	const ktopic *cl = ktopics_find(&ts, "likes.changelog");
	cr_assert_not_null(cl);
	cr_assert_str_eq(cl->cluster, "regional");
	cr_assert_eq(cl->replication, 3);
	cr_assert_str_eq(ktopic_config_get(cl, "min.insync.replicas"), "2");
	cr_assert_str_eq(ktopic_config_get(cl, "cleanup.policy"), "delete",
	                 "the fencing reads the changelog's offsets as following one another");
	cr_assert_str_eq(ktopic_config_get(cl, "unclean.leader.election.enable"), "false");
	cr_assert_eq(ktopics_find(&ts, "likes.batches")->partitions, 16);
	cr_assert_null(ktopics_find(&ts, "likes.other"));
}

Test(ktopics, an_exact_name_wins_over_a_prefix_and_the_longest_prefix_over_a_shorter)
{
	ktopics ts;
	char err[256];
	const char *text = "central likes.* 4 3\n"
	                   "central likes.home.* 8 3 retention.ms=1\n"
	                   "central likes.home.r0 2 1\n";
	cr_assert_eq(ktopics_parse("t", text, &ts, err, sizeof err), 0, "%s", err);
	cr_assert_eq(ts.n, 3);
	cr_assert_eq(ktopics_find(&ts, "likes.home.r0")->partitions, 2);
	cr_assert_eq(ktopics_find(&ts, "likes.home.r1")->partitions, 8);
	cr_assert_eq(ktopics_find(&ts, "likes.batches")->partitions, 4);
	cr_assert_null(ktopics_find(&ts, "likes."), "a prefix names at least one more byte");
	cr_assert_null(ktopics_find(&ts, "other"));
	cr_assert_str_eq(ktopic_config_get(ktopics_find(&ts, "likes.home.r9"), "retention.ms"),
	                 "1");
	cr_assert_null(ktopic_config_get(ktopics_find(&ts, "likes.home.r9"), "segment.bytes"));
}

static const struct {
	const char *text;
	const char *want;
} bad[] = {
    {"central likes.batches 16\n", "t:1: want CLUSTER"},
    {"# ok\n\nedge likes.batches 16 3\n", "t:3: the cluster is central or regional"},
    {"central likes/batches 16 3\n", "t:1: not a topic name"},
    {"central * 16 3\n", "t:1: not a topic name"},
    {"central a*b 16 3\n", "t:1: not a topic name"},
    {"central likes.batches 0 3\n", "t:1: partitions"},
    {"central likes.batches 16 17\n", "t:1: replication"},
    {"central likes.batches 16 3 retention.ms\n", "t:1: a config is KEY=VALUE"},
    {"central likes.batches 16 3 =1\n", "t:1: a config is KEY=VALUE"},
    {"central likes.batches 16 3 a=\n", "t:1: a config is KEY=VALUE"},
    {"central a 1 1\nregional a 1 1\n", "t:2: the topic is listed twice"},
    {"central a 1 1 k=1 k=2 k=3 k=4 k=5 k=6 k=7 k=8 k=9 k=10 k=11 k=12 k=13 k=14 k=15 k=16 "
     "k=17\n",
     "t:1: too many configs"},
};

Test(ktopics, a_bad_line_is_named_with_its_number)
{
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ktopics ts;
		char err[256] = "";
		cr_assert_eq(ktopics_parse("t", bad[i].text, &ts, err, sizeof err), ERR_CONFIG,
		             "accepted: %s", bad[i].text);
		cr_assert(strstr(err, bad[i].want), "want '%s' in '%s'", bad[i].want, err);
	}
	ktopics ts;
	char err[256];
	cr_assert_eq(ktopics_load("/nonexistent/topics.conf", &ts, err, sizeof err), ERR_IO);
}
