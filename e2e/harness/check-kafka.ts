import { createRequire } from 'node:module';

// A metadata round trip proves the broker, not just its port, is up.
const require = createRequire(import.meta.url);
const { AdminClient } =
  require('@confluentinc/kafka-javascript') as typeof import('@confluentinc/kafka-javascript');

const bootstrap = process.env.WEIR_KAFKA_BOOTSTRAP;
if (!bootstrap) {
  process.stderr.write('WEIR_KAFKA_BOOTSTRAP is required\n');
  process.exit(2);
}
const admin = AdminClient.create({ 'bootstrap.servers': bootstrap, log_level: 0 });
admin.listTopics({ timeout: 3000 }, (error) => {
  admin.disconnect();
  if (error) {
    process.stderr.write(`kafka at ${bootstrap}: ${error.message}\n`);
    process.exit(1);
  }
  process.exit(0);
});
