/* test_sbuf.c - the growable answer buffer. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"

Test(sbuf, appends_grow_and_stay_terminated)
{
	sbuf b;
	sbuf_init(&b);
	sbuf_adds(&b, "ab");
	sbuf_add(&b, "cdef", 2);
	sbuf_addf(&b, "-%d-", 42);
	cr_assert_str_eq(b.p, "abcd-42-");
	for (int i = 0; i < 1000; i++)
		sbuf_addf(&b, "%s", "0123456789");
	cr_assert_eq(b.len, 8 + 10000);
	cr_assert_eq(b.p[b.len], 0);
	size_t len;
	char *p = sbuf_take(&b, &len);
	cr_assert_eq(len, 10008);
	cr_assert_eq(strncmp(p + 8, "0123456789", 10), 0);
	cr_assert_null(b.p, "take leaves the buffer empty");
	free(p);
	p = sbuf_take(&b, &len);
	cr_assert_str_eq(p, "", "an empty buffer takes as an empty string");
	cr_assert_eq(len, 0);
	free(p);
}

Test(sbuf, a_long_formatted_append_is_whole)
{
	sbuf b;
	sbuf_init(&b);
	char big[5000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	sbuf_addf(&b, "[%s]", big);
	cr_assert_eq(b.len, sizeof big + 1);
	cr_assert_eq(b.p[0], '[');
	cr_assert_eq(b.p[b.len - 1], ']');
	sbuf_free(&b);
}

Test(sbuf, numbers_and_keys_append_without_printf)
{
	sbuf b;
	sbuf_init(&b);
	sbuf_addu64(&b, 0);
	sbuf_add(&b, " ", 1);
	sbuf_addu64(&b, UINT64_MAX);
	sbuf_addkey(&b, ",", "likes");
	sbuf_addu64(&b, 1200);
	cr_assert_str_eq(b.p, "0 18446744073709551615,\"likes\":1200");
	sbuf_free(&b);
	sbuf_addkey(&b, "", "k");
	cr_assert_str_eq(b.p, "\"k\":");
	sbuf_free(&b);
}
