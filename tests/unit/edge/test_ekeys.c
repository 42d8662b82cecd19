/* test_ekeys.c - the edge's key layout (edge/ledger/keys.h): exact bytes of each
 * kind of key, numbers big-endian so keys sort by them, the decoders
 * giving back what the encoders put in and refusing what they did not
 * make, and the iteration prefixes matching the keys' first bytes.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "edge/ledger/keys.h"

Test(ekeys, member_and_count_keys_are_tag_then_nul_separated_names)
{
	char k[EKEY_MEMBER_MAX];
	size_t n = ekey_member(k, "likes", "post:1", "u9");
	cr_assert_eq(n, 1 + 5 + 1 + 6 + 1 + 2);
	cr_assert_eq(memcmp(k, "Mlikes\0post:1\0u9", n), 0);
	char pair[EKEY_PAIR_MAX], c[EKEY_COUNT_MAX];
	size_t pn = ekey_pair(pair, "views", 5, "reel:7", 6);
	size_t cn = ekey_count(c, pair, pn);
	cr_assert_eq(cn, 1 + 5 + 1 + 6);
	cr_assert_eq(memcmp(c, "Cviews\0reel:7", cn), 0);
}

Test(ekeys, partition_keys_sort_by_partition_then_number)
{
	char a[EKEY_PART_SEQ_LEN], b[EKEY_PART_SEQ_LEN];
	cr_assert_eq(ekey_part_seq(a, EKEY_BATCH, 1, 255), EKEY_PART_SEQ_LEN);
	const unsigned char want[] = {'B', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 255};
	cr_assert_eq(memcmp(a, want, sizeof want), 0);
	ekey_part_seq(b, EKEY_BATCH, 1, 256);
	cr_assert_lt(memcmp(a, b, EKEY_PART_SEQ_LEN), 0, "seq 255 sorts before 256");
	ekey_part_seq(b, EKEY_BATCH, 2, 0);
	cr_assert_lt(memcmp(a, b, EKEY_PART_SEQ_LEN), 0, "partition 1 before 2");
	char s[EKEY_PART_LEN];
	cr_assert_eq(ekey_part(s, EKEY_SEALED, 7), EKEY_PART_LEN);
	const unsigned char ws[] = {'S', 0, 0, 0, 7};
	cr_assert_eq(memcmp(s, ws, sizeof ws), 0);
}

Test(ekeys, a_partition_number_key_parses_back_and_nothing_else_does)
{
	char k[EKEY_PART_SEQ_LEN];
	ekey_part_seq(k, EKEY_RUN, 4095, UINT64_C(0x0102030405060708));
	uint32_t p;
	uint64_t seq;
	cr_assert(ekey_part_seq_parse(k, sizeof k, &p, &seq));
	cr_assert_eq(p, 4095);
	cr_assert_eq(seq, UINT64_C(0x0102030405060708));
	cr_assert_not(ekey_part_seq_parse(k, sizeof k - 1, &p, &seq));
	cr_assert_not(ekey_part_seq_parse(k, EKEY_PART_LEN, &p, &seq));
}

Test(ekeys, a_group_key_sorts_by_its_number_and_parses_back)
{
	char a[EKEY_GROUP_LEN], b[EKEY_GROUP_LEN];
	cr_assert_eq(ekey_group(a, 255), EKEY_GROUP_LEN);
	const unsigned char want[] = {'G', 0, 0, 0, 0, 0, 0, 0, 255};
	cr_assert_eq(memcmp(a, want, sizeof want), 0);
	ekey_group(b, 256);
	cr_assert_lt(memcmp(a, b, EKEY_GROUP_LEN), 0, "group 255 sorts before 256");
	uint64_t gno;
	cr_assert(ekey_group_parse(b, sizeof b, &gno));
	cr_assert_eq(gno, 256);
	cr_assert_not(ekey_group_parse(b, sizeof b - 1, &gno));
	char k[EKEY_PART_SEQ_LEN];
	ekey_part_seq(k, EKEY_RUN, 0, 1);
	cr_assert_not(ekey_group_parse(k, EKEY_GROUP_LEN, &gno), "a 'P' key is not one");
	cr_assert_eq(ekey_prefix(EKEY_GROUP)[0], a[0]);
}

Test(ekeys, an_idempotency_expiry_entry_names_its_record)
{
	char j[EKEY_IDEM_MAX], i[EKEY_IDEM_MAX], rec[EKEY_IDEM_MAX];
	size_t jn = ekey_idem_expiry(j, 1800000000000ull, "alice", "k-1");
	size_t in = ekey_idem(i, "alice", "k-1");
	cr_assert_eq(memcmp(i, "Ialice\0k-1", in), 0);
	uint64_t exp;
	size_t rn;
	cr_assert(ekey_idem_expiry_parse(j, jn, &exp, rec, &rn));
	cr_assert_eq(exp, 1800000000000ull);
	cr_assert_eq(rn, in);
	cr_assert_eq(memcmp(rec, i, in), 0);
	/* Earlier expiries sort first: the sweep stops at the first live one. */
	char later[EKEY_IDEM_MAX];
	ekey_idem_expiry(later, 1800000000001ull, "a", "k");
	cr_assert_lt(memcmp(j, later, 9), 0);
	cr_assert_not(ekey_idem_expiry_parse(j, 11, &exp, rec, &rn), "too short for a record");
	cr_assert_not(ekey_idem_expiry_parse(i, in, &exp, rec, &rn), "an 'I' key is not one");
}

