/* test_apply_feed.c - the change feed's events as the applier stores
 * them ('X' records, docs/events.md): one per flip or sum with the count
 * after it, none for a like that lost, a repeat or a duplicate batch,
 * milestones once per threshold (a dip and a return are silent, a sum
 * jumping over several announces each), ids from the message that
 * applied them (a held batch: the one that filled its gap), nothing when
 * the feed is off, and the trim.
 */
#include <criterion/criterion.h>

#include "tests/unit/central/apply_fixture.h"
#include "central/apply/apply_feed.h"
#include "central/apply/feedrec.h"
#include "central/apply/keys.h"
#include "feedev.h"

TestSuite(apply_feed, .init = setup, .fini = teardown, .timeout = 60);

static const uint64_t thresholds[] = {2, 3, 5};

static void feed_on(void)
{
	applier_set_feed(T.a, true, true, thresholds, 3);
}

/* Every stored event of partition p, in key then entry order. */
typedef struct evs {
	feedev_decoded v[64];
	int topic[64];
	size_t n, records;
	uint32_t next[FEEDREC_TOPICS]; /* the index the record's next event of a topic has */
} evs;

static void stored(uint32_t p, evs *out)
{
	out->n = out->records = 0;
	unsigned char pre[5];
	ckey_feed_prefix(pre, p);
	store_iter *it = store_iter_new(T.db, pre, sizeof pre);
	const char *k, *v;
	size_t kn, vn;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		cr_assert_eq(kn, CKEY_FEED_LEN);
		uint32_t kp;
		uint64_t version;
		cr_assert(ckey_parse_feed(k, kn, &kp, &version));
		if (version == CKEY_FEED_END) {
			cr_assert_eq(vn, 0, "the end key holds no events");
			continue;
		}
		out->records++;
		memset(out->next, 0, sizeof out->next);
		size_t pos = FEEDREC_HEAD;
		feedrec_ent e;
		bool bad;
		while (feedrec_next(v, vn, &pos, &e, &bad)) {
			cr_assert_lt(out->n, 64);
			/* Stored compact; the publisher's JSON is what is read. */
			cr_assert_not(feedrec_event_is_json(e.val, e.vn));
			feedev ev;
			feedev_id id = {version_epoch(version), kp, version_offset(version),
			                e.index};
			cr_assert(feedrec_event_get(&e, id, &ev), "entry %u malformed", e.index);
			sbuf json;
			sbuf_init(&json);
			feedev_encode(&ev, &json);
			cr_assert_eq(feedev_decode(json.p, json.len, &out->v[out->n]), 0, "%.*s",
			             (int)json.len, json.p);
			sbuf_free(&json);
			cr_assert_eq(out->v[out->n].ev.id.index, e.index);
			cr_assert_eq(e.index, out->next[e.topic]++, "indexes count per topic");
			/* The key is the item; a move's, its user. */
			const char *key = out->v[out->n].ev.type == FEEDEV_HOME
			                      ? out->v[out->n].user
			                      : out->v[out->n].item;
			cr_assert_eq(e.kn, strlen(key));
			cr_assert_eq(memcmp(e.key, key, e.kn), 0,
			             "the key is the item, or a move's user");
			out->topic[out->n++] = e.topic;
		}
		cr_assert_not(bad, "record malformed");
	}
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
}

static void is_set(const evs *e, size_t i, const char *user, bool member, uint64_t count)
{
	cr_assert_lt(i, e->n);
	const feedev_decoded *d = &e->v[i];
	cr_assert_eq(e->topic[i], FEEDREC_CHANGES);
	cr_assert_eq(d->ev.type, FEEDEV_SET, "event %zu: type %d", i, d->ev.type);
	cr_assert_str_eq(d->user, user);
	cr_assert_eq(d->ev.member, member, "event %zu", i);
	cr_assert_eq(d->ev.count, count, "event %zu: count %llu", i,
	             (unsigned long long)d->ev.count);
}

static void is_milestone(const evs *e, size_t i, uint64_t threshold, uint64_t count)
{
	cr_assert_lt(i, e->n);
	cr_assert_eq(e->topic[i], FEEDREC_MILESTONES);
	cr_assert_eq(e->v[i].ev.type, FEEDEV_MILESTONE);
	cr_assert_eq(e->v[i].ev.threshold, threshold, "event %zu", i);
	cr_assert_eq(e->v[i].ev.count, count);
}

