/* test_checkpoint_home.c - the home checkpoint (GET /v1/checkpoint with
 * home=REGION, central/ops/opsckpt.c): exactly that region's memberships
 * of the partitions asked, from the index the applier keeps ('V' keys),
 * in the checkpoint's message shape with members instead of counts and
 * no edges, and its refusals; a store older than the index says from
 * which version the index holds every change. The store, applier, API and reader are
 * tests/support/ckpt_fixture.h's.
 */
#include "tests/support/ckpt_fixture.h"

TestSuite(checkpoint_home, .init = setup, .fini = teardown, .timeout = 120);

/* ---- the home checkpoint ------------------------------------------------- */

#define HOME_USERS 40000 /* 20,000 at home in "ap": about 5,000 a partition */
#define HOME_ITEMS 997
#define DAY_MS UINT64_C(86400000)

/* User i's home: "ap" for i % 4 of 0 or 1, "ap-south" (which starts as
 * "ap" does) for 2, none for 3. */
static const char *home_of(int i)
{
	static const char *const homes[4] = {"ap", "ap", "ap-south", NULL};
	return homes[i % 4];
}

/* User i likes item i % HOME_ITEMS; every tenth unlikes it later. */
static bool unliked(int i)
{
	return i % 10 == 0;
}

static void home_item(int i, char *out, size_t cap)
{
	item_name(i % HOME_ITEMS, out, cap);
}

/* Every user's like (pass 0), then the unlikes (pass 1), each op with its
 * user's home, from edge e in batches of one partition. */
static void add_home_likes(int e)
{
	size_t cap = 10000;
	wire_op *ops = xcalloc(cap, sizeof *ops);
	char(*items)[80] = xcalloc(cap, sizeof *items);
	char(*users)[16] = xcalloc(cap, sizeof *users);
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t p = 0; p < NPARTS; p++) {
			size_t n = 0;
			for (int i = 0; i < HOME_USERS; i++) {
				home_item(i, items[n], sizeof items[n]);
				if (partition_of(items[n], strlen(items[n]), NPARTS) != p ||
				    (pass && !unliked(i)))
					continue;
				snprintf(users[n], sizeof users[n], "u%d", i);
				ops[n] =
				    op("likes", items[n], users[n], 1, T0 + 1 + (uint64_t)pass);
				ops[n].kind = pass ? WIRE_REMOVE : WIRE_ADD;
				const char *h = home_of(i);
				if (h)
					ops[n].home = wire_cstr(h, strlen(h));
				n++;
				send_gathered(e, p, ops, &n, cap, false);
			}
			send_gathered(e, p, ops, &n, cap, true);
		}
	}
	free(ops);
	free(items);
	free(users);
}

/* Partition, then user, counter and item: the order of the stream. */
static int member_cmp(const got_member *a, const got_member *b)
{
	if (a->p != b->p)
		return a->p < b->p ? -1 : 1;
	int c = strcmp(a->user, b->user);
	if (!c)
		c = strcmp(a->counter, b->counter);
	return c ? c : strcmp(a->item, b->item);
}

static int by_member(const void *x, const void *y)
{
	return member_cmp(x, y);
}

/* What a home checkpoint of region over want should carry, from the
 * ops add_home_likes sent (not from the store), in stream order. */
static got_member *expected_members(const char *region, const bool *want, size_t *n)
{
	got_member *out = xcalloc(HOME_USERS, sizeof *out);
	*n = 0;
	for (int i = 0; i < HOME_USERS; i++) {
		got_member *m = &out[*n];
		home_item(i, m->item, sizeof m->item);
		m->p = partition_of(m->item, strlen(m->item), NPARTS);
		if (!home_of(i) || strcmp(home_of(i), region) != 0 || !want[m->p])
			continue;
		snprintf(m->counter, sizeof m->counter, "likes");
		snprintf(m->user, sizeof m->user, "u%d", i);
		m->member = !unliked(i);
		m->hlc = T0 + (unliked(i) ? 2 : 1);
		(*n)++;
	}
	qsort(out, *n, sizeof *out, by_member);
	return out;
}

