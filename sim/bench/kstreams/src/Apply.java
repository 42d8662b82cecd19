/* Apply.java - central's apply rules as a Kafka Streams processor (one
 * instance per task, that is per partition of likes.batches, on that
 * task's thread).
 *
 * Each input record is one batch. As central/apply/apply.c does: a
 * batch whose sequence an edge already applied is skipped, one after a
 * gap is held (in the store) until the gap fills, then applied with the
 * held ones that follow; a batch naming another partition, or with an
 * edge id or region that is not a name, is refused.
 * Its ops as central/apply/apply_ops.c and merge.c apply them: a set
 * counter's op wins over the pair's state when its (hlc, edge id) is
 * greater (hlc numerically, then the edge id bytewise), the count moves
 * only when the pair's membership flips, and the one unit of a present
 * state sits in the region and UTC day buckets of the op that set it; a
 * sum counter's op or sum adds n to the count and to the batch region's
 * and its day's buckets. Ops that do not fit their counter are skipped
 * and counted, the rest of the batch applied.
 *
 * Stores (RocksDB, logged to changelog topics, cached; the task's own):
 *   pairs   counter 0 item 0 user -> [present][hlc u64][edge len][edge][region]
 *   counts  'c' counter 0 item | 'r' counter 0 item 0 region |
 *           'd' counter 0 item 0 day u32 -> long (8 bytes, big-endian)
 *   seqs    'a' edge -> applied seq | 'h' edge 0 seq u64 -> held batch
 * Every change of a count is forwarded (key counter 0 item, value the
 * new count as 8 bytes): the peer of central's change feed.
 */
package likes.kstreams;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

final class Apply implements Processor<byte[], byte[], byte[], byte[]> {
	static final String PAIRS = "pairs", COUNTS = "counts", SEQS = "seqs";
	static final long SUM_OP_MAX = 1000; // COUNTER_SUM_MAX, include/counter.h
	static final long DAY_MS = 86_400_000L;

	/** Across the instance's tasks, for its status line. */
	static final AtomicLong APPLIED = new AtomicLong(), INVALID = new AtomicLong(),
	    DUPLICATE = new AtomicLong(), HELD = new AtomicLong(), BAD = new AtomicLong(),
	    OTHER = new AtomicLong();

	private final Set<String> setCounters, sumCounters;
	private ProcessorContext<byte[], byte[]> ctx;
	private KeyValueStore<Bytes, byte[]> pairs, counts, seqs;
	private long ts; // the input record's timestamp, given to what it forwards

	Apply(Set<String> setCounters, Set<String> sumCounters) {
		this.setCounters = setCounters;
		this.sumCounters = sumCounters;
	}

	@Override
	public void init(ProcessorContext<byte[], byte[]> context) {
		ctx = context;
		pairs = context.getStateStore(PAIRS);
		counts = context.getStateStore(COUNTS);
		seqs = context.getStateStore(SEQS);
	}

	@Override
	public void process(Record<byte[], byte[]> rec) {
		ts = rec.timestamp();
		Batch b;
		try {
			b = Batch.decode(rec.value());
		} catch (Batch.Bad e) {
			BAD.incrementAndGet();
			return;
		}
		if (b.type != 'b') {
			// A move or a hand-over: central applies them, this peer
			// does not (sim/bench/kstreams/README.md).
			OTHER.incrementAndGet();
			return;
		}
		int partition = ctx.recordMetadata().map(m -> m.partition()).orElse(-1);
		if (b.partition != partition || !Names.edge(b.edge) || !Names.edge(b.region)) {
			BAD.incrementAndGet();
			return;
		}
		Bytes appliedKey = Bytes.wrap(cat((byte) 'a', b.edge));
		byte[] a = seqs.get(appliedKey);
		long applied = a == null ? 0 : ByteBuffer.wrap(a).getLong();
		if (b.seq <= applied) {
			DUPLICATE.incrementAndGet();
			return;
		}
		if (b.seq > applied + 1) {
			seqs.put(heldKey(b.edge, b.seq), rec.value());
			HELD.incrementAndGet();
			return;
		}
		apply(b);
		applied = b.seq;
		for (;;) { // the held batches the gap kept back, in order
			Bytes hk = heldKey(b.edge, applied + 1);
			byte[] held = seqs.get(hk);
			if (held == null)
				break;
			seqs.delete(hk);
			try {
				apply(Batch.decode(held));
			} catch (Batch.Bad e) {
				BAD.incrementAndGet(); // it decoded once; cannot happen
			}
			applied++;
		}
		seqs.put(appliedKey, ByteBuffer.allocate(8).putLong(applied).array());
	}

