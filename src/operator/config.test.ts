import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './config.ts';

describe('operator loadConfig', () => {
  it('defaults: all namespaces, the key Secret named after the lease, a 30s status poll', () => {
    const config = loadConfig({});
    assert.deepEqual(config.watchNamespaces, []);
    assert.equal(config.leaseName, 'weir-operator');
    assert.equal(config.controlKeySecret, 'weir-operator-control-key');
    assert.equal(config.statusPollIntervalMs, 30_000);
    assert.deepEqual(config.lease, { durationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
    assert.deepEqual(config.networkPolicy, { enabled: false, operatorPodLabels: {} });
  });

  it('takes the chart’s settings', () => {
    const config = loadConfig({
      WEIR_WATCH_NAMESPACES: 'team-a, team-b',
      WEIR_LEADER_ELECTION_ID: 'weir',
      WEIR_CONTROL_KEY_SECRET: 'weir-control-key',
      WEIR_STATUS_POLL_INTERVAL: '1m30s',
      WEIR_LEASE_DURATION: '4s',
      WEIR_LEASE_RENEW_DEADLINE: '3s',
      WEIR_LEASE_RETRY_PERIOD: '500ms',
      WEIR_NETWORK_POLICY: 'true',
      WEIR_OPERATOR_POD_LABELS: 'app.kubernetes.io/name=weir, app.kubernetes.io/component=operator',
    });
    assert.deepEqual(config.networkPolicy, {
      enabled: true,
      operatorPodLabels: { 'app.kubernetes.io/name': 'weir', 'app.kubernetes.io/component': 'operator' },
    });
    assert.deepEqual(config.lease, { durationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 });
    assert.deepEqual(config.watchNamespaces, ['team-a', 'team-b']);
    assert.equal(config.controlKeySecret, 'weir-control-key');
    assert.equal(config.statusPollIntervalMs, 90_000);
  });

  const invalid: [Record<string, string>, RegExp][] = [
    [{ WEIR_STATUS_POLL_INTERVAL: '500ms' }, /^WEIR_STATUS_POLL_INTERVAL must be at least 1s, got "500ms"$/],
    [{ WEIR_STATUS_POLL_INTERVAL: 'often' }, /^WEIR_STATUS_POLL_INTERVAL: "often" is not a duration/],
    [
      { WEIR_OPERATOR_CONCURRENCY: '0' },
      /^WEIR_OPERATOR_CONCURRENCY must be an integer from 1 to 256, got "0"$/,
    ],
    [{ WEIR_NODE_LOST_TIMEOUT: '30' }, /^WEIR_NODE_LOST_TIMEOUT: "30" is not a duration/],
    [{ WEIR_LEASE_DURATION: '1500ms' }, /^WEIR_LEASE_DURATION must be a whole number of seconds/],
    [
      { WEIR_LEASE_DURATION: '10s' },
      /^WEIR_LEASE_RENEW_DEADLINE \(10s\) must be shorter than WEIR_LEASE_DURATION \(10s\)$/,
    ],
    [
      { WEIR_LEASE_DURATION: '5s', WEIR_LEASE_RENEW_DEADLINE: '2s' },
      /^WEIR_LEASE_RETRY_PERIOD \(2s\) must be at least 100ms and, times 1.2, shorter than WEIR_LEASE_RENEW_DEADLINE \(2s\)$/,
    ],
    [{ WEIR_LEASE_RETRY_PERIOD: 'soon' }, /^WEIR_LEASE_RETRY_PERIOD: "soon" is not a duration/],
    [{ WEIR_NETWORK_POLICY: 'yes' }, /^WEIR_NETWORK_POLICY must be true or false, got "yes"$/],
    [{ WEIR_NETWORK_POLICY: 'true' }, /^WEIR_NETWORK_POLICY=true needs WEIR_OPERATOR_POD_LABELS/],
    [
      { WEIR_OPERATOR_POD_LABELS: 'app=weir,bad label=x' },
      /^WEIR_OPERATOR_POD_LABELS must be key=value pairs separated by commas; "bad label=x" is not one$/,
    ],
  ];
  for (const [env, message] of invalid) {
    it(`refuses ${JSON.stringify(env)}, naming the variable`, () => {
      assert.throws(
        () => loadConfig(env),
        (error: Error) => message.test(error.message),
      );
    });
  }
});
