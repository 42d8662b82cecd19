/* test_sbuf.c - the growable answer buffer. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
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

Test(sbuf, every_digit_count_formats_like_printf)
{
	sbuf b;
	sbuf_init(&b);
	uint64_t vals[3 * 21];
	size_t nv = 0;
	uint64_t p10 = 1;
	vals[nv++] = 0;
	for (int i = 0; i < 20; i++, p10 *= 10) {
		vals[nv++] = p10 - 1;
		vals[nv++] = p10;
		vals[nv++] = p10 + 7;
	}
	vals[nv++] = UINT64_MAX;
	for (size_t i = 0; i < nv; i++) {
		char want[32], got[SBUF_U64_MAX + 1];
		snprintf(want, sizeof want, "%" PRIu64, vals[i]);
		size_t n = sbuf_fmt_u64(got, vals[i]);
		got[n] = 0;
		cr_assert_str_eq(got, want);
		b.len = 0;
		sbuf_put_u64(&b, vals[i]);
		cr_assert_str_eq(b.p, want);
	}
	sbuf_free(&b);
}

Test(sbuf, puts_grow_past_a_short_reserve)
{
	sbuf b;
	sbuf_init(&b);
	sbuf_reserve(&b, 4);
	for (int i = 0; i < 1000; i++)
		sbuf_putl(&b, "abc");
	cr_assert_eq(b.len, 3000);
	cr_assert_eq(strlen(b.p), 3000, "still NUL-terminated");
	sbuf_free(&b);
}

Test(sbuf, json_strings_escape_quotes_backslashes_and_control_bytes)
{
	sbuf b;
	sbuf_init(&b);
	sbuf_addjstr(&b, "a\"b\\c\nd\x01\x7f\xc3\xa9", 11);
	cr_assert_str_eq(b.p, "\"a\\\"b\\\\c\\u000ad\\u0001\\u007f\xc3\xa9\"");
	sbuf_free(&b);
	sbuf_init(&b);
	sbuf_addjstr(&b, "", 0);
	cr_assert_str_eq(b.p, "\"\"");
	sbuf_free(&b);
}

/* Every byte, alone, at a run's start and end, and twice in a row: the
 * escaper copies runs of plain bytes at once, so their edges matter. */
Test(sbuf, every_byte_escapes_alike_wherever_it_falls_in_a_run)
{
	for (int c = 0; c < 256; c++) {
		char want[8];
		if (c == '"' || c == '\\')
			snprintf(want, sizeof want, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			snprintf(want, sizeof want, "\\u%04x", c);
		else
			snprintf(want, sizeof want, "%c", c);
		char in[6] = {(char)c, 'x', 'y', (char)c, (char)c, 'z'};
		char expect[64];
		snprintf(expect, sizeof expect, "\"%sxy%s%sz\"", want, want, want);
		sbuf b;
		sbuf_init(&b);
		sbuf_addjstr(&b, in, sizeof in);
		cr_assert_eq(b.len, strlen(expect), "byte %d", c);
		cr_assert_eq(memcmp(b.p, expect, b.len), 0, "byte %d: %s", c, b.p);
		sbuf_free(&b);
	}
}

Test(sbuf, the_error_body_is_one_shape_and_its_message_is_escaped)
{
	sbuf b;
	sbuf_init(&b);
	sbuf_adderror(&b, "bad_item", "not an item: \"x y\"", NULL);
	cr_assert_str_eq(b.p, "{\"error\":{\"code\":\"bad_item\",\"message\":\"not an item: "
	                      "\\\"x y\\\"\"}}");
	sbuf_free(&b);
	sbuf_init(&b);
	sbuf_adderror(&b, "not_owner", "ask its shard", ",\"partition\":3");
	cr_assert_str_eq(
	    b.p,
	    "{\"error\":{\"code\":\"not_owner\",\"message\":\"ask its shard\",\"partition\":3}}");
	sbuf_free(&b);
}
