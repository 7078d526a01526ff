import { parseArgs } from 'node:util';
import { jobAcls, kafkaAclCommands, strimziKafkaUserAcls } from '../api/kafka-acls.ts';
import { CodedError } from '../errors.ts';

export const kafkaAclsUsage = `usage: weir kafka-acls --namespace <ns> --job <name> --principal <principal>
                      --input <topic> [--input <topic>...] --output <topic> [--output <topic>...]
                      [--no-internal-topics] [--format kafka-acls|strimzi]

Prints the kafka-acls.sh commands that grant a StreamJob's Kafka principal
what the job needs, and nothing more (docs/security.md explains each grant).

options:
  --namespace <ns>          the StreamJob's namespace
  --job <name>              the StreamJob's name
  --principal <principal>   the principal, as the broker names it (User:orders, User:CN=orders)
  --input <topic>           a topic the job's sources read (repeat for each)
  --output <topic>          a topic its sinks write, dead-letter topics too (repeat for each)
  --no-internal-topics      leave out the topic prefix grant: only for a job with no keyBy
                            and no state under exactly-once (Weir creates no topics for it)
  --format <format>         kafka-acls (default): kafka-acls.sh commands; strimzi: the
                            spec.authorization of a Strimzi KafkaUser (--principal is then unused)
`;

/** Kafka's rule for topic names. */
const topicName = /^[a-zA-Z0-9._-]{1,249}$/;
const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The commands `weir kafka-acls` prints, from its arguments; an argument that is wrong is named. */
export function kafkaAclsOutput(argv: string[]): string {
  const { values } = parseArgs({
    args: argv,
    options: {
      namespace: { type: 'string' },
      job: { type: 'string' },
      principal: { type: 'string' },
      input: { type: 'string', multiple: true },
      output: { type: 'string', multiple: true },
      'no-internal-topics': { type: 'boolean', default: false },
      format: { type: 'string', default: 'kafka-acls' },
    },
  });
  const fail = (problem: string): never => {
    throw new CodedError('INVALID_ARGUMENTS', `${problem}\n\n${kafkaAclsUsage}`, false);
  };
  const label = (flag: 'namespace' | 'job') => {
    const v = values[flag];
    if (!v) return fail(`--${flag} is required`);
    if (!dnsLabel.test(v)) fail(`--${flag} "${v}" is not a Kubernetes name (a DNS label)`);
    return v;
  };
  const namespace = label('namespace');
  const job = label('job');
  const format = values.format;
  if (format !== 'kafka-acls' && format !== 'strimzi')
    fail(`--format "${format}" is not kafka-acls or strimzi`);
  const principal =
    values.principal ?? (format === 'strimzi' ? 'User:-' : fail('--principal is required (User:<name>)'));
  if (!/^[A-Za-z]+:.+$/.test(principal) || principal.includes("'"))
    fail(`--principal "${principal}" must read Type:name, as User:orders`);
  const topics = (flag: 'input' | 'output') => {
    const list = values[flag] ?? [];
    if (list.length === 0) fail(`give at least one --${flag}`);
    for (const t of list) if (!topicName.test(t)) fail(`--${flag} "${t}" is not a Kafka topic name`);
    return list;
  };
  const acls = jobAcls({
    namespace,
    job,
    inputs: topics('input'),
    outputs: topics('output'),
    internalTopics: !values['no-internal-topics'],
  });
  return `${format === 'strimzi' ? strimziKafkaUserAcls(acls) : kafkaAclCommands(principal, acls)}\n`;
}