Test(apply_feed, flips_make_events_with_the_count_after)
{
	feed_on();
	wire_op ops[] = {like_op("u1", true, 10), like_op("u2", true, 11),
	                 like_op("u1", false, 12)};
	apply_msg(0, 7, make_batch("a", 0, 1, ops, 3));
	cr_assert_eq(applier_feed_made(T.a), 4);
	evs e;
	stored(0, &e);
	cr_assert_eq(e.records, 1);
	cr_assert_eq(e.n, 4);
	is_set(&e, 0, "u1", true, 1);
	is_set(&e, 1, "u2", true, 2);
	is_milestone(&e, 2, 2, 2);
	is_set(&e, 3, "u1", false, 1);
	/* Each topic numbers its own events of the message. */
	static const uint32_t index[] = {0, 1, 0, 2};
	for (size_t i = 0; i < e.n; i++) {
		feedev_id want = {0, 0, 7, index[i]};
		cr_assert_eq(feedev_id_cmp(&e.v[i].ev.id, &want), 0, "%s", e.v[i].id_text);
		cr_assert_str_eq(e.v[i].region, "eu");
	}
	cr_assert_eq(e.v[0].ev.hlc, 10);
	cr_assert_eq(count(), 1);
	cr_assert_eq(stats().feed_events, 4);
}

Test(apply_feed, what_changes_nothing_makes_nothing)
{
	feed_on();
	apply_msg(0, 0, one_op("a", 0, 1, "u1", true, 20));
	/* An unlike that lost (older clock) and a like of a liked pair. */
	wire_op ops[] = {like_op("u1", false, 10), like_op("u1", true, 30)};
	apply_msg(0, 1, make_batch("b", 0, 1, ops, 2));
	cr_assert_eq(applier_feed_made(T.a), 0);
	/* The first batch again: a duplicate. */
	apply_msg(0, 2, one_op("a", 0, 1, "u1", true, 20));
	cr_assert_eq(applier_feed_made(T.a), 0);
	evs e;
	stored(0, &e);
	cr_assert_eq(e.records, 1, "only the first message made events");
	cr_assert_eq(e.n, 1);
	is_set(&e, 0, "u1", true, 1);
}

Test(apply_feed, a_threshold_is_announced_once)
{
	feed_on();
	uint64_t seq = 1, off = 0;
	const char *users[] = {"u1", "u2", "u2", "u2", "u3"};
	const bool adds[] = {true, true, false, true, true};
	for (int i = 0; i < 5; i++)
		apply_msg(0, (int64_t)off++,
		          one_op("a", 0, seq++, users[i], adds[i], 10 + (uint64_t)i));
	evs e;
	stored(0, &e);
	/* 1, 2 (milestone 2), 1, 2 (silent), 3 (milestone 3). */
	cr_assert_eq(e.n, 7);
	is_milestone(&e, 2, 2, 2);
	is_set(&e, 3, "u2", false, 1);
	is_set(&e, 4, "u2", true, 2);
	is_set(&e, 5, "u3", true, 3);
	is_milestone(&e, 6, 3, 3);
	/* Restarted: the level is in the store, not in memory. */
	reopen();
	feed_on();
	apply_msg(0, (int64_t)off++, one_op("a", 0, seq++, "u3", false, 20));
	apply_msg(0, (int64_t)off++, one_op("a", 0, seq++, "u3", true, 21));
	stored(0, &e);
	cr_assert_eq(e.n, 9, "a dip and a return after a restart are silent too");
}

Test(apply_feed, a_sum_over_several_thresholds_announces_each)
{
	feed_on();
	wire_op op = wire_util_op("views", ITEM, "v", WIRE_ADD, 4, 10);
	apply_msg(0, 0, make_batch("a", 0, 1, &op, 1));
	op.n = 3;
	apply_msg(0, 1, make_batch("a", 0, 2, &op, 1));
	evs e;
	stored(0, &e);
	cr_assert_eq(e.n, 5);
	cr_assert_eq(e.v[0].ev.type, FEEDEV_SUM);
	cr_assert_eq(e.v[0].ev.n, 4);
	cr_assert_eq(e.v[0].ev.count, 4);
	is_milestone(&e, 1, 2, 4);
	is_milestone(&e, 2, 3, 4);
	cr_assert_eq(e.v[3].ev.count, 7);
	is_milestone(&e, 4, 5, 7);
	cr_assert_eq(e.v[4].ev.id.offset, 1);
}