/* g is the home checkpoint of region over want: the stream's shape, no
 * counts or edges anywhere, every partition's version, and exactly the
 * memberships expected, in partition then key order. */
static void check_home(const got *g, const char *region, const bool *want)
{
	check_shape(g, want);
	for (size_t i = 0; i < g->nmsgs; i++) {
		cr_assert_eq(g->msgs[i].ncounts, 0);
		cr_assert_eq(g->msgs[i].nedges, 0, "a home checkpoint carries no edges");
	}
	for (uint32_t p = 0; p < NPARTS; p++)
		if (want[p])
			cr_assert_eq(last_of(g, p)->n, applier_version(T.a, p), "partition %u", p);
	size_t n;
	got_member *x = expected_members(region, want, &n);
	cr_assert_eq(g->nmembers, n, "%s: %zu members sent, %zu expected", region, g->nmembers, n);
	for (size_t i = 0; i < n; i++) {
		const got_member *m = &g->members[i];
		if (i)
			cr_assert_lt(member_cmp(&g->members[i - 1], m), 0, "%s/%s after %s/%s",
			             m->item, m->user, g->members[i - 1].item,
			             g->members[i - 1].user);
		cr_assert_eq(member_cmp(m, &x[i]), 0, "%s/%s/%s, expected %s/%s/%s", m->counter,
		             m->item, m->user, x[i].counter, x[i].item, x[i].user);
		cr_assert_eq(m->member, x[i].member, "%s/%s", m->item, m->user);
		cr_assert_eq(m->hlc, x[i].hlc, "%s/%s", m->item, m->user);
	}
	free(x);
}

Test(checkpoint_home, home_sends_exactly_that_regions_memberships_of_the_partitions_asked)
{
	add_home_likes(0);
	add_views(1, 0, 3000, base_amount); /* counts that must not come */
	start_api(NULL);

	got g;
	fetch("/v1/checkpoint?partitions=0,2&home=ap", &g);
	bool want[NPARTS] = {true, false, true, false};
	check_home(&g, "ap", want);
	size_t full = 0;
	for (size_t i = 0; i < g.nmsgs; i++)
		full += g.msgs[i].nmembers == PER_MSG;
	cr_assert_geq(full, 2, "partitions of over 4096 members take several messages");
	got_free(&g);

	/* A region whose name starts as another's has its own. */
	fetch("/v1/checkpoint?partitions=all&home=ap-south", &g);
	bool all[NPARTS] = {true, true, true, true};
	check_home(&g, "ap-south", all);
	cr_assert_gt(g.nmembers, 9000);
	got_free(&g);

	/* A region with no users: the last messages and the end. */
	fetch("/v1/checkpoint?partitions=1-3&home=jp", &g);
	bool r13[NPARTS] = {false, true, true, true};
	check_home(&g, "jp", r13);
	cr_assert_eq(g.nmsgs, 3);
	got_free(&g);

	/* The counts checkpoint is as it was: no members. */
	fetch("/v1/checkpoint?partitions=all", &g);
	check_shape(&g, all);
	check_counts_are_the_store(&g, all);
	cr_assert_eq(g.nmembers, 0);
	got_free(&g);
}

/* ---- a retention cut ----------------------------------------------------- */

