import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

/**
 * The harness Kafka's users and ACLs, set over its PLAINTEXT listener (whose
 * ANONYMOUS principal is a super user) with the Admin API of the broker's own
 * kafka-clients jar. Run from source, no build step:
 *
 *   java -cp "$(cat $WEIR_KAFKA_CLASSPATH_FILE)" e2e/harness/KafkaSecurity.java BOOTSTRAP scram USER MECHANISM PASSWORD
 *   java -cp ... KafkaSecurity.java BOOTSTRAP acl PRINCIPAL TYPE PATTERN NAME OPERATION[,OPERATION...]
 *
 * TYPE is TOPIC, GROUP, TRANSACTIONAL_ID or CLUSTER; PATTERN LITERAL or PREFIXED; OPERATION as Kafka names it
 * (READ, WRITE, DESCRIBE, ...). Each call is idempotent.
 */
public class KafkaSecurity {
  public static void main(String[] args) throws Exception {
    if (args.length < 2) usage();
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    try (Admin admin = Admin.create(props)) {
      switch (args[1]) {
        case "scram" -> {
          if (args.length != 5) usage();
          ScramMechanism mechanism = ScramMechanism.fromMechanismName(args[3]);
          if (mechanism == ScramMechanism.UNKNOWN) throw new IllegalArgumentException("unknown mechanism " + args[3]);
          admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(
              args[2], new ScramCredentialInfo(mechanism, 4096), args[4]))).all().get();
          System.out.println("scram user " + args[2] + " (" + args[3] + ")");
        }
        case "acl" -> {
          if (args.length != 7) usage();
          ResourcePattern pattern = new ResourcePattern(
              ResourceType.fromString(args[3]), args[5], PatternType.fromString(args[4]));
          List<AclBinding> bindings = new ArrayList<>();
          for (String operation : args[6].split(",")) {
            bindings.add(new AclBinding(pattern, new AccessControlEntry(
                args[2], "*", AclOperation.fromString(operation), AclPermissionType.ALLOW)));
          }
          admin.createAcls(bindings).all().get();
          System.out.println("acl " + args[2] + " " + args[6] + " on " + pattern);
        }
        default -> usage();
      }
    }
  }

  private static void usage() {
    System.err.println("usage: KafkaSecurity BOOTSTRAP scram USER MECHANISM PASSWORD"
        + " | BOOTSTRAP acl PRINCIPAL TYPE PATTERN NAME OPERATION[,OPERATION...]");
    System.exit(2);
  }
}