Test(apply_feed, a_held_batch_carries_the_offset_that_applied_it)
{
	feed_on();
	apply_msg(0, 0, one_op("a", 0, 2, "u2", true, 11)); /* held: seq 1 missing */
	cr_assert_eq(applier_feed_made(T.a), 0);
	apply_msg(0, 1, one_op("a", 0, 1, "u1", true, 10));
	cr_assert_eq(applier_feed_made(T.a), 3);
	evs e;
	stored(0, &e);
	cr_assert_eq(e.records, 1);
	is_set(&e, 0, "u1", true, 1);
	is_set(&e, 1, "u2", true, 2);
	for (size_t i = 0; i < e.n; i++)
		cr_assert_eq(e.v[i].ev.id.offset, 1);
}

/* The version of partition p's first 'X' key at or after from, or 0 when
 * the prefix has none. */
static uint64_t next_version(uint32_t p, uint64_t from)
{
	unsigned char pre[5], start[CKEY_FEED_LEN];
	ckey_feed_prefix(pre, p);
	ckey_feed(start, p, from);
	store_iter *it = store_iter_from(T.db, pre, sizeof pre, start, sizeof start);
	const char *k, *v;
	size_t kn, vn;
	uint32_t kp;
	uint64_t version = 0;
	if (store_iter_next(it, &k, &kn, &v, &vn))
		cr_assert(ckey_parse_feed(k, kn, &kp, &version));
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	return version;
}

Test(apply_feed, every_partition_ends_in_a_key_no_drop_removes)
{
	/* The applier wrote them as it opened the store. */
	for (uint32_t p = 0; p < NPARTS; p++)
		cr_assert_eq(next_version(p, 0), CKEY_FEED_END, "partition %u", p);
	feed_on();
	apply_msg(0, 0, one_op("a", 0, 1, "u1", true, 10));
	apply_msg(0, 1, one_op("a", 0, 2, "u2", true, 11));
	cr_assert_neq(next_version(0, 0), CKEY_FEED_END);
	/* Dropping every version there is leaves the end alone. */
	cr_assert_eq(applier_feed_trim(T.a, 0, 0, UINT64_MAX), 0);
	cr_assert_eq(next_version(0, 0), CKEY_FEED_END);
	evs e;
	stored(0, &e);
	cr_assert_eq(e.records, 0);
	/* Closing again adds nothing and keeps it. */
	cr_assert_eq(feed_records_close(T.db, NPARTS), 0);
	cr_assert_eq(next_version(0, 0), CKEY_FEED_END);
	cr_assert_eq(next_version(0, CKEY_FEED_END), CKEY_FEED_END);
}

Test(apply_feed, off_stores_nothing_and_trim_drops_a_range)
{
	apply_msg(0, 0, one_op("a", 0, 1, "u1", true, 10));
	evs e;
	stored(0, &e);
	cr_assert_eq(e.records, 0, "the feed is off until set");
	feed_on();
	for (uint64_t s = 2; s <= 5; s++)
		apply_msg(0, (int64_t)s, one_op("a", 0, s, "u1", s % 2 == 1, 10 + s));
	stored(0, &e);
	cr_assert_eq(e.records, 4);
	cr_assert_eq(applier_feed_trim(T.a, 0, 0, 3), 0);
	stored(0, &e);
	cr_assert_eq(e.records, 2, "offsets 2 and 3 dropped");
	cr_assert_eq(e.v[0].ev.id.offset, 4);
}

/* --- home streams ------------------------------------------------------------ */

static wire_op from_home(const char *user, bool add, uint64_t ts, const char *home)
{
	wire_op op = like_op(user, add, ts);
	op.home = wire_cstr(home, strlen(home));
	return op;
}

