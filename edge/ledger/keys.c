/* keys.c - the edge's LevelDB key layout (keys.h). */
#include "edge/ledger/keys.h"

#include <string.h>

#include "store.h"

const char *ekey_prefix(enum ekey_tag tag)
{
	/* One static string per tag: store_iter_new copies nothing. */
	static const char tags[] = "MCGPOBDSAKNRIJHZYWTLEVUQ";
	const char *at = strchr(tags, (int)tag);
	return at ? at : "";
}

size_t ekey_pair(char *k, const char *counter, size_t cl, const char *item, size_t il)
{
	memcpy(k, counter, cl);
	k[cl] = 0;
	memcpy(k + cl + 1, item, il);
	return cl + 1 + il;
}

size_t ekey_member(char *k, const char *counter, const char *item, const char *user)
{
	k[0] = EKEY_MEMBER;
	size_t n = 1 + ekey_pair(k + 1, counter, strlen(counter), item, strlen(item));
	size_t ul = strlen(user);
	k[n++] = 0;
	memcpy(k + n, user, ul);
	return n + ul;
}

size_t ekey_count(char *k, const char *pair, size_t pn)
{
	k[0] = EKEY_COUNT;
	memcpy(k + 1, pair, pn);
	return 1 + pn;
}

size_t ekey_zero(char *k, const char *pair, size_t pn)
{
	k[0] = EKEY_ZERO;
	memcpy(k + 1, pair, pn);
	return 1 + pn;
}

size_t ekey_aged(char *k, const char *pair, size_t pn)
{
	k[0] = EKEY_AGED;
	memcpy(k + 1, pair, pn);
	return 1 + pn;
}

size_t ekey_home_mark(char *k, const char *user, size_t un, uint32_t p)
{
	k[0] = EKEY_HOME_MARK;
	memcpy(k + 1, user, un);
	k[1 + un] = 0;
	store_put_u32((unsigned char *)k + 2 + un, p);
	return 6 + un;
}

/* Copies [from, end) into out (max bytes and a NUL): false when longer
 * or empty. */
static bool part_copy(const char *from, const char *end, char *out, size_t max)
{
	size_t n = (size_t)(end - from);
	if (n == 0 || n > max)
		return false;
	memcpy(out, from, n);
	out[n] = 0;
	return true;
}

bool ekey_member_parse(const char *k, size_t kn, char *counter, char *item, char *user)
{
	if (!ekey_is(k, kn, EKEY_MEMBER))
		return false;
	const char *end = k + kn, *c = k + 1;
	const char *i = memchr(c, 0, (size_t)(end - c));
	if (!i)
		return false;
	const char *u = memchr(i + 1, 0, (size_t)(end - i - 1));
	if (!u)
		return false;
	return part_copy(c, i, counter, COUNTER_MAX) && part_copy(i + 1, u, item, ITEM_MAX) &&
	       part_copy(u + 1, end, user, USER_MAX);
}

size_t ekey_part(char *k, enum ekey_tag tag, uint32_t p)
{
	k[0] = (char)tag;
	store_put_u32((unsigned char *)k + 1, p);
	return EKEY_PART_LEN;
}

size_t ekey_part_seq(char *k, enum ekey_tag tag, uint32_t p, uint64_t seq)
{
	ekey_part(k, tag, p);
	store_put_u64((unsigned char *)k + EKEY_PART_LEN, seq);
	return EKEY_PART_SEQ_LEN;
}

bool ekey_part_seq_parse(const char *k, size_t kn, uint32_t *p, uint64_t *seq)
{
	if (kn != EKEY_PART_SEQ_LEN)
		return false;
	*p = store_get_u32((const unsigned char *)k + 1);
	*seq = store_get_u64((const unsigned char *)k + EKEY_PART_LEN);
	return true;
}

size_t ekey_group(char *k, uint64_t gno)
{
	k[0] = EKEY_GROUP;
	store_put_u64((unsigned char *)k + 1, gno);
	return EKEY_GROUP_LEN;
}

size_t ekey_held(char *k, uint64_t n)
{
	k[0] = EKEY_LOG_HELD;
	store_put_u64((unsigned char *)k + 1, n);
	return EKEY_HELD_LEN;
}

bool ekey_group_parse(const char *k, size_t kn, uint64_t *gno)
{
	if (kn != EKEY_GROUP_LEN || k[0] != EKEY_GROUP)
		return false;
	*gno = store_get_u64((const unsigned char *)k + 1);
	return true;
}

/* "user 0 key" into k. */
static size_t user_key(char *k, const char *user, const char *key)
{
	size_t ul = strlen(user), kl = strlen(key);
	memcpy(k, user, ul);
	k[ul] = 0;
	memcpy(k + ul + 1, key, kl);
	return ul + 1 + kl;
}

size_t ekey_idem(char *k, const char *user, const char *key)
{
	k[0] = EKEY_IDEM;
	return 1 + user_key(k + 1, user, key);
}

size_t ekey_idem_expiry(char *k, uint64_t expiry_ms, const char *user, const char *key)
{
	k[0] = EKEY_IDEM_EXPIRY;
	store_put_u64((unsigned char *)k + 1, expiry_ms);
	return 9 + user_key(k + 9, user, key);
}

bool ekey_idem_expiry_parse(const char *k, size_t kn, uint64_t *expiry_ms, char *rec, size_t *rn)
{
	/* tag, expiry, and at least "u 0 k" */
	if (kn < 12 || kn > EKEY_IDEM_MAX || k[0] != EKEY_IDEM_EXPIRY)
		return false;
	*expiry_ms = store_get_u64((const unsigned char *)k + 1);
	rec[0] = EKEY_IDEM;
	memcpy(rec + 1, k + 9, kn - 9);
	*rn = kn - 8;
	return true;
}
