import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { type EnvSources, expandReferences, resolveContainerEnv } from './pod-env.ts';

const pod: V1Pod = {
  metadata: { name: 'p', namespace: 'ns', uid: 'u-1', labels: { app: 'x' } },
  spec: { nodeName: 'weir-node-1', serviceAccountName: 'sa', containers: [] },
};

/** In-memory Secrets and ConfigMaps standing in for the API server reads. */
const TestingEnvSources: EnvSources = {
  async secretValue(namespace, name, key) {
    return namespace === 'ns' && name === 'creds'
      ? ({ password: 's3cret' } as Record<string, string>)[key]
      : undefined;
  },
  async configMapValue(namespace, name, key) {
    return namespace === 'ns' && name === 'settings'
      ? ({ mode: 'fast' } as Record<string, string>)[key]
      : undefined;
  },
  async secretData(_namespace, name) {
    return name === 'creds' ? { password: 's3cret' } : undefined;
  },
  async configMapData(_namespace, name) {
    return name === 'settings' ? { mode: 'fast', level: '3' } : undefined;
  },
};

describe('resolveContainerEnv', () => {
  it('resolves values, fieldRefs, secretKeyRefs and configMapKeyRefs in order', async () => {
    const container: V1Container = {
      name: 'c',
      envFrom: [{ configMapRef: { name: 'settings' }, prefix: 'CFG_' }],
      env: [
        { name: 'A', value: 'one' },
        { name: 'B', value: '$(A)-two-$$(A)' },
        { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'HOST', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
        { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
        { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode' } } },
        { name: 'MAYBE', valueFrom: { secretKeyRef: { name: 'absent', key: 'k', optional: true } } },
      ],
    };
    const env = await resolveContainerEnv(pod, container, '10.245.0.5', '10.244.254.1', TestingEnvSources);
    assert.deepEqual(env, {
      CFG_mode: 'fast',
      CFG_level: '3',
      A: 'one',
      B: 'one-two-$(A)',
      NAME: 'p',
      APP: 'x',
      IP: '10.245.0.5',
      HOST: '10.244.254.1',
      PASSWORD: 's3cret',
      MODE: 'fast',
    });
  });

  it('names the missing secret key', async () => {
    const container: V1Container = {
      name: 'c',
      env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } }],
    };
    await assert.rejects(resolveContainerEnv(pod, container, '', '', TestingEnvSources), {
      message: 'env TOKEN: secret "creds" key "token" not found',
    });
  });
});

describe('expandReferences', () => {
  it('leaves unknown references as they are', () => {
    assert.equal(expandReferences('$(NOPE) $(X)', { X: 'y' }), '$(NOPE) y');
  });
});
