/* test_item.c - item_name_char: the one character class of the names an
 * operator gives (demo files, key ids, topics). */
#include <criterion/criterion.h>
#include <limits.h>
#include <string.h>

#include "item.h"

Test(item, name_chars_are_letters_digits_dot_underscore_and_dash)
{
	const char *ok = "azAZ09._-";
	for (const char *p = ok; *p; p++)
		cr_assert(item_name_char(*p), "'%c' refused", *p);
}

Test(item, every_other_byte_is_refused)
{
	for (int c = CHAR_MIN; c <= CHAR_MAX; c++) {
		bool want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		            (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		cr_assert_eq(item_name_char((char)c), want, "byte %d", c);
	}
}
