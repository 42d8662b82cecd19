/* Main.java - the Kafka Streams peer of central's apply (issue 69,
 * sim/bench/kstreams/README.md), and the two tools the bench reads it
 * with. Three commands, each with --bootstrap-file FILE (sim kafka's
 * bootstrap list):
 *
 *   run     one instance of the application: the topology over
 *           likes.batches (Apply.java), exactly_once_v2, one standby of
 *           every task; --state-dir DIR (its own), --gate FILE (start
 *           paused, process once FILE exists: a paused instance stays
 *           REBALANCING and lists no tasks, `ready` says when its group
 *           is formed), --status FILE (its state, its tasks and its
 *           counters, rewritten each second, each 50 ms while paused);
 *           stops on SIGTERM.
 *   ready   until the application's group is stable with --members N
 *           (2) members between which every input partition is assigned
 *           (--timeout-s N); exits 0, or 1 at the deadline.
 *   wait    until the application's committed offsets on the input
 *           reach the input's end on every partition (--timeout-s N);
 *           prints caught_up_ms=T and exits 0, or exits 1 at the deadline.
 *   counts  reads the output topic from the start to its end
 *           (read_committed) and prints every item's last count as CSV,
 *           counter,item,count with a header line: central export's form.
 *
 * Options common to all: --app-id ID (likes-kstreams), --input TOPIC
 * (likes.batches), --output TOPIC (kstreams.counts), --set LIST and --sum
 * LIST (the counters, central's defaults: likes,saves and views,shares),
 * --replication N (run: its internal topics' replication factor, 3).
 */
package likes.kstreams;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.ThreadMetadata;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

public final class Main {
	private final Map<String, String> opt = new HashMap<>();

	public static void main(String[] args) throws Exception {
		if (args.length < 1 || args.length % 2 != 1)
			usage("a command and --option value pairs");
		Main m = new Main();
		for (int i = 1; i < args.length; i += 2) {
			if (!args[i].startsWith("--"))
				usage("not an option: " + args[i]);
			m.opt.put(args[i].substring(2), args[i + 1]);
		}
		switch (args[0]) {
		case "run" -> m.run();
		case "wait" -> System.exit(m.waitCaughtUp());
		case "ready" -> System.exit(m.waitReady());
		case "counts" -> m.counts();
		default -> usage("unknown command " + args[0]);
		}
	}

	private static void usage(String why) {
		System.err.println("kstreams: " + why + "\nusage: run|wait|counts --bootstrap-file FILE"
		                   + " [--option value]... (see Main.java)");
		System.exit(2);
	}

	private String get(String k, String dflt) {
		String v = opt.get(k);
		if (v == null && dflt == null)
			usage("--" + k + " is required");
		return v == null ? dflt : v;
	}

	private String bootstrap() throws Exception {
		return Files.readString(Path.of(get("bootstrap-file", null))).trim();
	}

	private static Set<String> list(String s) {
		return Set.of(s.split(","));
	}

	/* ---- run -------------------------------------------------------- */

