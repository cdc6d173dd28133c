// The Java kafka-clients leg of tests/kafka/test_groups.py: produces COUNT
// records (enable.idempotence=false: this test is about the consumer group), then
// reads them with a consumer in group GROUP with the client's defaults
// (classic group protocol, subscribe(), its default assignors), committing
// synchronously after each poll. Prints one JSON line per record read
// ("op":"consumed") and a last line with the committed offsets
// ("op":"committed"). Exit 0 when every record came back once.
//
// Usage: java -cp 'LIB/*:CLASSES' GroupConsume BOOTSTRAP TOPIC GROUP COUNT

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class GroupConsume {
    static final Duration DEADLINE = Duration.ofSeconds(60);

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], group = args[2];
        int count = Integer.parseInt(args[3]);

        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (Producer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < count; i++) {
                producer.send(new ProducerRecord<>(topic, "k" + i, "v" + i));
            }
            producer.flush();
        }

        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        Set<String> seen = new HashSet<>();
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        try (Consumer<String, String> consumer = new KafkaConsumer<>(c)) {
            consumer.subscribe(List.of(topic));
            while (seen.size() < count && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    seen.add(r.value());
                    System.out.println("{\"op\":\"consumed\",\"partition\":" + r.partition()
                            + ",\"offset\":" + r.offset() + ",\"value\":\"" + r.value() + "\"}");
                }
                consumer.commitSync();
            }
            long committed = 0;
            Set<TopicPartition> assigned = consumer.assignment();
            for (OffsetAndMetadata o : consumer.committed(assigned).values()) {
                if (o != null) committed += o.offset();
            }
            System.out.println("{\"op\":\"committed\",\"sum\":" + committed
                    + ",\"partitions\":" + assigned.size() + "}");
        }
        System.exit(seen.size() == count ? 0 : 1);
    }
}