Test(checkpoint_home, since_ms_leaves_out_older_pairs_but_one_like_of_each_item)
{
	add_home_likes(0); /* every op at T0's millisecond */
	char item[80];
	item_name(7, item, sizeof item);
	uint32_t p7 = partition_of(item, strlen(item), NPARTS);
	/* A day later: the cut is that day's, so everything at T0 is old. */
	uint64_t cut = hlc_ms(T0) + DAY_MS;
	wire_op o = op("likes", item, "fresh-user", 1, hlc_make(cut + 10, 0));
	o.home = wire_cstr("ap", 2);
	send_ops(0, p7, &o, 1);
	start_api(NULL);
	bool all[NPARTS] = {true, true, true, true};

	/* A cut at T0's millisecond: nothing is older, all of it comes. */
	got g;
	char path[128];
	snprintf(path, sizeof path, "/v1/checkpoint?partitions=all&home=ap&since_ms=%" PRIu64,
	         hlc_ms(T0));
	fetch(path, &g);
	size_t n;
	got_member *x = expected_members("ap", all, &n);
	cr_assert_eq(g.nmembers, n + 1, "%zu sent, %zu expected", g.nmembers, n + 1);
	got_free(&g);

	/* A cut the next day: of the older pairs, exactly one like of each
	 * item a user of ap liked (the day's last such like central wrote:
	 * that user may have unliked it since, which the edge's newer
	 * state or its absence wins over), and no unlike; the newer pair
	 * whole. */
	snprintf(path, sizeof path, "/v1/checkpoint?partitions=all&home=ap&since_ms=%" PRIu64, cut);
	fetch(path, &g);
	check_shape(&g, all);
	bool *liked_item = xcalloc(HOME_ITEMS, sizeof *liked_item);
	size_t items_liked = 0;
	for (size_t i = 0; i < n; i++) {
		int it = atoi(strchr(x[i].item, ':') + 1);
		if (!liked_item[it]) { /* every entry was liked once (unliked: later) */
			liked_item[it] = true;
			items_liked++;
		}
	}
	bool *sent_item = xcalloc(HOME_ITEMS, sizeof *sent_item);
	size_t fresh = 0;
	for (size_t i = 0; i < g.nmembers; i++) {
		const got_member *m = &g.members[i];
		if (!strcmp(m->user, "fresh-user")) {
			fresh++;
			continue;
		}
		cr_assert(m->member, "%s/%s: no unlike is sent", m->item, m->user);
		cr_assert_lt(hlc_ms(m->hlc), cut, "%s/%s is older than the cut", m->item, m->user);
		const got_member *want = bsearch(m, x, n, sizeof *x, by_member);
		cr_assert(want, "%s/%s is a pair of ap's", m->item, m->user);
		int it = atoi(strchr(m->item, ':') + 1);
		cr_assert(!sent_item[it], "%s sent twice", m->item);
		sent_item[it] = true;
	}
	cr_assert_eq(fresh, 1, "the pair inside the window comes");
	cr_assert_eq(g.nmembers, items_liked + 1, "%zu sent, %zu items with old likes", g.nmembers,
	             items_liked);
	free(liked_item);
	free(sent_item);
	got_free(&g);
	free(x);
}

Test(checkpoint_home, a_long_run_of_old_pairs_still_sends_a_message_every_turn)
{
	/* 140,000 users liked one post long ago: more 'V' keys than two
	 * turns read, all left out, then the post's one 'G' key sends one
	 * like of it. A turn that kept nothing sends an empty message. */
	enum { LIKERS = 140000, CAP = 10000 };
	const char *item = "post:popular";
	uint32_t p = partition_of(item, strlen(item), NPARTS);
	wire_op *ops = xcalloc(CAP, sizeof *ops);
	char(*users)[16] = xcalloc(CAP, sizeof *users);
	size_t n = 0;
	for (int i = 0; i < LIKERS; i++) {
		snprintf(users[n], sizeof users[n], "u%06d", i);
		ops[n] = op("likes", item, users[n], 1, T0);
		ops[n].home = wire_cstr("ap", 2);
		n++;
		send_gathered(0, p, ops, &n, CAP, i == LIKERS - 1);
	}
	free(ops);
	free(users);
	start_api(NULL);
	got g;
	char path[128];
	snprintf(path, sizeof path, "/v1/checkpoint?partitions=%u&home=ap&since_ms=%" PRIu64, p,
	         hlc_ms(T0) + DAY_MS);
	fetch(path, &g);
	cr_assert_eq(g.status, 200);
	cr_assert(g.ended, "the end frame came");
	cr_assert_eq(g.nmembers, 1, "one like of the item");
	cr_assert_str_eq(g.members[0].item, item);
	cr_assert(g.members[0].member);
	size_t empty = 0;
	for (size_t i = 0; i < g.nmsgs; i++)
		empty += !g.msgs[i].last && g.msgs[i].nmembers == 0;
	cr_assert_geq(empty, 1, "a turn that kept nothing still sent a message");
	cr_assert(last_of(&g, p) != NULL);
	got_free(&g);
}

