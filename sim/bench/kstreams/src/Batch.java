/* Batch.java - one message of likes.batches decoded from msgpack
 * (docs/wire.md, "Batch"): the header fields the applier sequences on,
 * the ops and the sums. Strings stay bytes, as they came.
 *
 * decode() reads the map as the wire layer does: "v" first, "t" second,
 * any order after, unknown keys skipped; it throws Bad for what the wire
 * layer would refuse with a reason (a wrong type, a missing or repeated
 * key, an out-of-range field, bytes left over). A message of another
 * type (a move "m", a hand-over "h") decodes to type != 'b' with no
 * fields. One thread per Batch.
 */
package likes.kstreams;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.msgpack.core.MessageFormat;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessageUnpacker;
import org.msgpack.value.ValueType;

final class Batch {
	static final int MAX_OPS = 100_000;
	static final int MAX_STR = 256;
	static final int MAX_PAIRS = 64;

	/** What the wire layer would refuse. */
	static final class Bad extends Exception {
		Bad(String why) {
			super(why, null, false, false);
		}
	}

	/** One op: counter, item, user, add (kind 1) or remove (2), n, hlc. */
	static final class Op {
		byte[] counter, item, user;
		boolean add;
		long n, hlc; // hlc as an unsigned 64-bit value
	}

	/** One sum (version 2): counter, item, n, the latest summed hlc. */
	static final class Sum {
		byte[] counter, item;
		long n, hlc;
	}

	int version;
	char type;
	byte[] edge, region;
	long partition, seq;
	final List<Op> ops = new ArrayList<>();
	final List<Sum> sums = new ArrayList<>();

	static Batch decode(byte[] msg) throws Bad {
		if (msg == null || msg.length == 0)
			throw new Bad("empty");
		try (MessageUnpacker u = MessagePack.newDefaultUnpacker(msg)) {
			Batch b = new Batch();
			b.read(u);
			if (u.hasNext())
				throw new Bad("bytes after the message");
			return b;
		} catch (IOException | RuntimeException e) {
			throw new Bad("undecodable: " + e.getMessage());
		}
	}

	private void read(MessageUnpacker u) throws IOException, Bad {
		if (u.getNextFormat().getValueType() != ValueType.MAP)
			throw new Bad("not a map");
		int pairs = u.unpackMapHeader();
		if (pairs > MAX_PAIRS)
			throw new Bad("too many pairs");
		if (pairs < 2 || !key(u).equals("v"))
			throw new Bad("v is not first");
		version = (int) uint(u, 2);
		if (version < 1)
			throw new Bad("version " + version);
		if (!key(u).equals("t"))
			throw new Bad("t is not second");
		byte[] t = str(u);
		if (t.length != 1)
			throw new Bad("bad type");
		type = (char) t[0];
		if (type != 'b')
			return; // moves and hand-overs: the caller says what it does
		int seen = 0;
		for (int i = 2; i < pairs; i++) {
			String k = key(u);
			int bit = "erpqwog".indexOf(k.length() == 1 ? k.charAt(0) : '?');
			if (bit >= 0) {
				if ((seen & (1 << bit)) != 0)
					throw new Bad("key " + k + " twice");
				seen |= 1 << bit;
			}
			switch (k) {
			case "e" -> edge = name(u);
			case "r" -> region = str(u);
			case "p" -> partition = uint(u, 0xffffffffL);
			case "q" -> seq = uint(u, Long.MAX_VALUE);
			case "w" -> uint(u, Long.MAX_VALUE);
			case "o" -> readOps(u);
			case "g" -> readSums(u);
			default -> u.skipValue(); // "h" (homes) too: nothing here reads them
			}
		}
		if ((seen & 0b111111) != 0b111111 || (version == 2) != ((seen & 0b1000000) != 0))
			throw new Bad("a required key is missing");
		if (seq == 0)
			throw new Bad("seq 0");
	}

	private void readOps(MessageUnpacker u) throws IOException, Bad {
		int n = u.unpackArrayHeader();
		if (n > MAX_OPS)
			throw new Bad("too many ops");
		for (int i = 0; i < n; i++) {
			if (u.unpackArrayHeader() != 6)
				throw new Bad("an op is not a 6-tuple");
			Op op = new Op();
			op.counter = name(u);
			op.item = name(u);
			op.user = name(u);
			long kind = uint(u, 2);
			if (kind == 0)
				throw new Bad("kind 0");
			op.add = kind == 1;
			op.n = uint(u, 1000);
			if (op.n == 0)
				throw new Bad("n 0");
			op.hlc = uint(u, -1);
			ops.add(op);
		}
	}

	private void readSums(MessageUnpacker u) throws IOException, Bad {
		int n = u.unpackArrayHeader();
		if (n > MAX_OPS)
			throw new Bad("too many sums");
		for (int i = 0; i < n; i++) {
			if (u.unpackArrayHeader() != 4)
				throw new Bad("a sum is not a 4-tuple");
			Sum s = new Sum();
			s.counter = name(u);
			s.item = name(u);
			s.n = uint(u, 100_000_000L);
			if (s.n == 0)
				throw new Bad("sum n 0");
			s.hlc = uint(u, -1);
			sums.add(s);
		}
	}

	private static String key(MessageUnpacker u) throws IOException, Bad {
		return new String(str(u), java.nio.charset.StandardCharsets.US_ASCII);
	}

	/** An unsigned integer at most max (max -1: any 64-bit value). */
	private static long uint(MessageUnpacker u, long max) throws IOException, Bad {
		MessageFormat f = u.getNextFormat();
		if (f.getValueType() != ValueType.INTEGER)
			throw new Bad("not an integer");
		long v;
		if (f == MessageFormat.UINT64)
			v = u.unpackBigInteger().longValue(); // two's complement above 2^63
		else
			v = u.unpackLong();
		if (f != MessageFormat.UINT64 && v < 0)
			throw new Bad("negative");
		if (max != -1 && Long.compareUnsigned(v, max) > 0)
			throw new Bad("out of range");
		return v;
	}

	private static byte[] str(MessageUnpacker u) throws IOException, Bad {
		if (u.getNextFormat().getValueType() != ValueType.STRING)
			throw new Bad("not a string");
		int n = u.unpackRawStringHeader();
		if (n > MAX_STR)
			throw new Bad("string too long");
		return u.readPayload(n);
	}

	private static byte[] name(MessageUnpacker u) throws IOException, Bad {
		byte[] s = str(u);
		if (s.length == 0)
			throw new Bad("empty name");
		return s;
	}
}
