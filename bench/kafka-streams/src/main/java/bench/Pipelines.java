package bench;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.TimestampExtractor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Kafka Streams twins of Weir's two-stage benchmark jobs, timed the same way as
 * bench/runtime-throughput.ts --only pipelines times Weir: from the first record read until the
 * stage after the repartition has read every record the input turned into.
 *
 *   Pipelines BOOTSTRAP wordcount|pageviews INPUT INPUT_RECORDS LAST_STAGE_RECORDS APP_ID STATE_DIR
 *
 * wordcount: lines -> flatMap words -> groupBy(word) (a repartition topic) -> count().
 * pageviews: views (JSON, event time in "time") -> selectKey(user) -> repartition ->
 *            groupByKey -> 1-minute tumbling windows, 5 s grace -> count -> suppress(untilWindowCloses).
 * exactly_once_v2, commit interval 1 s, one stream thread (one task per sub-topology), as Weir's
 * one task per stage in one TaskManager. Prints "RESULT <input records/s>".
 */
public final class Pipelines {
    static final AtomicLong LAST_STAGE = new AtomicLong();
    static final Pattern USER = Pattern.compile("\"user\":\"([^\"]*)\"");
    static final Pattern TIME = Pattern.compile("\"time\":(\\d+)");

    /** The view's "time" field as its event time. */
    public static final class ViewTime implements TimestampExtractor {
        @Override
        public long extract(org.apache.kafka.clients.consumer.ConsumerRecord<Object, Object> record, long partitionTime) {
            Matcher m = TIME.matcher(String.valueOf(record.value()));
            return m.find() ? Long.parseLong(m.group(1)) : record.timestamp();
        }
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], which = args[1], input = args[2];
        long inputRecords = Long.parseLong(args[3]), lastStageRecords = Long.parseLong(args[4]);
        String appId = args[5];
        Path stateDir = Path.of(args[6], appId);
        Files.createDirectories(stateDir);
        String output = appId + "-out";
        Properties p = exactlyOnceApp(bootstrap, appId, stateDir, output);

        StreamsBuilder builder = new StreamsBuilder();
        AtomicLong firstRead = new AtomicLong();
        if (which.equals("wordcount")) {
            builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                   .peek((k, v) -> firstRead.compareAndSet(0, System.nanoTime()))
                   .flatMapValues(v -> Arrays.asList(v.toLowerCase().split("\\W+")))
                   .selectKey((k, word) -> word)
                   .repartition(Repartitioned.with(Serdes.String(), Serdes.String()).withName("by-word"))
                   .peek((k, v) -> LAST_STAGE.incrementAndGet())
                   .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
                   .count()
                   .toStream()
                   .mapValues(String::valueOf)
                   .to(output, Produced.with(Serdes.String(), Serdes.String()));
        } else if (which.equals("pageviews")) {
            builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()).withTimestampExtractor(new ViewTime()))
                   .peek((k, v) -> firstRead.compareAndSet(0, System.nanoTime()))
                   .selectKey((k, v) -> {
                       Matcher m = USER.matcher(v);
                       return m.find() ? m.group(1) : "";
                   })
                   .repartition(Repartitioned.with(Serdes.String(), Serdes.String()).withName("by-user"))
                   .peek((k, v) -> LAST_STAGE.incrementAndGet())
                   .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
                   .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMinutes(1), Duration.ofSeconds(5)))
                   .count()
                   .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                   .toStream()
                   .map((w, n) -> KeyValue.pair(w.key(), w.window().start() + ":" + n))
                   .to(output, Produced.with(Serdes.String(), Serdes.String()));
        } else {
            throw new IllegalArgumentException("topology must be wordcount or pageviews: " + which);
        }
        run(builder, p, firstRead, inputRecords, lastStageRecords, stateDir);
    }

    /**
     * The settings both twins run with (exactly_once_v2, 1 s commits, one stream thread, reading from the
     * beginning), after creating the output topic.
     */
    static Properties exactlyOnceApp(String bootstrap, String appId, Path stateDir, String output) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(List.of(new NewTopic(output, 1, (short) 1))).all().get();
        }
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "1000");
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, "1");
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, "1");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        return p;
    }

    static void run(StreamsBuilder builder, Properties p, AtomicLong firstRead, long inputRecords, long lastStageRecords,
                    Path stateDir) throws Exception {
        KafkaStreams streams = new KafkaStreams(builder.build(), p);
        streams.start();
        long deadline = System.nanoTime() + 600_000_000_000L;
        while (LAST_STAGE.get() < lastStageRecords) {
            if (System.nanoTime() > deadline || streams.state() == KafkaStreams.State.ERROR) {
                System.out.println("RESULT ERROR state " + streams.state() + " after " + LAST_STAGE.get() + " records");
                Runtime.getRuntime().halt(1);
            }
            Thread.sleep(20);
        }
        double seconds = (System.nanoTime() - firstRead.get()) / 1e9;
        System.out.printf("RESULT %.0f%n", inputRecords / seconds);
        System.out.flush();
        streams.close(new KafkaStreams.CloseOptions().timeout(Duration.ofSeconds(30)).leaveGroup(true));
        try (var walk = Files.walk(stateDir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
        Runtime.getRuntime().halt(0);
    }
}
