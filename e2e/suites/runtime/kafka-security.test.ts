import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import type { StreamJob } from '../../../src/api/streamjob.ts';
import { requireEnv, waitFor } from '../../support/cluster.ts';
import { committedCountSumProblems, keyedInput } from '../../support/committed-state.ts';
import { killContainer, needsHarnessNodes, podLogFiles } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { grantJobAcls, scramUser } from '../../support/kafka-security.ts';
import { createTopics, listTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { weirDevJob } from '../../support/streamjobs.ts';
import { TaskManagerProcess, taskManagerEnv } from '../../support/taskmanager-process.ts';

const keys = 10;
const partitions = 4;

/**
 * The harness broker as production has it: SCRAM over TLS (9094) and mutual
 * TLS (9095), with ACLs. Jobs run with least-privilege principals; a wrong
 * password and a missing ACL are named in the job's status and events.
 */
describe('Kafka over SASL_SSL and mutual TLS, with ACLs', {
  skip: needsHarnessNodes('use its services and nodes'),
}, () => {
  const suite = jobSuite('rt-kafka-sec');
  const password = `pw-${uniqueName('x')}`;

  const secret = (name: string, stringData: Record<string, string>) =>
    suite.cluster.core.createNamespacedSecret({
      namespace: suite.namespace,
      body: { metadata: { name }, stringData },
    });

  /**
   * A SCRAM-SHA-512 user whose password is `userPassword`, and the Secret
   * `secretName` that gives a job that user with `jobPassword`.
   */
  async function scramLogin(secretName: string, jobPassword = password, userPassword = password) {
    const user = uniqueName('scram');
    await scramUser(user, 'SCRAM-SHA-512', userPassword);
    await secret(secretName, { username: user, password: jobPassword });
    return user;
  }

  /** A SCRAM-SHA-512 user and its Secret as Strimzi's User Operator writes it: password and sasl.jaas.config, no username. */
  async function strimziKafkaUser() {
    const user = uniqueName('strimzi');
    await scramUser(user, 'SCRAM-SHA-512', password);
    await secret(user, {
      password,
      'sasl.jaas.config': `org.apache.kafka.common.security.scram.ScramLoginModule required username="${user}" password="${password}";`,
    });
    return user;
  }

  /** spec.kafka for SCRAM-SHA-512 over TLS, logging in with the Secret `secretName`. */
  const saslSsl = (secretName: string) => ({
    bootstrapServers: requireEnv('WEIR_KAFKA_SASL_SSL_BOOTSTRAP'),
    securityProtocol: 'SASL_SSL',
    saslMechanism: 'SCRAM-SHA-512',
    secretRef: { name: secretName },
    tls: { ca: { secretKeyRef: { name: 'kafka-ca', key: 'ca.crt' } } },
  });

  before(async () => {
    await secret('kafka-ca', { 'ca.crt': readFileSync(requireEnv('WEIR_KAFKA_CA'), 'utf8') });
    await secret('kafka-client', {
      'tls.crt': readFileSync(requireEnv('WEIR_KAFKA_CLIENT_CERT'), 'utf8'),
      'tls.key': readFileSync(requireEnv('WEIR_KAFKA_CLIENT_KEY'), 'utf8'),
    });
  });

  async function topics(name: string) {
    const input = uniqueName(`${name}-in`);
    const output = uniqueName(`${name}-out`);
    await createTopics({ name: input, partitions }, { name: output, partitions });
    return { input, output };
  }

  /** A keyed count and sum; `stages: 2` counts behind a keyBy (a repartition topic and a changelog per stage). */
  function securedJob(
    name: string,
    topicNames: { input: string; output: string },
    kafka: Record<string, unknown>,
    stages: 1 | 2 = 1,
  ) {
    return suite.jobs.create(
      weirDevJob(name, 'keyed-count-sum', {
        args: { ...topicNames, version: 'v1', ...(stages === 2 ? { stages } : {}) },
        storageUrl: 's3://weir/e2e-kafka-security',
        interval: '500ms',
        spec: {
          parallelism: 2,
          taskSlots: 1,
          kafka,
          restartStrategy: { type: 'fixed-delay', attempts: 3, delay: '1s' },
        },
      }),
    );
  }

  async function warningsOf(job: StreamJob) {
    const list = await suite.cluster.core.listNamespacedEvent({
      namespace: suite.namespace,
      fieldSelector: `involvedObject.uid=${job.metadata.uid}`,
    });
    return list.items.filter((e) => e.type === 'Warning').map((e) => `${e.reason}: ${e.message}`);
  }

  /** The operator writes status before it records the pass's events: wait for the event, do not race it. */
  function warningMatching(job: StreamJob, pattern: RegExp) {
    return waitFor(`a Warning event matching ${pattern}`, 30_000, async () =>
      (await warningsOf(job)).find((w) => pattern.test(w)),
    );
  }

  /** Waits for the Ready condition or the last failure to name `cause`; returns the job. */
  function causeNamed(name: string, cause: RegExp) {
    return suite.jobs.waitFor(
      name,
      `status to name ${cause}`,
      (j) =>
        cause.test(j.status?.restarts?.lastFailure?.message ?? '') ||
        cause.test(j.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? ''),
      60_000,
    );
  }

  async function exactlyOnceThroughAKill(name: string, topicNames: { input: string; output: string }) {
    await produce(topicNames.input, keyedInput(0, 1000, keys));
    await suite.jobs.waitFor(name, 'Running', (j) => j.status?.phase === 'Running', 120_000);
    await readCommitted(topicNames.output, partitions, { expected: 1000, timeoutMs: 90_000, quietMs: 200 });
    const victim = await suite.cluster.core.readNamespacedPod({
      name: `${name}-tm-0`,
      namespace: suite.namespace,
    });
    await produce(topicNames.input, keyedInput(1000, 1000, keys));
    await killContainer(victim, 'taskmanager');
    await suite.jobs.waitFor(name, 'a restart counted', (j) => (j.status?.restarts?.count ?? 0) >= 1, 60_000);
    await produce(topicNames.input, keyedInput(2000, 1000, keys));
    assert.deepEqual(await committedCountSumProblems(topicNames.output, partitions, 3000, keys), []);
    await keepLogs(name);
  }

  /**
   * The job's TaskManager logs as they are now, for the last test's search for secrets: the kubelet removes
   * a deleted pod's logs, and a job left running while the suite goes on may have its pods replaced by then.
   */
  const keptLogs = new Map<string, string[]>();
  async function keepLogs(name: string) {
    const files = (await podLogFiles(suite.namespace)).filter((f) =>
      f.includes(`/${suite.namespace}_${name}-tm-`),
    );
    keptLogs.set(name, await Promise.all(files.map((f) => readFile(f, 'utf8'))));
  }

  it('a keyBy job over SASL_SSL (SCRAM-SHA-512) with a Strimzi KafkaUser Secret, under the documented ACLs: exactly once through a SIGKILL', async () => {
    const user = await strimziKafkaUser();
    const t = await topics('sasl');
    await grantJobAcls(`User:${user}`, { namespace: suite.namespace, name: 'sasl', ...t });
    await securedJob('sasl', t, { ...saslSsl(user), username: user }, 2);
    await exactlyOnceThroughAKill('sasl', t);
    await internalTopicsMade('sasl');
  });

  it('a keyBy job over mutual TLS with a client certificate, under the documented ACLs: exactly once through a SIGKILL', async () => {
    const t = await topics('mtls');
    await grantJobAcls('User:CN=weir-mtls-client', { namespace: suite.namespace, name: 'mtls', ...t });
    await securedJob(
      'mtls',
      t,
      {
        bootstrapServers: requireEnv('WEIR_KAFKA_MTLS_BOOTSTRAP'),
        securityProtocol: 'SSL',
        tls: {
          ca: { secretKeyRef: { name: 'kafka-ca', key: 'ca.crt' } },
          clientCertificate: { secretName: 'kafka-client' },
        },
      },
      2,
    );
    await exactlyOnceThroughAKill('mtls', t);
    await internalTopicsMade('mtls');
  });

  it('a single-stage job over SASL_SSL with a username Secret, under the documented ACLs: exactly once through a SIGKILL', async () => {
    const user = await scramLogin('kafka-user');
    const t = await topics('single');
    await grantJobAcls(`User:${user}`, { namespace: suite.namespace, name: 'single', ...t });
    await securedJob('single', t, saslSsl('kafka-user'));
    await exactlyOnceThroughAKill('single', t);
  });

  /** The job's principal created its repartition topic and the counting stage's changelog (the prefix grant is used). */
  async function internalTopicsMade(name: string) {
    const runId = (await suite.jobs.get(name)).status?.run?.id ?? '';
    const prefix = `weir.${suite.namespace}.${name}.${runId}.`;
    const made = (await listTopics()).filter((topic) => topic.startsWith(prefix)).sort();
    assert.deepEqual(made, [`${prefix}by-key`, `${prefix}by-key.changelog`]);
  }

  it('a wrong password is named in status and an event, and the operator keeps working', async () => {
    const user = await scramLogin('kafka-wrong', 'not-the-right-one', 'the-right-one');
    const t = await topics('wrongpw');
    await grantJobAcls(`User:${user}`, { namespace: suite.namespace, name: 'wrongpw', ...t });
    await securedJob('wrongpw', t, saslSsl('kafka-wrong'));
    const job = await causeNamed('wrongpw', /KAFKA_AUTHENTICATION_FAILED: .*invalid credentials/);
    await warningMatching(job, /^TaskFailed: .*KAFKA_AUTHENTICATION_FAILED/);
    const all = JSON.stringify({ status: job.status, events: await warningsOf(job) });
    assert.ok(!all.includes('not-the-right-one'), 'the password appears nowhere');
    // The operator still serves the others: the SASL job is Running.
    assert.equal((await suite.jobs.get('sasl')).status?.phase, 'Running');
  });

  it('a TaskManager refused by Kafka logs the failure with its code before it ends', async () => {
    // A process, not a pod: its whole log is read, however soon the failing TaskManager ends (by SIGKILL when
    // Kafka calls are still pending, which once lost the log lines written just before).
    const user = uniqueName('scram');
    await scramUser(user, 'SCRAM-SHA-512', password);
    const t = await topics('refused');
    const tm = new TaskManagerProcess({
      ...taskManagerEnv({ job: 'refused', runId: 'r1', ...t, parallelism: 2, tasks: [0, 1] }),
      WEIR_KAFKA_BOOTSTRAP: requireEnv('WEIR_KAFKA_SASL_SSL_BOOTSTRAP'),
      WEIR_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      WEIR_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      WEIR_KAFKA_SASL_USERNAME: user,
      WEIR_KAFKA_SASL_PASSWORD: 'not-the-right-one',
      WEIR_KAFKA_TLS_CA: readFileSync(requireEnv('WEIR_KAFKA_CA'), 'utf8'),
    });
    assert.notEqual(await tm.exited, 0);
    const failures = tm.lines.filter((l) => l.msg === 'task failed');
    const seen = JSON.stringify(tm.lines.map((l) => l.msg));
    assert.ok(failures.length > 0, `the failure is logged: ${seen}`);
    for (const failure of failures) assert.equal(failure.code, 'KAFKA_AUTHENTICATION_FAILED', seen);
  });

  /** A SCRAM job whose principal has every ACL it needs but `missing`. */
  async function jobMissingAcl(name: string, missing: 'group' | 'output-write') {
    const user = await scramLogin(`kafka-${name}`);
    const t = await topics(name);
    await grantJobAcls(`User:${user}`, { namespace: suite.namespace, name, ...t }, missing);
    await securedJob(name, t, saslSsl(`kafka-${name}`));
    return t;
  }

  it('a missing group ACL is named in status and an event', async () => {
    // The task cannot read its committed offsets.
    await jobMissingAcl('noacl', 'group');
    const job = await causeNamed('noacl', /KAFKA_NOT_AUTHORIZED: .*[Gg]roup authorization failed/);
    await warningMatching(job, /^TaskFailed: .*KAFKA_NOT_AUTHORIZED/);
  });

  it('a missing WRITE ACL on the output topic is named, with the topic, in status and an event', async () => {
    const t = await jobMissingAcl('nowrite', 'output-write');
    await produce(t.input, keyedInput(0, 100, keys));
    const job = await causeNamed(
      'nowrite',
      new RegExp(`KAFKA_NOT_AUTHORIZED: .*writes to ${t.output}: the job's principal needs WRITE`),
    );
    await warningMatching(job, /^TaskFailed: .*KAFKA_NOT_AUTHORIZED/);
  });

  it('no secret value used above appears in the operator log, the TaskManager logs, events or status', async (t) => {
    for (const job of ['sasl', 'mtls', 'single']) {
      const restarts = (await suite.jobs.get(job)).status?.restarts;
      t.diagnostic(
        `${job}: ${restarts?.count ?? 0} restart(s); last: ${restarts?.lastFailure?.message ?? '-'}`,
      );
    }
    const tokens = await Promise.all(
      ['sasl', 'mtls', 'single', 'wrongpw', 'noacl', 'nowrite'].map(async (job) => {
        const secret = await suite.cluster.core.readNamespacedSecret({
          name: `${job}-weir-token`,
          namespace: suite.namespace,
        });
        return Buffer.from(secret.data?.token ?? '', 'base64').toString('utf8');
      }),
    );
    const clientKey = readFileSync(requireEnv('WEIR_KAFKA_CLIENT_KEY'), 'utf8').split('\n')[1] ?? '';
    const secrets = [password, 'not-the-right-one', requireEnv('WEIR_S3_SECRET_KEY'), clientKey, ...tokens];
    assert.ok(
      secrets.every((v) => v.length >= 8),
      'every secret is long enough to search for',
    );
    const texts = [readFileSync(suite.operator.logFile, 'utf8')];
    // The kubelet removes a deleted pod's logs, so the failed jobs' replaced pods may have none left; the
    // running jobs' logs were kept when their test ended.
    for (const job of ['sasl', 'mtls', 'single']) {
      const kept = keptLogs.get(job) ?? [];
      assert.ok(
        kept.length > 0 && kept.every((l) => l.length > 0),
        `the ${job} TaskManagers' logs were kept`,
      );
      texts.push(...kept);
    }
    for (const file of await podLogFiles(suite.namespace)) texts.push(readFileSync(file, 'utf8'));
    const events = await suite.cluster.core.listNamespacedEvent({ namespace: suite.namespace });
    texts.push(JSON.stringify(events.items.map((e) => e.message)));
    for (const name of ['sasl', 'mtls', 'single', 'wrongpw', 'noacl', 'nowrite'])
      texts.push(JSON.stringify((await suite.jobs.get(name)).status));
    for (const secret of secrets) {
      const leaks = texts.filter((t) => t.includes(secret)).length;
      assert.equal(leaks, 0, `a secret value of ${secret.length} characters appears in ${leaks} log(s)`);
    }
  });
});
