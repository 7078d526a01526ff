import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  changelogTopic,
  checkpointIdOf,
  isManifestPartKey,
  jobSavepointUrl,
  layoutKey,
  manifestPartKey,
  offsetGroup,
  otherRunsInternalTopics,
  parseS3Url,
  repartitionOperatorOf,
  repartitionTopic,
  runLayoutKey,
  savepointPrefix,
  savepointTaskPrefix,
  savepointUrl,
  snapshotKey,
  taskManagerPodName,
  taskManagerPolicyName,
  taskStatePrefix,
  tokenSecretKey,
  tokenSecretName,
  transactionalId,
} from './names.ts';

/**
 * Every name of one job, as running jobs know it: a change here renames
 * objects, topics, groups or keys that jobs already have, so it must be made
 * on purpose (with a migration), never by accident.
 */
describe('the names Weir’s operator and runtime agree on', () => {
  const table: [string, string][] = [
    ['TaskManager pod', taskManagerPodName('orders', 3)],
    ['control token Secret', tokenSecretName('orders')],
    ['its key', tokenSecretKey],
    ['NetworkPolicy', taskManagerPolicyName('orders')],
    ['offset group', offsetGroup('shop', 'orders', 'r42')],
    ['transactional id', transactionalId('shop', 'orders', 'r42', 1, 3)],
    ['repartition topic', repartitionTopic('shop', 'orders', 'r42', 'by-customer')],
    ['changelog topic', changelogTopic('shop', 'orders', 'r42', 'by-customer')],
    ['layout record', layoutKey('shop', 'orders')],
    ['layout record before format 2', runLayoutKey('shop', 'orders', 'r42')],
    ['task state prefix', taskStatePrefix('shop', 'orders', 'r42', 1, 3)],
    ['snapshot', snapshotKey(taskStatePrefix('shop', 'orders', 'r42', 0, 3), 17, 'a1b2')],
    ['savepoint prefix', savepointPrefix('shop', 'orders', 'sp-1')],
    ['savepoint of a first-stage task', savepointTaskPrefix(savepointPrefix('shop', 'orders', 'sp-1'), 0, 3)],
    ['savepoint of a later-stage task', savepointTaskPrefix(savepointPrefix('shop', 'orders', 'sp-1'), 1, 3)],
    ['manifest part', manifestPartKey('shop', 'orders', 'sp-1', [4, 2, 3])],
    ['savepoint URL', savepointUrl('s3://state/prod/', 'shop', 'orders', 'sp-1')],
    ['savepoint URL, no prefix', savepointUrl('s3://state', 'shop', 'orders', 'sp-1')],
    [
      'savepoint URL of a StreamJob',
      jobSavepointUrl(
        {
          metadata: { namespace: 'shop', name: 'orders' },
          spec: { checkpoints: { storage: { url: 's3://state/prod' } } },
        },
        'sp-1',
      ),
    ],
  ];
  const expected = [
    'orders-tm-3',
    'orders-weir-token',
    'token',
    'orders-weir-taskmanagers',
    'weir.shop.orders.r42',
    'weir.shop.orders.r42.s1.t3',
    'weir.shop.orders.r42.by-customer',
    'weir.shop.orders.r42.by-customer.changelog',
    'shop/orders/layout.json',
    'shop/orders/runs/r42/layout.json',
    'shop/orders/runs/r42/state/s1/t3/',
    'shop/orders/runs/r42/state/s0/t3/17-a1b2.snap',
    'shop/orders/savepoints/sp-1/',
    'shop/orders/savepoints/sp-1/t3/',
    'shop/orders/savepoints/sp-1/s1-t3/',
    'shop/orders/savepoints/sp-1/_manifest-t2-t4.json',
    's3://state/prod/shop/orders/savepoints/sp-1/',
    's3://state/shop/orders/savepoints/sp-1/',
    's3://state/prod/shop/orders/savepoints/sp-1/',
  ];
  for (const [i, [what, name]] of table.entries()) {
    it(`${what}: ${expected[i]}`, () => assert.equal(name, expected[i]));
  }

  it('reads back what it names', () => {
    assert.equal(checkpointIdOf('shop/orders/runs/r42/state/s0/t3/17-a1b2.snap'), 17);
    assert.equal(checkpointIdOf('shop/orders/runs/r42/layout.json'), undefined);
    assert.equal(isManifestPartKey(manifestPartKey('shop', 'orders', 'sp-1', [0, 1])), true);
    assert.equal(isManifestPartKey('shop/orders/savepoints/sp-1/t0/1-a.snap'), false);
    assert.equal(
      repartitionOperatorOf('weir.shop.orders.r42.by-customer', 'shop', 'orders', 'r42'),
      'by-customer',
    );
    assert.equal(
      repartitionOperatorOf('weir.shop.orders.r41.by-customer', 'shop', 'orders', 'r42'),
      undefined,
    );
    assert.deepEqual(
      otherRunsInternalTopics(
        [
          'weir.shop.orders.r41.by-customer',
          'weir.shop.orders.r41.source.changelog',
          'weir.shop.orders.r42.by-customer',
          'weir.shop.orders.r42.source.changelog',
          'weir.shop.orders.eu.r41.by-x',
          'weir.shop.orders.eu.r41.by-x.changelog',
          'input',
        ],
        'shop',
        'orders',
        'r42',
      ),
      ['weir.shop.orders.r41.by-customer', 'weir.shop.orders.r41.source.changelog'],
    );
    assert.deepEqual(parseS3Url('s3://state/prod//'), { bucket: 'state', prefix: 'prod/' });
    assert.throws(() => parseS3Url('https://state/prod'), /is not s3:\/\/<bucket>\[\/<prefix>\]/);
  });
});
