import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { keyedInput, runtimeStorage } from '../../support/committed-state.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { TaskManagerProcess, taskManagerEnv } from '../../support/taskmanager-process.ts';

describe('TaskManager control API', () => {
  let tm: TaskManagerProcess | undefined;
  after(() => tm?.signal('SIGKILL'));

  it('answers health without a token, 401 without the right one, and status, savepoint and stop with it', async () => {
    const input = uniqueName('ctl-in');
    const output = uniqueName('ctl-out');
    await createTopics({ name: input, partitions: 2 }, { name: output, partitions: 2 });
    await produce(input, keyedInput(0, 100, 5));
    const token = 'e2e-control-token-0123456789';
    const job = uniqueName('ctl');
    tm = new TaskManagerProcess(
      taskManagerEnv({ job, runId: 'r1', input, output, parallelism: 1, tasks: [0], token, interval: '1s' }),
    );
    const url = await tm.controlUrl();
    await readCommitted(output, 2, { expected: 100, timeoutMs: 60_000, quietMs: 200 });
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    assert.equal((await fetch(`${url}/readyz`)).status, 200);

    for (const headers of [{}, { Authorization: 'Bearer wrong' }, { Authorization: token }]) {
      const response = await fetch(`${url}/v1/status`, { headers });
      assert.equal(response.status, 401, JSON.stringify(headers));
      assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="weir-taskmanager"');
    }
    assert.equal((await fetch(`${url}/v1/savepoints`, { method: 'POST', body: '{"id":"sp1"}' })).status, 401);

    const auth = { Authorization: `Bearer ${token}` };
    const status = (await (await fetch(`${url}/v1/status`, { headers: auth })).json()) as {
      ready: boolean;
      tasks: { state: string; partitions: { offset: number | null; lag: number | null }[] }[];
    };
    assert.equal(status.ready, true);
    assert.equal(status.tasks[0]?.partitions.length, 2);
    assert.equal(
      status.tasks[0]?.partitions.reduce((sum, p) => sum + (p.offset ?? 0), 0),
      100,
    );

    const bad = await fetch(`${url}/v1/savepoints`, {
      method: 'POST',
      headers: auth,
      body: '{"id":"Not Valid"}',
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /^id must be/);

    const savepoint = await fetch(`${url}/v1/savepoints`, {
      method: 'POST',
      headers: auth,
      body: '{"id":"sp-1"}',
    });
    assert.equal(savepoint.status, 200);
    const body = (await savepoint.json()) as { tasks: { objectKey: string; partitions: unknown[] }[] };
    const objectKey = body.tasks[0]?.objectKey ?? '';
    assert.match(objectKey, new RegExp(`^e2e/${job}/savepoints/sp-1/t0/\\d+-[0-9a-f]+\\.snap$`));
    assert.equal(body.tasks[0]?.partitions.length, 2);
    const storage = runtimeStorage();
    assert.ok((await storage.get(objectKey)).length > 0, 'the savepoint object exists');

    const stop = await fetch(`${url}/v1/stop`, { method: 'POST', headers: auth, body: '{}' });
    assert.equal(stop.status, 200);
    assert.equal(await tm.exited, 0);
    storage.close();
  });
});