	Topology topology() {
		Set<String> set = list(get("set", "likes,saves")), sum = list(get("sum", "views,shares"));
		Topology t = new Topology();
		t.addSource("batches", Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer(),
		            get("input", "likes.batches"));
		t.addProcessor("apply", () -> new Apply(set, sum), "batches");
		for (String name : List.of(Apply.PAIRS, Apply.COUNTS, Apply.SEQS))
			t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(name),
			                                            Serdes.Bytes(), Serdes.ByteArray())
			                    .withCachingEnabled(),
			                "apply");
		t.addSink("counts", get("output", "kstreams.counts"), Serdes.ByteArray().serializer(),
		          Serdes.ByteArray().serializer(), "apply");
		return t;
	}

	private void run() throws Exception {
		Properties p = new Properties();
		p.put(StreamsConfig.APPLICATION_ID_CONFIG, get("app-id", "likes-kstreams"));
		p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
		p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
		p.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, 1);
		p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
		// Its changelog and repartition topics as the cluster's own.
		p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, Integer.parseInt(get("replication", "3")));
		p.put(StreamsConfig.STATE_DIR_CONFIG, get("state-dir", null));
		p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
		KafkaStreams ks = new KafkaStreams(topology(), p);
		Path status = Path.of(get("status", null));
		CountDownLatch done = new CountDownLatch(1);
		Runtime.getRuntime().addShutdownHook(new Thread(() -> {
			ks.close(Duration.ofSeconds(30));
			done.countDown();
		}));
		String gate = opt.get("gate");
		if (gate != null)
			ks.pause(); // tasks are assigned and restored, nothing is processed
		ks.start();
		while (done.getCount() > 0) {
			if (gate != null && ks.isPaused() && Files.exists(Path.of(gate)))
				ks.resume();
			writeStatus(status, ks);
			done.await(gate != null && ks.isPaused() ? 50 : 1000,
			           java.util.concurrent.TimeUnit.MILLISECONDS);
		}
	}

	private static void writeStatus(Path f, KafkaStreams ks) throws Exception {
		int active = 0, standby = 0;
		for (ThreadMetadata t : ks.metadataForLocalThreads()) {
			active += t.activeTasks().size();
			standby += t.standbyTasks().size();
		}
		String s = String.format("state=%s\npaused=%s\nactive=%d\nstandby=%d\napplied=%d\n"
		                         + "invalid=%d\nduplicate=%d\nheld=%d\nbad=%d\nother=%d\n",
		                         ks.state(), ks.isPaused(), active, standby, Apply.APPLIED.get(),
		                         Apply.INVALID.get(), Apply.DUPLICATE.get(), Apply.HELD.get(),
		                         Apply.BAD.get(), Apply.OTHER.get());
		Path tmp = Path.of(f + ".tmp");
		Files.writeString(tmp, s);
		Files.move(tmp, f, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
	}

	/* ---- wait ------------------------------------------------------- */

	private int waitCaughtUp() throws Exception {
		Properties p = new Properties();
		p.put("bootstrap.servers", bootstrap());
		String topic = get("input", "likes.batches"), group = get("app-id", "likes-kstreams");
		long deadline = System.currentTimeMillis() + 1000 * Long.parseLong(get("timeout-s", "300"));
		try (Admin admin = Admin.create(p)) {
			int n = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic)
			            .partitions().size();
			Map<TopicPartition, OffsetSpec> ask = new HashMap<>();
			for (int i = 0; i < n; i++)
				ask.put(new TopicPartition(topic, i), OffsetSpec.latest());
			Map<TopicPartition, Long> end = admin.listOffsets(ask).all().get().entrySet().stream()
			    .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
			String behind = "";
			while (System.currentTimeMillis() < deadline) {
				Map<TopicPartition, OffsetAndMetadata> at =
				    admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
				StringBuilder b = new StringBuilder();
				for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
					OffsetAndMetadata o = at.get(e.getKey());
					if (e.getValue() > 0 && (o == null || o.offset() < e.getValue()))
						b.append(' ').append(e.getKey().partition()).append(':')
						    .append(o == null ? "none" : o.offset()).append('/')
						    .append(e.getValue());
				}
				behind = b.toString();
				if (behind.isEmpty()) {
					System.out.println("caught_up_ms=" + System.currentTimeMillis());
					return 0;
				}
				Thread.sleep(100);
			}
			System.err.println("kstreams wait: " + group + " has not reached the end of " + topic
			                   + "; partition:committed/end" + behind);
		}
		return 1;
	}

	/* ---- ready ------------------------------------------------------ */

	private int waitReady() throws Exception {
		Properties p = new Properties();
		p.put("bootstrap.servers", bootstrap());
		String topic = get("input", "likes.batches"), group = get("app-id", "likes-kstreams");
		int members = Integer.parseInt(get("members", "2"));
		long deadline = System.currentTimeMillis() + 1000 * Long.parseLong(get("timeout-s", "180"));
		String last = "";
		try (Admin admin = Admin.create(p)) {
			int n = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic)
			            .partitions().size();
			while (System.currentTimeMillis() < deadline) {
				ConsumerGroupDescription d;
				try {
					d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
				} catch (ExecutionException e) { // no group yet: no member has joined
					last = e.getCause().toString();
					Thread.sleep(200);
					continue;
				}
				long assigned = d.members().stream()
				                    .flatMap(m -> m.assignment().topicPartitions().stream())
				                    .filter(tp -> tp.topic().equals(topic))
				                    .count();
				last = d.groupState() + ", " + d.members().size() + " members, " + assigned +
				       " of " + n + " partitions";
				if (d.groupState() == GroupState.STABLE && d.members().size() == members &&
				    assigned == n)
					return 0;
				Thread.sleep(200);
			}
		}
		System.err.println("kstreams ready: " + group + " is not ready: " + last);
		return 1;
	}

	/* ---- counts ----------------------------------------------------- */

	private void counts() throws Exception {
		Properties p = new Properties();
		p.put("bootstrap.servers", bootstrap());
		p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
		p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
		String topic = get("output", "kstreams.counts");
		Map<Bytes, Long> last = new TreeMap<>();
		try (KafkaConsumer<byte[], byte[]> c =
		         new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
			List<TopicPartition> parts = new ArrayList<>();
			c.partitionsFor(topic).forEach(i -> parts.add(new TopicPartition(topic, i.partition())));
			c.assign(parts);
			c.seekToBeginning(parts);
			Map<TopicPartition, Long> end = c.endOffsets(parts);
			while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp)))
				for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500)))
					last.put(Bytes.wrap(r.key()), ByteBuffer.wrap(r.value()).getLong());
		}
		StringBuilder out = new StringBuilder("counter,item,count\n");
		for (Map.Entry<Bytes, Long> e : last.entrySet()) {
			String k = new String(e.getKey().get(), StandardCharsets.US_ASCII);
			out.append(k.replace('\0', ',')).append(',').append(e.getValue()).append('\n');
		}
		System.out.print(out);
	}
}
