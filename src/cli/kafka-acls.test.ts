import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kafkaAclsOutput } from './kafka-acls.ts';

const base = ['--namespace', 'shop', '--job', 'orders', '--principal', 'User:orders'];

describe('weir kafka-acls', () => {
  it('grants the inputs, the outputs and the job prefix for topics, groups and transactional ids', () => {
    const out = kafkaAclsOutput([...base, '--input', 'clicks', '--output', 'sums', '--output', 'dead']);
    const grants = out
      .split('\n')
      .filter((l) => l.trim().startsWith('--allow-principal') || l.trim().startsWith('--'))
      .join(' ');
    for (const expected of [
      "--operation Read --operation Describe \\   --topic 'clicks'",
      "--operation Write --operation Describe \\   --topic 'sums'",
      "--operation Write --operation Describe \\   --topic 'dead'",
      "--operation Create --operation Read --operation Write --operation Describe --operation Delete \\   --topic 'weir.shop.orders.' --resource-pattern-type prefixed",
      "--operation Read \\   --group 'weir.shop.orders.' --resource-pattern-type prefixed",
      "--operation Write --operation Describe \\   --transactional-id 'weir.shop.orders.' --resource-pattern-type prefixed",
    ])
      assert.ok(grants.includes(expected), `${expected}\nin\n${out}`);
    assert.equal(out.match(/--allow-principal 'User:orders'/g)?.length, 6);
  });

  it('leaves the topic prefix out for a job Weir creates no topics for', () => {
    const out = kafkaAclsOutput([...base, '--input', 'a', '--output', 'b', '--no-internal-topics']);
    assert.ok(!out.includes('--operation Create'));
    assert.equal(out.match(/--allow-principal/g)?.length, 4);
  });

  it('prints the same grants as a Strimzi KafkaUser’s authorization', () => {
    const out = kafkaAclsOutput([
      '--namespace',
      'shop',
      '--job',
      'orders',
      '--input',
      'clicks',
      '--output',
      'sums',
      '--format',
      'strimzi',
    ]);
    assert.match(out, /^authorization:\n {2}type: simple\n {2}acls:\n/);
    assert.match(
      out,
      /- resource: \{type: topic, name: "clicks", patternType: literal\}\n {6}operations: \[Read, Describe\]/,
    );
    assert.match(
      out,
      /- resource: \{type: transactionalId, name: "weir\.shop\.orders\.", patternType: prefixed\}\n {6}operations: \[Write, Describe\]/,
    );
    assert.equal(out.match(/- resource:/g)?.length, 5);
  });

  for (const [what, args, named] of [
    ['no input', [...base, '--output', 'b'], /give at least one --input/],
    [
      'a topic name Kafka refuses',
      [...base, '--input', 'a b', '--output', 'b'],
      /--input "a b" is not a Kafka topic name/,
    ],
    [
      'a namespace that is not a DNS label',
      ['--namespace', 'Shop', '--job', 'o', '--principal', 'User:x', '--input', 'a', '--output', 'b'],
      /--namespace "Shop"/,
    ],
    [
      'a principal without its type',
      ['--namespace', 's', '--job', 'o', '--principal', 'orders', '--input', 'a', '--output', 'b'],
      /--principal "orders" must read Type:name/,
    ],
  ] as const)
    it(`refuses ${what}, naming the argument`, () => {
      assert.throws(
        () => kafkaAclsOutput([...args]),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'INVALID_ARGUMENTS');
          assert.match(e.message, named);
          return true;
        },
      );
    });
});
