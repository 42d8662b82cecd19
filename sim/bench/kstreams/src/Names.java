/* Names.java - the syntax of items, users and edge ids, as common/item.c
 * checks it (include/item.h's limits), over the bytes of a batch. Pure. */
package likes.kstreams;

final class Names {
	static final int EDGE_ID_MAX = 64, USER_MAX = 128, ITEM_TYPE_MAX = 32, ITEM_ID_MAX = 64;

	private Names() {
	}

	private static boolean lower(byte c) {
		return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_';
	}

	private static boolean idChar(byte c) {
		return lower(c) || c >= 'A' && c <= 'Z' || c == '-';
	}

	/** {type}:{id}: type of lower-case letters, digits, '_'; id of letters,
	 * digits, '_', '-'; neither empty nor over its maximum. */
	static boolean item(byte[] s) {
		int colon = -1;
		for (int i = 0; i < s.length && colon < 0; i++)
			if (s[i] == ':')
				colon = i;
		if (colon < 1 || colon > ITEM_TYPE_MAX || s.length - colon - 1 < 1 ||
		    s.length - colon - 1 > ITEM_ID_MAX)
			return false;
		for (int i = 0; i < s.length; i++)
			if (i != colon && !(i < colon ? lower(s[i]) : idChar(s[i])))
				return false;
		return true;
	}

	/** Printable ASCII but space, '"' and '\\', 1..USER_MAX bytes. */
	static boolean user(byte[] s) {
		if (s.length < 1 || s.length > USER_MAX)
			return false;
		for (byte c : s)
			if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\')
				return false;
		return true;
	}

	/** Lower-case letters, digits, '_', '-', 1..EDGE_ID_MAX bytes. */
	static boolean edge(byte[] s) {
		if (s.length < 1 || s.length > EDGE_ID_MAX)
			return false;
		for (byte c : s)
			if (!lower(c) && c != '-')
				return false;
		return true;
	}
}