Test(apply_feed, a_change_made_away_from_home_goes_to_the_home_stream)
{
	const char *homes[] = {"us", "ap"};
	applier_set_homes(T.a, homes, 2);
	/* Made in "eu" by users at home in "ap" and "us"; one in "jp",
	 * which has no stream here; one at home where it was made. */
	wire_op ops[] = {from_home("u1", true, 10, "ap"), from_home("u2", true, 11, "us"),
	                 from_home("u3", true, 12, "jp"), from_home("u4", true, 13, "eu"),
	                 like_op("u5", true, 14)};
	apply_msg(0, 3, make_batch("a", 0, 1, ops, 5));
	evs e;
	stored(0, &e);
	cr_assert_eq(e.n, 2, "only the home streams are on");
	cr_assert_eq(e.topic[0], FEEDREC_HOMES + 1);
	cr_assert_str_eq(e.v[0].user, "u1");
	cr_assert_eq(e.topic[1], FEEDREC_HOMES + 0);
	cr_assert_str_eq(e.v[1].user, "u2");
	for (size_t i = 0; i < 2; i++) {
		cr_assert_eq(e.v[i].ev.type, FEEDEV_SET);
		cr_assert(e.v[i].ev.member);
		cr_assert_str_eq(e.v[i].region, "eu", "where the winning op was made");
		cr_assert_eq(e.v[i].ev.count, i + 1);
		cr_assert_eq(e.v[i].ev.id.index, 0, "each stream numbers its own");
	}
	cr_assert_eq(stats().home_unrouted, 1, "jp");
}

Test(apply_feed, a_home_stream_gets_every_change_of_state_and_nothing_else)
{
	const char *homes[] = {"us"};
	applier_set_homes(T.a, homes, 1);
	apply_msg(0, 0, make_batch("a", 0, 1, (wire_op[]){from_home("u1", true, 10, "us")}, 1));
	/* A newer like of a liked pair moves no count but the state's
	 * clock: the home edge keeps last-writer-wins by it. A losing
	 * unlike changes nothing and goes nowhere. */
	apply_msg(0, 1, make_batch("a", 0, 2, (wire_op[]){from_home("u1", true, 20, "us")}, 1));
	apply_msg(0, 2, make_batch("a", 0, 3, (wire_op[]){from_home("u1", false, 5, "us")}, 1));
	evs e;
	stored(0, &e);
	cr_assert_eq(e.n, 2);
	cr_assert_eq(e.v[0].ev.hlc, 10);
	cr_assert_eq(e.v[1].ev.hlc, 20);
	cr_assert(e.v[1].ev.member);
	cr_assert_eq(e.v[1].ev.count, 1, "the count as it stands");
	applier_set_homes(T.a, NULL, 0);
	apply_msg(0, 3, make_batch("a", 0, 4, (wire_op[]){from_home("u1", false, 30, "us")}, 1));
	cr_assert_eq(applier_feed_made(T.a), 0, "off");
}

/* The compact value: every field back as it went in, at the extremes of
 * the varints; every truncation refused; JSON told apart. */
Test(apply_feed, an_event_value_reads_back_whole_and_refuses_a_cut)
{
	feedev in = {.type = FEEDEV_MILESTONE,
	             .member = false,
	             .hlc = UINT64_MAX,
	             .count = 127,
	             .n = 128,
	             .threshold = 1000000,
	             .counter = "likes",
	             .counter_n = 5,
	             .user = "",
	             .user_n = 0,
	             .region = "eu-west",
	             .region_n = 7};
	sbuf b;
	sbuf_init(&b);
	size_t at = feedrec_open(&b, FEEDREC_MILESTONES, 3, "post:1", 6);
	feedrec_event_put(&in, &b);
	feedrec_close(&b, at);
	size_t pos = 0;
	feedrec_ent e;
	bool bad;
	cr_assert(feedrec_next(b.p, b.len, &pos, &e, &bad));
	cr_assert_not(feedrec_event_is_json(e.val, e.vn));
	feedev_id id = {7, 1, 42, 3};
	feedev out;
	cr_assert(feedrec_event_get(&e, id, &out));
	cr_assert_eq(out.type, FEEDEV_MILESTONE);
	cr_assert_not(out.member);
	cr_assert_eq(out.hlc, UINT64_MAX);
	cr_assert_eq(out.count, 127);
	cr_assert_eq(out.n, 128);
	cr_assert_eq(out.threshold, 1000000);
	cr_assert_eq(out.counter_n, 5);
	cr_assert_eq(memcmp(out.counter, "likes", 5), 0);
	cr_assert_eq(out.user_n, 0);
	cr_assert_eq(out.region_n, 7);
	cr_assert_eq(memcmp(out.region, "eu-west", 7), 0);
	cr_assert_eq(out.item_n, 6);
	cr_assert_eq(memcmp(out.item, "post:1", 6), 0);
	cr_assert_eq(feedev_id_cmp(&out.id, &id), 0);
	for (size_t cut = 0; cut < e.vn; cut++) {
		feedrec_ent short_e = e;
		short_e.vn = cut;
		cr_assert_not(feedrec_event_get(&short_e, id, &out), "cut at %zu", cut);
	}
	feedrec_ent json = e;
	json.val = "{\"v\":1}";
	json.vn = 7;
	cr_assert(feedrec_event_is_json(json.val, json.vn));
	cr_assert_not(feedrec_event_get(&json, id, &out));
	sbuf_free(&b);
}

