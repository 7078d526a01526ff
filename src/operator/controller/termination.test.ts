import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeTerminated, failureMessageMaxChars } from './termination.ts';

/** A tail of pino lines as the kubelet's FallbackToLogsOnError gives it: the first line cut. */
const logTail = [
  'og","level":30,"msg":"checkpoint: committed","checkpointId":41}',
  ...Array.from({ length: 30 }, (_, i) =>
    JSON.stringify({
      level: 30,
      time: i,
      job: 'orders',
      task: 0,
      msg: 'checkpoint: committed',
      checkpointId: 42 + i,
    }),
  ),
  JSON.stringify({
    level: 30,
    job: 'orders',
    msg: 'stopping: finishing the current batch and taking a last checkpoint',
  }),
].join('\n');

describe('describeTerminated: a failure in one readable sentence', () => {
  const cases: [string, Parameters<typeof describeTerminated>[0], string | RegExp][] = [
    [
      'a coded cause the TaskManager wrote',
      { exitCode: 2, message: 'JOB_MODULE_LOAD_FAILED: cannot load job module /app/job.js\n' },
      'exit code 2: JOB_MODULE_LOAD_FAILED: cannot load job module /app/job.js',
    ],
    ['killed, nothing written', { exitCode: 137 }, 'exit code 137 (SIGKILL)'],
    ['out of memory', { exitCode: 137, reason: 'OOMKilled' }, 'exit code 137 (SIGKILL, OOMKilled)'],
    [
      'killed, the kubelet fell back to the log: the last line’s message, not the log',
      { exitCode: 137, reason: 'Error', message: logTail },
      'exit code 137 (SIGKILL): last log line: stopping: finishing the current batch and taking a last checkpoint',
    ],
    [
      'a logged failure with its code',
      {
        exitCode: 1,
        message: `${logTail}\n${JSON.stringify({ level: 50, code: 'TASK_FENCED', msg: 'task 0 was fenced' })}`,
      },
      'exit code 1: last log line: TASK_FENCED: task 0 was fenced',
    ],
    ['only a cut line', { exitCode: 143, message: '{"level":30,"msg":"cut he' }, 'exit code 143 (SIGTERM)'],
  ];
  for (const [name, terminated, expected] of cases) {
    it(name, () => {
      const described = describeTerminated(terminated);
      if (typeof expected === 'string') assert.equal(described, expected);
      else assert.match(described, expected);
    });
  }

  it('is bounded, whatever the message', () => {
    const described = describeTerminated({ exitCode: 1, message: `INTERNAL: ${'x'.repeat(10_000)}` });
    assert.equal(described.length, failureMessageMaxChars);
    assert.ok(described.endsWith('…'));
  });
});
