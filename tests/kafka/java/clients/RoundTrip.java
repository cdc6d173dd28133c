// The Java kafka-clients leg of tests/kafka (test_java_client.py): produces
// COUNT keyed records with headers and CreateTime timestamps (acks=all,
// enable.idempotence=false, optional compression), then reads them back with
// assign() + seek() at the acknowledged offsets. Prints one JSON line per
// record produced ("op":"produced") and per record read ("op":"consumed");
// bytes are base64. The Python test compares the two and checks them against
// what other clients read. Exit 0 when every record came back.
//
// Usage: java -cp 'LIB/*:CLASSES' RoundTrip BOOTSTRAP TOPIC COUNT COMPRESSION TIMESTAMP_BASE

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class RoundTrip {
    static final Duration CONSUME_DEADLINE = Duration.ofSeconds(30);

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], compression = args[3];
        int count = Integer.parseInt(args[2]);
        long timestampBase = Long.parseLong(args[4]);

        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "20000");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());

        List<ProducerRecord<byte[], byte[]>> sent = new ArrayList<>();
        List<Future<RecordMetadata>> acks = new ArrayList<>();
        try (Producer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < count; i++) {
                byte[] key = ("java-key-" + (i % 3)).getBytes(StandardCharsets.UTF_8);
                byte[] value = ("java-value-" + i + " " + "x".repeat(i % 50) + "\u00e9\u0000")
                        .getBytes(StandardCharsets.UTF_8);
                RecordHeaders headers = new RecordHeaders();
                headers.add("trace", ("t-" + i).getBytes(StandardCharsets.UTF_8));
                headers.add("bin", new byte[] {0, (byte) 0xff, (byte) i});
                ProducerRecord<byte[], byte[]> r =
                        new ProducerRecord<>(topic, null, timestampBase + i, key, value, headers);
                sent.add(r);
                acks.add(producer.send(r));
            }
            producer.flush();
        }

        Map<TopicPartition, Long> firstOffset = new HashMap<>();
        int expected = 0;
        for (int i = 0; i < count; i++) {
            RecordMetadata m = acks.get(i).get();
            TopicPartition tp = new TopicPartition(m.topic(), m.partition());
            firstOffset.merge(tp, m.offset(), Math::min);
            System.out.println(json("produced", m.partition(), m.offset(), m.timestamp(),
                    sent.get(i).key(), sent.get(i).value(), sent.get(i).headers()));
            expected++;
        }

        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        int received = 0;
        try (Consumer<byte[], byte[]> consumer = new KafkaConsumer<>(c)) {
            consumer.assign(firstOffset.keySet());
            firstOffset.forEach(consumer::seek);
            long deadline = System.nanoTime() + CONSUME_DEADLINE.toNanos();
            while (received < expected && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    System.out.println(json("consumed", r.partition(), r.offset(), r.timestamp(),
                            r.key(), r.value(), r.headers()));
                    received++;
                }
            }
        }
        System.out.flush();
        if (received < expected) {
            System.err.println("read " + received + " of " + expected + " records before the deadline");
            System.exit(1);
        }
    }

    static String json(String op, int partition, long offset, long timestamp,
                       byte[] key, byte[] value, Iterable<Header> headers) {
        Base64.Encoder b64 = Base64.getEncoder();
        StringBuilder h = new StringBuilder();
        for (Header header : headers) {
            if (h.length() > 0) h.append(',');
            h.append("[\"").append(header.key()).append("\",\"")
                    .append(b64.encodeToString(header.value())).append("\"]");
        }
        return String.format(
                "{\"op\":\"%s\",\"partition\":%d,\"offset\":%d,\"timestamp\":%d,"
                        + "\"key\":\"%s\",\"value\":\"%s\",\"headers\":[%s]}",
                op, partition, offset, timestamp,
                b64.encodeToString(key), b64.encodeToString(value), h);
    }
}
