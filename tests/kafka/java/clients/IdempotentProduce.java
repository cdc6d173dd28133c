// The Java kafka-clients leg of tests/kafka/test_idempotence.py: produces
// COUNT records WITH THE PRODUCER'S DEFAULTS (4.x: enable.idempotence=true,
// acks=all, so InitProducerId and producer sequences), then prints one JSON
// line per acknowledged record: {"op":"produced","partition":P,"offset":O,
// "value":"..."}. The Python test reads the topic back and checks that each
// acknowledged record is there exactly once. Exit 0 when all were acked.
//
// Usage: java -cp 'LIB/*:CLASSES' IdempotentProduce BOOTSTRAP TOPIC COUNT

import java.nio.charset.StandardCharsets;
import java.util.*;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class IdempotentProduce {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1];
        int count = Integer.parseInt(args[2]);
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        List<String> values = new ArrayList<>();
        List<Future<RecordMetadata>> acks = new ArrayList<>();
        try (Producer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < count; i++) {
                String value = "java-idem-" + i;
                values.add(value);
                acks.add(producer.send(new ProducerRecord<>(topic, null,
                        ("k" + (i % 5)).getBytes(StandardCharsets.UTF_8),
                        value.getBytes(StandardCharsets.UTF_8))));
            }
            producer.flush();
        }
        for (int i = 0; i < count; i++) {
            RecordMetadata m = acks.get(i).get();
            System.out.println("{\"op\":\"produced\",\"partition\":" + m.partition()
                    + ",\"offset\":" + m.offset() + ",\"value\":\"" + values.get(i) + "\"}");
        }
    }
}