Test(checkpoint_home, many_items_with_old_likes_each_send_one_exactly_before_and_after_thinning)
{
	/* 3 users each liked the same 70,000 items of one partition long
	 * ago (more items than any in-memory set of a bounded size would
	 * hold), and one of them 5 more items on the cut's day, before
	 * the cut: each item comes exactly once, those 5 with every pair
	 * of that day (the window is sent from the cut day's start). */
	enum { ITEMS = 70000, CAP = 10000 };
	uint32_t p = 1;
	wire_op *ops = xcalloc(CAP, sizeof *ops);
	char(*items)[24] = xcalloc(ITEMS, sizeof *items);
	size_t nitems = 0, n = 0;
	for (int i = 0; nitems < ITEMS; i++) {
		snprintf(items[nitems], sizeof items[nitems], "post:m%d", i);
		if (partition_of(items[nitems], strlen(items[nitems]), NPARTS) == p)
			nitems++;
	}
	const char *users[3] = {"ua", "ub", "uc"};
	for (int u = 0; u < 3; u++)
		for (size_t i = 0; i < ITEMS; i++) {
			ops[n] = op("likes", items[i], users[u], 1, T0);
			ops[n].home = wire_cstr("ap", 2);
			n++;
			send_gathered(0, p, ops, &n, CAP, i == ITEMS - 1);
		}
	uint64_t cut = hlc_ms(T0) + DAY_MS, day = cut - cut % DAY_MS;
	for (int i = 0; i < 5; i++) {
		ops[n] = op("likes", items[i], "ud", 1, hlc_make(day + 1, 0));
		ops[n].home = wire_cstr("ap", 2);
		n++;
	}
	send_gathered(0, p, ops, &n, CAP, true);
	free(ops);
	start_api(NULL);
	got g;
	char path[128];
	snprintf(path, sizeof path, "/v1/checkpoint?partitions=%u&home=ap&since_ms=%" PRIu64, p,
	         cut);
	fetch(path, &g);
	cr_assert(g.ended);
	size_t ud = 0, old = 0;
	for (size_t i = 0; i < g.nmembers; i++) {
		if (!strcmp(g.members[i].user, "ud"))
			ud++;
		else
			old++;
	}
	cr_assert_eq(ud, 5, "the cut day's pairs come whole");
	cr_assert_eq(old, ITEMS, "one old like per item, %zu sent", old);
	/* The sweep deletes the 5 items' second day keys, which nothing
	 * reads: the answer is the same, pair for pair. */
	size_t before = testdir_count_keys(T.db, ckey_prefix(CKEY_HOME_DAY), 1);
	cr_assert_eq(applier_thin_round(T.a, 1), 0);
	cr_assert_eq(testdir_count_keys(T.db, ckey_prefix(CKEY_HOME_DAY), 1), before - 5);
	got again;
	fetch(path, &again);
	cr_assert(again.ended);
	cr_assert_eq(again.nmembers, g.nmembers);
	for (size_t i = 0; i < g.nmembers; i++) {
		cr_assert_str_eq(again.members[i].item, g.members[i].item);
		cr_assert_str_eq(again.members[i].user, g.members[i].user);
		cr_assert_eq(again.members[i].hlc, g.members[i].hlc);
		cr_assert_eq(again.members[i].member, g.members[i].member);
	}
	got_free(&again);
	got_free(&g);
	free(items);
}

/* ---- a store older than the index ---------------------------------------- */

/* Opens the applier on T's store again, as central starts. */
static void reopen_applier(void)
{
	applier_free(T.a);
	char err[256];
	T.a = applier_new(T.db, NPARTS, &T.ctr, err, sizeof err);
	cr_assert_not_null(T.a, "%s", err);
}

/* The ops API's checkpoint for home "ap" holds every partition's index
 * from the start (no "i" in any last message). */
static void check_home_from_start(void)
{
	bool all[NPARTS] = {true, true, true, true};
	got g;
	fetch("/v1/checkpoint?partitions=all&home=ap", &g);
	check_home(&g, "ap", all);
	for (uint32_t p = 0; p < NPARTS; p++)
		cr_assert_eq(last_of(&g, p)->index_from, 0, "partition %u", p);
	got_free(&g);
}

