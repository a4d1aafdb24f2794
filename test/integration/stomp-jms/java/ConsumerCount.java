import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.jms.Connection;
import javax.jms.Message;
import javax.jms.MessageConsumer;
import javax.jms.Session;
import javax.jms.TemporaryQueue;
import org.apache.activemq.ActiveMQConnectionFactory;
import org.apache.activemq.advisory.AdvisorySupport;
import org.apache.activemq.command.ActiveMQDestination;
import org.apache.activemq.command.ActiveMQQueue;
import org.apache.activemq.command.ActiveMQTopic;

/**
 * Prints ActiveMQ's own count of consumers on one destination, read over OpenWire from the
 * broker's consumer advisory topic: a new advisory subscriber is told of every existing consumer,
 * and each advisory carries the broker's current consumerCount.
 *
 * The broker queues those advisories for this connection while it adds the advisory consumer; a
 * marker message sent afterwards to a temporary queue of the same session is dispatched after
 * them, so once the marker has arrived every advisory has (no guessed settle time).
 *
 * Usage: java -cp <activemq jars> ConsumerCount.java tcp://host:port topic|queue NAME
 */
public class ConsumerCount {
  public static void main(String[] args) throws Exception {
    ActiveMQDestination dest = args[1].equals("queue") ? new ActiveMQQueue(args[2]) : new ActiveMQTopic(args[2]);
    ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory(args[0]);
    factory.setWatchTopicAdvisories(false);
    Connection connection = factory.createConnection("gangway", "gangway-test");
    final int[] count = {0};
    try {
      connection.start();
      Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
      MessageConsumer consumer = session.createConsumer(AdvisorySupport.getConsumerAdvisoryTopic(dest));
      consumer.setMessageListener((Message m) -> {
        try {
          synchronized (count) {
            count[0] = m.getIntProperty("consumerCount");
          }
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
      TemporaryQueue marker = session.createTemporaryQueue();
      CountDownLatch done = new CountDownLatch(1);
      session.createConsumer(marker).setMessageListener((Message m) -> done.countDown());
      session.createProducer(marker).send(session.createMessage());
      if (!done.await(30, TimeUnit.SECONDS)) throw new IllegalStateException("the marker message did not come back within 30 s");
    } finally {
      connection.close();
    }
    synchronized (count) {
      System.out.println(count[0]);
    }
  }
}
