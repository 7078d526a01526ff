package bench;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.state.Stores;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Kafka Streams twins of Weir's two join jobs (src/jobs/order-enrichment.ts and
 * src/jobs/click-attribution.ts), timed as bench/joins.ts times Weir: from the first record read
 * until every record of both input topics has been read.
 *
 *   Joins BOOTSTRAP orders|clicks LEFT RIGHT TOTAL_RECORDS APP_ID STATE_DIR
 *
 * orders: orders (JSON, event time in "time") left-joined with the customers table read from a
 *         topic into a versioned store (event time in "since"): the version valid at the order's
 *         time (KIP-914's stream–table join on a versioned table), as Weir's temporal join.
 * clicks: clicks joined with impressions of the same key up to 10 minutes before them, 10 s grace.
 * exactly_once_v2, commit interval 1 s, one stream thread. Prints "RESULT <input records/s>".
 */
public final class Joins {
    static final Pattern TIME = Pattern.compile("\"(?:time|since)\":(\\d+)");

    /** The record's "time" (or a customer's "since") field as its event time. */
    public static final class EventTime implements TimestampExtractor {
        @Override
        public long extract(org.apache.kafka.clients.consumer.ConsumerRecord<Object, Object> record, long partitionTime) {
            Matcher m = TIME.matcher(String.valueOf(record.value()));
            return m.find() ? Long.parseLong(m.group(1)) : record.timestamp();
        }
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], which = args[1], left = args[2], right = args[3];
        long total = Long.parseLong(args[4]);
        String appId = args[5];
        Path stateDir = Path.of(args[6], appId);
        Files.createDirectories(stateDir);
        String output = appId + "-out";
        Properties p = Pipelines.exactlyOnceApp(bootstrap, appId, stateDir, output);

        StreamsBuilder builder = new StreamsBuilder();
        AtomicLong firstRead = new AtomicLong();
        Consumed<String, String> consumed = Consumed.with(Serdes.String(), Serdes.String()).withTimestampExtractor(new EventTime());
        KStream<String, String> leftStream = builder.stream(left, consumed).peek((k, v) -> {
            firstRead.compareAndSet(0, System.nanoTime());
            Pipelines.LAST_STAGE.incrementAndGet();
        });
        KStream<String, String> rightStream = builder.stream(right, consumed).peek((k, v) -> {
            firstRead.compareAndSet(0, System.nanoTime());
            Pipelines.LAST_STAGE.incrementAndGet();
        });
        if (which.equals("orders")) {
            KTable<String, String> customers = rightStream.toTable(
                Materialized.<String, String>as(Stores.persistentVersionedKeyValueStore("customers", Duration.ofHours(1)))
                    .withKeySerde(Serdes.String()).withValueSerde(Serdes.String()));
            leftStream.leftJoin(customers, (order, customer) -> "{\"order\":" + order + ",\"customer\":" + customer + "}",
                                Joined.with(Serdes.String(), Serdes.String(), Serdes.String()))
                      .to(output, Produced.with(Serdes.String(), Serdes.String()));
        } else if (which.equals("clicks")) {
            leftStream.join(rightStream, (click, impression) -> "{\"click\":" + click + ",\"impression\":" + impression + "}",
                            JoinWindows.ofTimeDifferenceAndGrace(Duration.ofMinutes(10), Duration.ofSeconds(10)).after(Duration.ZERO),
                            StreamJoined.with(Serdes.String(), Serdes.String(), Serdes.String()))
                      .to(output, Produced.with(Serdes.String(), Serdes.String()));
        } else {
            throw new IllegalArgumentException("topology must be orders or clicks: " + which);
        }
        // Done when every record of both topics has been read (and joined, in the same thread).
        Pipelines.run(builder, p, firstRead, total, total, stateDir);
    }
}