Test(ekeys, each_prefix_is_the_first_byte_of_its_keys)
{
	char k[EKEY_MEMBER_MAX];
	const enum ekey_tag parts[] = {EKEY_SEALED, EKEY_APPLIED, EKEY_SNAP_OFFSET, EKEY_SNAP_SEEN,
	                               EKEY_REPLICA};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		ekey_part(k, parts[i], 0);
		cr_assert_eq(ekey_prefix(parts[i])[0], k[0]);
	}
	const enum ekey_tag seqs[] = {EKEY_RUN, EKEY_OP, EKEY_BATCH, EKEY_FLAGS};
	for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
		ekey_part_seq(k, seqs[i], 0, 0);
		cr_assert_eq(ekey_prefix(seqs[i])[0], k[0]);
	}
	ekey_member(k, "c", "i", "u");
	cr_assert_eq(ekey_prefix(EKEY_MEMBER)[0], k[0]);
	ekey_idem_expiry(k, 0, "u", "k");
	cr_assert_eq(ekey_prefix(EKEY_IDEM_EXPIRY)[0], k[0]);
	char pair[EKEY_PAIR_MAX];
	ekey_aged(k, pair, ekey_pair(pair, "c", 1, "i", 1));
	cr_assert_eq(ekey_prefix(EKEY_AGED)[0], k[0]);
}

Test(ekeys, a_member_key_parses_back_into_its_names_and_nothing_else_does)
{
	char k[EKEY_MEMBER_MAX], c[COUNTER_MAX + 1], i[ITEM_MAX + 1], u[USER_MAX + 1];
	size_t kn = ekey_member(k, "likes", "post:1", "alice");
	cr_assert(ekey_member_parse(k, kn, c, i, u));
	cr_assert_str_eq(c, "likes");
	cr_assert_str_eq(i, "post:1");
	cr_assert_str_eq(u, "alice");
	cr_assert_not(ekey_member_parse(k, kn - 5, c, i, u), "no user");
	cr_assert_not(ekey_member_parse(k, 7, c, i, u), "no item");
	k[0] = EKEY_COUNT;
	cr_assert_not(ekey_member_parse(k, kn, c, i, u), "another kind of key");
	char pair[EKEY_PAIR_MAX], y[EKEY_COUNT_MAX];
	size_t yn = ekey_aged(y, pair, ekey_pair(pair, "likes", 5, "post:1", 6));
	cr_assert_eq(yn, 13);
	cr_assert_eq(memcmp(y, "Ylikes\0post:1", 13), 0);
}

/* The changelog's keys keep the bytes they had in changelog.h: a store
 * written before they moved to keys.h reads the same. */
Test(ekeys, the_changelog_keys_keep_their_letters_and_a_held_key_sorts_by_number)
{
	const struct {
		enum ekey_tag tag;
		char letter;
	} alone[] = {{EKEY_LOG_POSITION, 'L'},
	             {EKEY_LOG_EPOCH, 'E'},
	             {EKEY_LOG_WRITER, 'V'},
	             {EKEY_LOG_GAP, 'U'}};
	for (size_t i = 0; i < sizeof alone / sizeof alone[0]; i++) {
		cr_assert_eq(ekey_prefix(alone[i].tag)[0], alone[i].letter);
		cr_assert(ekey_is_alone(&alone[i].letter, 1, alone[i].tag));
		cr_assert_not(ekey_is_alone("LX", 2, alone[i].tag), "one byte only");
	}
	char a[EKEY_HELD_LEN], b[EKEY_HELD_LEN];
	cr_assert_eq(ekey_held(a, 2), EKEY_HELD_LEN);
	ekey_held(b, 256);
	cr_assert_eq(memcmp(a, "Q\0\0\0\0\0\0\0\x02", EKEY_HELD_LEN), 0);
	cr_assert_lt(memcmp(a, b, EKEY_HELD_LEN), 0);
	cr_assert(ekey_is(a, sizeof a, EKEY_LOG_HELD));
	cr_assert_eq(ekey_prefix(EKEY_LOG_HELD)[0], 'Q');
}
