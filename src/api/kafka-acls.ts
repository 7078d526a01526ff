import { kafkaJobPrefix } from './names.ts';

/**
 * The Kafka ACLs a job's principal needs, by job shape. One list, used by the
 * `weir kafka-acls` command that prints them for users, by docs/security.md
 * (checked against it) and by the e2e that runs jobs under exactly these
 * grants on a broker with an authorizer.
 */
export interface JobAclRequest {
  namespace: string;
  job: string;
  /** The topics the job's sources read. */
  inputs: readonly string[];
  /** The topics its sinks write, dead-letter topics included. */
  outputs: readonly string[];
  /**
   * Whether Weir creates topics for the job: a keyBy (a repartition topic per
   * keyBy) or state under exactly-once (a changelog per stateful stage). Unset: true,
   * since a grant too many is safer than a job that cannot start.
   */
  internalTopics?: boolean;
}

export type AclResource = 'topic' | 'group' | 'transactional-id';

export interface JobAcl {
  resource: AclResource;
  pattern: 'literal' | 'prefixed';
  name: string;
  /** Kafka's operation names, as kafka-acls.sh takes them. */
  operations: readonly ('Read' | 'Write' | 'Describe' | 'Create' | 'Delete')[];
  /** Why the job needs it, for the printed list. */
  why: string;
}

export function jobAcls(request: JobAclRequest): JobAcl[] {
  const prefix = kafkaJobPrefix(request.namespace, request.job);
  const acls: JobAcl[] = [
    ...request.inputs.map(
      (name): JobAcl => ({
        resource: 'topic',
        pattern: 'literal',
        name,
        operations: ['Read', 'Describe'],
        why: 'a source reads it',
      }),
    ),
    ...request.outputs.map(
      (name): JobAcl => ({
        resource: 'topic',
        pattern: 'literal',
        name,
        operations: ['Write', 'Describe'],
        why: 'a sink writes it, in transactions under exactly-once',
      }),
    ),
  ];
  if (request.internalTopics ?? true) {
    acls.push({
      resource: 'topic',
      pattern: 'prefixed',
      name: prefix,
      operations: ['Create', 'Read', 'Write', 'Describe', 'Delete'],
      why: "the repartition topics of its keyBys and the changelogs of its stateful stages, created by its tasks; Delete removes earlier runs' topics",
    });
  }
  acls.push(
    {
      resource: 'group',
      pattern: 'prefixed',
      name: prefix,
      operations: ['Read'],
      why: "each run's committed offsets and state pointers",
    },
    {
      resource: 'transactional-id',
      pattern: 'prefixed',
      name: prefix,
      operations: ['Write', 'Describe'],
      why: "each task's transactional producer (exactly-once), which also fences a zombie",
    },
  );
  return acls;
}

const resourceFlag: Record<AclResource, string> = {
  topic: '--topic',
  group: '--group',
  'transactional-id': '--transactional-id',
};

/** The ACLs as kafka-acls.sh commands ($BOOTSTRAP and admin.properties are the reader's). */
export function kafkaAclCommands(principal: string, acls: readonly JobAcl[]): string {
  return acls
    .map((acl) => {
      const operations = acl.operations.map((o) => `--operation ${o}`).join(' ');
      const pattern = acl.pattern === 'prefixed' ? ' --resource-pattern-type prefixed' : '';
      return [
        `# ${acl.why}`,
        `kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config admin.properties --add \\`,
        `  --allow-principal '${principal}' ${operations} \\`,
        `  ${resourceFlag[acl.resource]} '${acl.name}'${pattern}`,
      ].join('\n');
    })
    .join('\n');
}

const strimziResourceType: Record<AclResource, string> = {
  topic: 'topic',
  group: 'group',
  'transactional-id': 'transactionalId',
};

/** The ACLs as a Strimzi KafkaUser's spec.authorization (type simple), in YAML. */
export function strimziKafkaUserAcls(acls: readonly JobAcl[]): string {
  const lines = ['authorization:', '  type: simple', '  acls:'];
  for (const acl of acls) {
    lines.push(
      `    # ${acl.why}`,
      `    - resource: {type: ${strimziResourceType[acl.resource]}, name: "${acl.name}", patternType: ${acl.pattern}}`,
      `      operations: [${acl.operations.join(', ')}]`,
    );
  }
  return lines.join('\n');
}