/* Makes T's store look as one written before the index: no 'V' key, no
 * mark of the index; then opens the applier on it again, as an upgraded
 * central starts. */
static void reopen_as_older_store(void)
{
	store_batch *wb = store_batch_new();
	const char *k, *v;
	size_t kn, vn;
	store_iter *it = store_iter_new(T.db, ckey_prefix(CKEY_HOME), 1);
	size_t gone = 0;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		store_batch_del(wb, k, kn);
		gone++;
	}
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	cr_assert_gt(gone, 0);
	const char *meta = "M" CKEY_HOME_INDEX_META;
	char *mv;
	size_t mn;
	cr_assert_eq(store_get(T.db, meta, strlen(meta), &mv, &mn), 0, "a new store is marked");
	free(mv);
	store_batch_del(wb, meta, strlen(meta));
	cr_assert_eq(store_write(T.db, wb), 0);
	store_batch_free(wb);
	reopen_applier();
}

Test(checkpoint_home, a_store_older_than_the_index_says_from_which_version_it_holds_every_change)
{
	/* A new store: every last message says from the start (no "i"). */
	add_home_likes(0);
	start_api(NULL);
	check_home_from_start();
	ops_api_stop(T.api);
	T.api = NULL;

	/* The same memberships in a store from before the index: the
	 * upgraded central notes each partition's version as it opens it,
	 * and its home checkpoint sends that, so an edge knows the older
	 * pairs are not all there. */
	uint64_t at[NPARTS];
	for (uint32_t p = 0; p < NPARTS; p++)
		at[p] = applier_version(T.a, p);
	reopen_as_older_store();
	uint32_t later = 1;
	char item[80];
	item_name(5, item, sizeof item);
	uint32_t p5 = partition_of(item, strlen(item), NPARTS);
	wire_op o = op("likes", item, "fresh-user", 1, T0 + 10);
	o.home = wire_cstr("ap", 2);
	send_ops(0, p5, &o, later);
	start_api(NULL);
	bool all[NPARTS] = {true, true, true, true};
	got g;
	fetch("/v1/checkpoint?partitions=all&home=ap", &g);
	check_shape(&g, all);
	for (uint32_t p = 0; p < NPARTS; p++)
		cr_assert_eq(last_of(&g, p)->index_from, at[p],
		             "partition %u: %" PRIu64 ", not %" PRIu64, p,
		             last_of(&g, p)->index_from, at[p]);
	cr_assert_eq(g.nmembers, 1, "only what was applied after the upgrade is indexed");
	cr_assert_str_eq(g.members[0].user, "fresh-user");
	got_free(&g);
	ops_api_stop(T.api);
	T.api = NULL;

	/* Opened again, the note stays as it was. */
	reopen_applier();
	start_api(NULL);
	fetch("/v1/checkpoint?partitions=all&home=ap", &g);
	for (uint32_t p = 0; p < NPARTS; p++)
		cr_assert_eq(last_of(&g, p)->index_from, at[p], "partition %u", p);
	got_free(&g);
	ops_api_stop(T.api);
	T.api = NULL;

	/* Forgotten (central home-index-reset), the next open notes the
	 * versions of then: p5's moved with the like sent since. */
	applier_free(T.a);
	T.a = NULL;
	uint32_t forgot;
	cr_assert_eq(applier_home_index_forget(T.db, &forgot), 0);
	cr_assert_eq(forgot, NPARTS);
	char err[256];
	T.a = applier_new(T.db, NPARTS, &T.ctr, err, sizeof err);
	cr_assert_not_null(T.a, "%s", err);
	cr_assert_gt(applier_version(T.a, p5), at[p5]);
	start_api(NULL);
	fetch("/v1/checkpoint?partitions=all&home=ap", &g);
	for (uint32_t p = 0; p < NPARTS; p++)
		cr_assert_eq(last_of(&g, p)->index_from, applier_version(T.a, p), "partition %u",
		             p);
	cr_assert_eq(g.nmembers, 1, "the index itself is kept");
	got_free(&g);
}