	private void apply(Batch b) {
		for (Batch.Op op : b.ops) {
			String c = new String(op.counter, java.nio.charset.StandardCharsets.US_ASCII);
			boolean set = setCounters.contains(c);
			if (!set && !sumCounters.contains(c) || !Names.item(op.item) ||
			    !Names.user(op.user) || (set ? op.n != 1 : !op.add || op.n > SUM_OP_MAX)) {
				INVALID.incrementAndGet();
				continue;
			}
			if (set)
				applySet(b, op);
			else
				bump(op.counter, op.item, b.region, op.hlc, op.n, true);
			APPLIED.incrementAndGet();
		}
		for (Batch.Sum s : b.sums) {
			String c = new String(s.counter, java.nio.charset.StandardCharsets.US_ASCII);
			if (!sumCounters.contains(c) || !Names.item(s.item)) {
				INVALID.incrementAndGet();
				continue;
			}
			bump(s.counter, s.item, b.region, s.hlc, s.n, true);
			APPLIED.incrementAndGet();
		}
	}

	/** Last writer wins on (hlc, edge id); merge.c's merge_apply. */
	private void applySet(Batch b, Batch.Op op) {
		Bytes key = Bytes.wrap(cat3(op.counter, op.item, op.user));
		byte[] st = pairs.get(key);
		boolean was = false;
		if (st != null) {
			ByteBuffer v = ByteBuffer.wrap(st);
			was = v.get() == 1;
			long hlc = v.getLong();
			int el = v.get() & 0xff;
			int c = Long.compareUnsigned(op.hlc, hlc);
			if (c == 0)
				c = Arrays.compareUnsigned(b.edge, 0, b.edge.length, st, 10, 10 + el);
			if (c <= 0)
				return;
			if (was) { // its unit leaves the buckets of the op that set it
				byte[] region = Arrays.copyOfRange(st, 10 + el, st.length);
				bump(op.counter, op.item, region, hlc, -1, !op.add);
			}
		}
		ByteBuffer v = ByteBuffer.allocate(10 + b.edge.length + b.region.length);
		v.put((byte) (op.add ? 1 : 0)).putLong(op.hlc).put((byte) b.edge.length).put(b.edge)
		    .put(b.region);
		pairs.put(key, v.array());
		if (op.add)
			bump(op.counter, op.item, b.region, op.hlc, 1, !was);
	}

	/** Moves the (counter, item) region and day buckets by delta, and its
	 * count too when countToo (forwarding the new count). */
	private void bump(byte[] counter, byte[] item, byte[] region, long hlc, long delta,
	                  boolean countToo) {
		byte[] ci = cat3(counter, item, null);
		if (countToo) {
			long n = add(Bytes.wrap(cat((byte) 'c', ci)), delta);
			ctx.forward(new Record<>(ci, ByteBuffer.allocate(8).putLong(n).array(),
			                         ts));
		}
		add(Bytes.wrap(cat((byte) 'r', cat3(counter, item, region))), delta);
		long day = Long.divideUnsigned(hlc >>> 16, DAY_MS);
		byte[] d = cat((byte) 'd', cat3(counter, item, new byte[0]));
		d = Arrays.copyOf(d, d.length + 4);
		ByteBuffer.wrap(d, d.length - 4, 4).putInt((int) day);
		add(Bytes.wrap(d), delta);
	}

	private long add(Bytes key, long delta) {
		byte[] v = counts.get(key);
		long n = (v == null ? 0 : ByteBuffer.wrap(v).getLong()) + delta;
		counts.put(key, ByteBuffer.allocate(8).putLong(n).array());
		return n;
	}

	private static Bytes heldKey(byte[] edge, long seq) {
		byte[] k = Arrays.copyOf(cat((byte) 'h', edge), edge.length + 10);
		ByteBuffer.wrap(k, edge.length + 2, 8).putLong(seq);
		return Bytes.wrap(k);
	}

	private static byte[] cat(byte tag, byte[] rest) {
		byte[] k = new byte[1 + rest.length];
		k[0] = tag;
		System.arraycopy(rest, 0, k, 1, rest.length);
		return k;
	}

	/** a 0 b, or a 0 b 0 c when c is not null. */
	static byte[] cat3(byte[] a, byte[] b, byte[] c) {
		ByteArrayOutputStream o = new ByteArrayOutputStream(a.length + b.length + 40);
		o.write(a, 0, a.length);
		o.write(0);
		o.write(b, 0, b.length);
		if (c != null) {
			o.write(0);
			o.write(c, 0, c.length);
		}
		return o.toByteArray();
	}
}