Test(apply_feed, a_move_sends_each_pair_it_moves_to_the_new_homes_stream)
{
	const char *homes[] = {"us", "ap"};
	applier_set_homes(T.a, homes, 2);
	/* Made at home in "ap": no event then. */
	wire_op ops[] = {from_home("u1", true, 10, "ap"), from_home("u2", true, 11, "ap")};
	apply_msg(0, 0, make_batch_in("a", "ap", 0, 1, ops, 2));
	wire_op unlike = from_home("u1", false, 12, "ap");
	unlike.item = wire_cstr("post:9", 6);
	wire_op like9 = from_home("u1", true, 9, "ap");
	like9.item = wire_cstr("post:9", 6);
	apply_msg(0, 1, make_batch_in("a", "ap", 0, 2, (wire_op[]){like9, unlike}, 2));
	cr_assert_eq(applier_feed_made(T.a), 0);
	apply_msg(0, 2, wire_util_move(0, "u1", "us", 1000));
	evs e;
	stored(0, &e);
	cr_assert_eq(e.n, 4, "u1's two pairs, not u2's, then the move on both streams");
	for (size_t i = 2; i < 4; i++) {
		cr_assert_eq(e.v[i].ev.type, FEEDEV_HOME);
		cr_assert_eq(e.topic[i], FEEDREC_HOMES + (int)(i - 2), "every home stream");
		cr_assert_str_eq(e.v[i].user, "u1");
		cr_assert_str_eq(e.v[i].region, "us", "the new home");
		cr_assert_eq(e.v[i].ev.n, 1000, "the move's since");
	}
	cr_assert_eq(e.v[2].ev.id.index, 2, "after the pairs on the new home's stream");
	cr_assert_eq(e.v[3].ev.id.index, 0, "the first on the other's");
	for (size_t i = 0; i < 2; i++) {
		cr_assert_eq(e.topic[i], FEEDREC_HOMES + 0, "the new home's stream");
		cr_assert_str_eq(e.v[i].user, "u1");
		cr_assert_str_eq(e.v[i].region, "ap", "where the winning op was made");
		cr_assert_eq(e.v[i].ev.id.offset, 2, "made by the move's offset");
		cr_assert_eq(e.v[i].ev.id.index, i);
	}
	cr_assert_str_eq(e.v[0].item, ITEM);
	cr_assert(e.v[0].ev.member);
	cr_assert_eq(e.v[0].ev.hlc, 10);
	cr_assert_eq(e.v[0].ev.count, 2);
	cr_assert_str_eq(e.v[1].item, "post:9");
	cr_assert_not(e.v[1].ev.member, "an unlike goes too");
	cr_assert_eq(e.v[1].ev.hlc, 12);
	cr_assert_eq(e.v[1].ev.count, 0);
}

Test(apply_feed, a_move_of_a_user_with_no_pairs_still_tells_every_stream)
{
	const char *homes[] = {"us", "ap"};
	applier_set_homes(T.a, homes, 2);
	apply_msg(3, 0, wire_util_move(3, "nobody", "ap", 7));
	evs e;
	stored(3, &e);
	cr_assert_eq(e.n, 2, "a home event on each stream, nothing else");
	for (size_t i = 0; i < 2; i++) {
		cr_assert_eq(e.v[i].ev.type, FEEDEV_HOME);
		cr_assert_str_eq(e.v[i].user, "nobody");
		cr_assert_str_eq(e.v[i].region, "ap");
	}
}