/* ---- a store in the index's first layout --------------------------------- */

/* Rewrites every 'V' key of T's store as the 'U' key the first layout
 * wrote (counter, item, user after the partition), the values as they
 * are, plus one 'U' key that does not parse; then opens the applier on
 * it again, as an upgraded central starts. Returns the keys rewritten. */
static size_t reopen_in_first_layout(void)
{
	store_batch *wb = store_batch_new();
	const char *k, *v;
	size_t kn, vn;
	store_iter *it = store_iter_new(T.db, ckey_prefix(CKEY_HOME), 1);
	size_t n = 0;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		const char *r, *user, *counter, *item;
		size_t rn, un, cn, in;
		uint32_t p;
		cr_assert(
		    ckey_parse_home(k, kn, &r, &rn, &p, &user, &un, &counter, &cn, &item, &in));
		unsigned char old[CKEY_MAX];
		size_t on = 0;
		old[on++] = CKEY_HOME_V1;
		memcpy(old + on, r, rn);
		on += rn;
		old[on++] = 0;
		store_put_u32(old + on, p);
		on += 4;
		memcpy(old + on, counter, cn);
		on += cn;
		old[on++] = 0;
		memcpy(old + on, item, in);
		on += in;
		old[on++] = 0;
		memcpy(old + on, user, un);
		on += un;
		store_batch_put(wb, old, on, v, vn);
		store_batch_del(wb, k, kn);
		n++;
	}
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	store_batch_put(wb, "Uap", 3, "x", 1); /* no partition: unreadable */
	cr_assert_eq(store_write(T.db, wb), 0);
	store_batch_free(wb);
	reopen_applier();
	return n;
}

static size_t keys_with_tag(char tag)
{
	char pre[1] = {tag};
	return testdir_count_keys(T.db, pre, 1);
}

Test(checkpoint_home, an_index_in_the_first_layout_is_moved_at_open_and_serves_the_same)
{
	add_home_likes(0);
	size_t before = keys_with_tag(CKEY_HOME);
	cr_assert_gt(before, 20000, "add_home_likes indexes its users");
	size_t moved = reopen_in_first_layout();
	cr_assert_eq(moved, before);
	cr_assert_eq(keys_with_tag(CKEY_HOME), before, "every key moved back to its 'V' key");
	cr_assert_eq(keys_with_tag(CKEY_HOME_V1), 1, "only the unreadable key is left");

	/* The checkpoint is the one a new store serves, and a later like of
	 * one of those pairs updates the same entry (the pair is not
	 * indexed twice). */
	start_api(NULL);
	check_home_from_start();
	char item[80];
	home_item(4, item, sizeof item); /* u4: home "ap", liked, not unliked */
	wire_op o = op("likes", item, "u4", 1, T0 + 10);
	o.kind = WIRE_REMOVE;
	o.home = wire_cstr("ap", 2);
	send_ops(0, partition_of(item, strlen(item), NPARTS), &o, 1);
	cr_assert_eq(keys_with_tag(CKEY_HOME), before);

	/* Opened again, nothing more moves. */
	ops_api_stop(T.api);
	T.api = NULL;
	reopen_applier();
	cr_assert_eq(keys_with_tag(CKEY_HOME), before);
	cr_assert_eq(keys_with_tag(CKEY_HOME_V1), 1);
}

/* ---- moved users ----------------------------------------------------------- */

