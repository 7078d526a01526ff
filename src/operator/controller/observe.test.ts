import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1ContainerState, V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { observePod } from './observe.ts';

const pod = (status: V1Pod['status']): V1Pod => ({
  metadata: { name: 'wc-tm-0', uid: 'u', labels: { 'weir.dev/pod-index': '0' } },
  spec: { containers: [] },
  status,
});

/** The taskmanager container's status in a given state. */
const taskManager = (state: V1ContainerState): V1ContainerStatus => ({
  name: 'taskmanager',
  image: 'i',
  imageID: '',
  ready: false,
  restartCount: 0,
  state,
});

describe('observePod', () => {
  it('a failed container: its exit code and termination message', () => {
    const observed = observePod(
      pod({
        phase: 'Failed',
        containerStatuses: [
          taskManager({
            terminated: {
              exitCode: 2,
              reason: 'Error',
              message: 'KAFKA_UNREACHABLE: no broker of b:9092 answered',
            },
          }),
        ],
      }),
    );
    assert.equal(observed.terminationMessage, 'exit code 2: KAFKA_UNREACHABLE: no broker of b:9092 answered');
  });

  it('a killed container without a message: its exit code and reason', () => {
    const observed = observePod(
      pod({
        phase: 'Failed',
        containerStatuses: [taskManager({ terminated: { exitCode: 137, reason: 'OOMKilled' } })],
      }),
    );
    assert.equal(observed.terminationMessage, 'exit code 137 (SIGKILL, OOMKilled)');
  });

  it('a pod the scheduler cannot place', () => {
    const observed = observePod(
      pod({
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/2 nodes are available: 2 Insufficient cpu.',
          },
        ],
      }),
    );
    assert.deepEqual(observed.notStarted, {
      reason: 'Unschedulable',
      message: '0/2 nodes are available: 2 Insufficient cpu.',
    });
  });

  it('a container that cannot start, but not one that is being created', () => {
    const waiting = (reason: string) =>
      observePod(
        pod({
          phase: 'Pending',
          conditions: [{ type: 'PodScheduled', status: 'True' }],
          containerStatuses: [taskManager({ waiting: { reason, message: `${reason}!` } })],
        }),
      ).notStarted;
    assert.deepEqual(waiting('ErrImagePull'), { reason: 'ErrImagePull', message: 'ErrImagePull!' });
    assert.equal(waiting('ContainerCreating'), undefined);
  });
});
