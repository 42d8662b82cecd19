/* test_kelections.c - leader changes read from a DumpLogSegments text
 * (sim/kafka/elections.c): the lines have the shape Kafka 4.4's tool
 * prints for a KRaft metadata log; a partition's first leader is no
 * change, an ISR change is none, a partition left without a leader and
 * one given one again are, and a topic made again starts afresh. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "sim/kafka/elections.h"

TestSuite(kelections, .timeout = 10);

/* A record's line: its offset and CreateTime, its payload. */
typedef struct rec {
	int offset;
	long long ms;
	const char *json;
} rec;

static const rec recs[] = {
    {22, 1000,
     "{\"type\":\"TOPIC_RECORD\",\"version\":0,\"data\":{\"name\":"
     "\"likes.changelog\",\"topicId\":\"AAA\"}}"},
    {23, 1000,
     "{\"type\":\"TOPIC_RECORD\",\"version\":0,\"data\":{\"name\":"
     "\"likes.batches\",\"topicId\":\"BBB\"}}"},
    {24, 1000,
     "{\"type\":\"PARTITION_RECORD\",\"version\":2,\"data\":{\"partitionId\":0,"
     "\"topicId\":\"AAA\",\"replicas\":[1,2,3],\"isr\":[1,2,3],\"leader\":1,"
     "\"leaderEpoch\":0}}"},
    {25, 1000,
     "{\"type\":\"PARTITION_RECORD\",\"version\":2,\"data\":{\"partitionId\":1,"
     "\"topicId\":\"BBB\",\"replicas\":[2,3,1],\"isr\":[2,3,1],\"leader\":2}}"},
    /* node 1 lost: the changelog's leader moves to 2 */
    {53, 2000,
     "{\"type\":\"PARTITION_CHANGE_RECORD\",\"version\":2,\"data\":{"
     "\"partitionId\":0,\"topicId\":\"AAA\",\"isr\":[2,3],\"leader\":2}}"},
    /* the ISR alone grows back: no election */
    {64, 3000,
     "{\"type\":\"PARTITION_CHANGE_RECORD\",\"version\":2,\"data\":{"
     "\"partitionId\":0,\"topicId\":\"AAA\",\"isr\":[1,2,3]}}"},
    /* every replica of the batches' partition 1 gone, then 3 back */
    {70, 4000,
     "{\"type\":\"PARTITION_CHANGE_RECORD\",\"version\":2,\"data\":{"
     "\"partitionId\":1,\"topicId\":\"BBB\",\"isr\":[2],\"leader\":-1}}"},
    {71, 5000,
     "{\"type\":\"PARTITION_CHANGE_RECORD\",\"version\":2,\"data\":{"
     "\"partitionId\":1,\"topicId\":\"BBB\",\"leader\":3,"
     "\"leaderRecoveryState\":1}}"},
    /* the changelog made again: a new id, its first leader no change */
    {80, 6000,
     "{\"type\":\"REMOVE_TOPIC_RECORD\",\"version\":0,\"data\":{"
     "\"topicId\":\"AAA\"}}"},
    {81, 6000,
     "{\"type\":\"TOPIC_RECORD\",\"version\":0,\"data\":{\"name\":"
     "\"likes.changelog\",\"topicId\":\"CCC\"}}"},
    {82, 6000,
     "{\"type\":\"PARTITION_RECORD\",\"version\":2,\"data\":{\"partitionId\":0,"
     "\"topicId\":\"CCC\",\"replicas\":[3,1,2],\"isr\":[3,1,2],\"leader\":3}}"},
    {90, 7000,
     "{\"type\":\"PARTITION_CHANGE_RECORD\",\"version\":2,\"data\":{"
     "\"partitionId\":0,\"topicId\":\"CCC\",\"leader\":1}}"},
};

/* The dump: the tool's own lines, a batch header, the records, and a
 * line cut short, as a tool killed mid-write leaves it. */
static char dump[8192];

static void make_dump(void)
{
	size_t n = (size_t)snprintf(
	    dump, sizeof dump,
	    "Dumping /x/node1/meta/__cluster_metadata-0/00000000000000000000.log\n"
	    "Log starting offset: 0\n"
	    "baseOffset: 22 lastOffset: 30 count: 9 baseSequence: -1 producerId: -1 "
	    "isTransactional: false isControl: false CreateTime: 1000 size: 330 isvalid: true\n"
	    /* a control record: the quorum's own leader, not a partition's */
	    "| offset: 0 CreateTime: 900 keySize: 4 valueSize: 34 sequence: -1 headerKeys: [] "
	    "LeaderChange: {\"version\":0,\"leaderId\":3,\"voters\":[{\"voterId\":1}],"
	    "\"grantingVoters\":[{\"voterId\":1}]}\n");
	for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++)
		n += (size_t)snprintf(dump + n, sizeof dump - n,
		                      "| offset: %d CreateTime: %lld keySize: -1 valueSize: 41 "
		                      "sequence: -1 headerKeys: [] payload: %s\n",
		                      recs[i].offset, recs[i].ms, recs[i].json);
	snprintf(dump + n, sizeof dump - n,
	         "| offset: 91 CreateTime: 8000 payload: {\"type\":\"PARTITION_CHANGE_REC\n");
}

static size_t read_all(kelection *out, size_t cap)
{
	make_dump();
	FILE *f = fmemopen(dump, strlen(dump), "r");
	cr_assert_not_null(f);
	size_t n = kelections_read(f, out, cap);
	fclose(f);
	return n;
}

Test(kelections, every_leader_move_in_log_order_and_nothing_else)
{
	kelection e[8];
	cr_assert_eq(read_all(e, 8), 4);
	cr_assert_str_eq(e[0].topic, "likes.changelog");
	cr_assert_eq(e[0].partition, 0);
	cr_assert_eq(e[0].from, 1);
	cr_assert_eq(e[0].to, 2);
	cr_assert_eq(e[0].at_ms, 2000);

	cr_assert_str_eq(e[1].topic, "likes.batches");
	cr_assert_eq(e[1].partition, 1);
	cr_assert_eq(e[1].from, 2);
	cr_assert_eq(e[1].to, KELECT_NONE, "left without a leader is a change");
	cr_assert_eq(e[1].at_ms, 4000);

	cr_assert_eq(e[2].from, KELECT_NONE);
	cr_assert_eq(e[2].to, 3, "an unclean election is a change too");

	cr_assert_str_eq(e[3].topic, "likes.changelog", "the new topic's name, by its new id");
	cr_assert_eq(e[3].from, 3, "the topic made again started on its own first leader");
	cr_assert_eq(e[3].to, 1);
	cr_assert_eq(e[3].at_ms, 7000);
}

Test(kelections, counts_past_its_room)
{
	kelection e[2];
	memset(e, 0, sizeof e);
	cr_assert_eq(read_all(e, 2), 4, "how many there were, not how many fit");
	cr_assert_eq(e[1].to, KELECT_NONE);
}

Test(kelections, nothing_from_a_text_that_is_not_a_dump)
{
	static const char junk[] = "Error: Could not find or load main class x\n"
	                           "payload: {\"type\":\"PARTITION_CHANGE_RECORD\"}\n";
	FILE *f = fmemopen((void *)junk, sizeof junk - 1, "r");
	kelection e[1];
	cr_assert_eq(kelections_read(f, e, 1), 0);
	fclose(f);
}