Test(checkpoint_home, a_partitions_last_message_says_where_its_moved_users_live)
{
	add_home_likes(0);
	/* u0 (home "ap") moves to "jp" in every partition; u1 to "ap-south"
	 * in partition 2 only, so far. */
	for (uint32_t p = 0; p < NPARTS; p++)
		send_move(p, "u0", "jp", 5000);
	send_move(2, "u1", "ap-south", 6000);
	start_api(NULL);
	got g;
	/* Every region's checkpoint carries every mark: the new home's edges
	 * learn the user is theirs, the others' that the user left. */
	fetch("/v1/checkpoint?partitions=all&home=ap", &g);
	cr_assert_eq(g.status, 200);
	cr_assert(g.ended);
	cr_assert_eq(g.nmarks, NPARTS + 1);
	size_t u0 = 0;
	for (size_t i = 0; i < g.nmarks; i++) {
		const got_mark *m = &g.marks[i];
		cr_assert(m->in_last, "in the partition's last message");
		if (!strcmp(m->user, "u0")) {
			cr_assert_str_eq(m->home, "jp");
			cr_assert_eq(m->since_ms, 5000);
			u0++;
		} else {
			cr_assert_str_eq(m->user, "u1");
			cr_assert_str_eq(m->home, "ap-south");
			cr_assert_eq(m->p, 2);
			cr_assert_eq(m->since_ms, 6000);
		}
	}
	cr_assert_eq(u0, NPARTS, "one per partition");
	/* u0's pairs left ap's index for jp's. */
	for (size_t i = 0; i < g.nmembers; i++)
		cr_assert_str_neq(g.members[i].user, "u0");
	got_free(&g);
	fetch("/v1/checkpoint?partitions=1&home=jp", &g);
	cr_assert_eq(g.nmarks, 1);
	cr_assert_str_eq(g.marks[0].user, "u0");
	size_t theirs = 0;
	for (size_t i = 0; i < g.nmembers; i++)
		theirs += !strcmp(g.members[i].user, "u0");
	char item[80];
	home_item(0, item, sizeof item);
	cr_assert_eq(theirs, partition_of(item, strlen(item), NPARTS) == 1 ? 1 : 0,
	             "u0's one pair, where its item's partition is 1");
	got_free(&g);
}

Test(checkpoint_home, more_moved_users_than_a_message_holds_come_in_several)
{
	/* 5,000 users moved in partition 0: 4,096 in a message of their
	 * own (l false), the rest in the partition's last. */
	enum { MOVED = 5000 };
	for (int i = 0; i < MOVED; i++) {
		char user[16];
		snprintf(user, sizeof user, "m%05d", i);
		send_move(0, user, i % 2 ? "ap" : "jp", 1000 + (uint64_t)i);
	}
	start_api(NULL);
	got g;
	fetch("/v1/checkpoint?partitions=0&home=ap", &g);
	cr_assert(g.ended);
	cr_assert_eq(g.nmarks, MOVED);
	size_t in_last = 0;
	for (size_t i = 0; i < g.nmarks; i++) {
		char want[32];
		snprintf(want, sizeof want, "m%05zu", i);
		cr_assert_str_eq(g.marks[i].user, want, "in key order, none twice");
		cr_assert_str_eq(g.marks[i].home, i % 2 ? "ap" : "jp");
		cr_assert_eq(g.marks[i].since_ms, 1000 + i);
		in_last += g.marks[i].in_last;
	}
	cr_assert_eq(in_last, MOVED - PER_MSG);
	got_free(&g);
}

/* ---- a user without a home ------------------------------------------------ */

Test(checkpoint_home, pairs_of_a_user_without_a_home_come_only_once_a_move_gives_one)
{
	const char *homes[1] = {"eu"};
	applier_set_homes(T.a, homes, 1);
	/* Edges of region "eu" take u9's likes, with no home in the token:
	 * indexed under eu as unhomed, which eu's checkpoint leaves out (u9
	 * does not live there, and eu's edges keep what they took). */
	char item[80];
	item_name(3, item, sizeof item);
	uint32_t p = partition_of(item, strlen(item), NPARTS);
	wire_op o = op("likes", item, "u9", 1, T0);
	send_ops(0, p, &o, 1);
	start_api(NULL);
	got g;
	fetch("/v1/checkpoint?partitions=all&home=eu", &g);
	cr_assert_eq(g.status, 200);
	cr_assert_eq(g.nmembers, 0);
	got_free(&g);
	/* u9's first home is eu: the move makes the pair eu's. */
	send_move(p, "u9", "eu", 5000);
	fetch("/v1/checkpoint?partitions=all&home=eu", &g);
	cr_assert_eq(g.nmembers, 1);
	cr_assert_str_eq(g.members[0].user, "u9");
	cr_assert_str_eq(g.members[0].item, item);
	cr_assert(g.members[0].member);
	got_free(&g);
}
