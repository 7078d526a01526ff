import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crdFiles } from './crd-yaml.ts';
import { referenceFile, renderStreamJobReference } from './reference-doc.ts';
import type { SchemaProps } from './schema.ts';
import { snapshotSpecSchema, snapshotStatusSchema } from './snapshot-schema.ts';
import { streamJobSpecSchema, streamJobStatusSchema } from './streamjob-schema.ts';

function undocumented(schema: SchemaProps, path: string): string[] {
  const missing = schema.description ? [] : [path];
  for (const [name, child] of Object.entries(schema.properties ?? {}))
    missing.push(...undocumented(child, `${path}.${name}`));
  if (schema.items) missing.push(...undocumented(schema.items, `${path}[]`));
  if (schema.additionalProperties) missing.push(...undocumented(schema.additionalProperties, `${path}{}`));
  return missing;
}

describe('StreamJob CRD', () => {
  for (const file of crdFiles) {
    it(`${file.path} is exactly what the schema renders (run \`npm run gen:crd\` after a change)`, () => {
      const committed = readFileSync(join(import.meta.dirname, '..', '..', file.path), 'utf8');
      assert.equal(committed, file.render());
    });
  }

  it(`${referenceFile} is exactly what the schema renders (run \`npm run gen:crd\` after a change)`, () => {
    const committed = readFileSync(join(import.meta.dirname, '..', '..', referenceFile), 'utf8');
    assert.equal(committed, renderStreamJobReference());
  });

  it('the reference lists every field of the spec', () => {
    const reference = renderStreamJobReference();
    const fields = (schema: SchemaProps, path: string): string[] => [
      path,
      ...Object.entries(schema.properties ?? {}).flatMap(([n, c]) => fields(c, `${path}.${n}`)),
      ...(schema.items?.properties ? fields(schema.items, `${path}[]`) : []),
    ];
    const missing = fields(streamJobSpecSchema, 'spec')
      .slice(1)
      .filter((f) => !reference.includes(`| \`${f}\``));
    assert.deepEqual(missing, []);
  });

  it('documents every field, so kubectl explain is useful', () => {
    assert.deepEqual(
      [
        ...undocumented(streamJobSpecSchema, 'spec'),
        ...undocumented(streamJobStatusSchema, 'status'),
        ...undocumented(snapshotSpecSchema, 'snapshot.spec'),
        ...undocumented(snapshotStatusSchema, 'snapshot.status'),
      ],
      [],
    );
  });
});
