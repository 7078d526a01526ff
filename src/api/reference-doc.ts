import type { SchemaProps } from './schema.ts';
import { snapshotKind } from './snapshot.ts';
import { snapshotSpecSchema, snapshotStatusSchema } from './snapshot-schema.ts';
import { group, kind, version } from './streamjob.ts';
import { streamJobSpecSchema, streamJobStatusSchema } from './streamjob-schema.ts';

/** Where the StreamJob reference is written (npm run gen:crd), beside the CRD it is rendered with. */
export const referenceFile = 'docs/reference/streamjob.md';

function typeOf(schema: SchemaProps): string {
  if (schema['x-kubernetes-int-or-string']) return 'integer or string';
  if (schema.type === 'array') return `array of ${schema.items ? typeOf(schema.items) : 'any'}`;
  if (schema.type === 'object' && schema.additionalProperties && !schema.properties)
    return `map of ${typeOf(schema.additionalProperties)}`;
  if (schema['x-kubernetes-preserve-unknown-fields'] && !schema.properties)
    return 'object (as in Kubernetes)';
  return schema.type ?? 'any';
}

function code(value: unknown): string {
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``.replaceAll('|', '\\|');
}

/** Bounds and allowed values, as the API server enforces them. */
function bounds(schema: SchemaProps): string {
  const parts: string[] = [];
  if (schema.enum) parts.push(`one of ${schema.enum.map(code).join(', ')}`);
  if (schema.minimum !== undefined) parts.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined) parts.push(`≤ ${schema.maximum}`);
  if (schema.minLength !== undefined) parts.push(`length ≥ ${schema.minLength}`);
  if (schema.maxLength !== undefined) parts.push(`length ≤ ${schema.maxLength}`);
  if (schema.minItems !== undefined) parts.push(`items ≥ ${schema.minItems}`);
  if (schema.maxItems !== undefined) parts.push(`items ≤ ${schema.maxItems}`);
  if (schema.pattern !== undefined) parts.push(`matches ${code(schema.pattern)}`);
  return parts.join('; ');
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

interface Row {
  path: string;
  schema: SchemaProps;
  required: boolean;
}

function rowsOf(schema: SchemaProps, path: string, required: boolean, rows: Row[]): Row[] {
  rows.push({ path, schema, required });
  const requiredNames = new Set(schema.required ?? []);
  for (const [name, child] of Object.entries(schema.properties ?? {}))
    rowsOf(child, `${path}.${name}`, requiredNames.has(name), rows);
  if (schema.items?.properties) rowsOf(schema.items, `${path}[]`, false, rows);
  return rows;
}

function table(rows: Row[]): string[] {
  const lines = ['| Field | Type | Default | Bounds | Description |', '|---|---|---|---|---|'];
  for (const { path, schema, required } of rows) {
    const field = `\`${path}\`${required ? ' (required)' : ''}`;
    const defaults = schema.default === undefined ? '' : code(schema.default);
    lines.push(
      `| ${field} | ${typeOf(schema)} | ${defaults} | ${cell(bounds(schema))} | ${cell(schema.description)} |`,
    );
  }
  return lines;
}

function rules(rows: Row[]): string[] {
  const lines: string[] = [];
  for (const { path, schema } of rows)
    for (const rule of schema['x-kubernetes-validations'] ?? [])
      lines.push(`- \`${path}\`: ${rule.message ?? rule.messageExpression ?? rule.rule}`);
  return lines.length ? ['', 'The API server also refuses a spec where:', '', ...lines] : [];
}

/** docs/reference/streamjob.md: every field of the StreamJob, rendered from the schema the CRD is made from. */
export function renderStreamJobReference(): string {
  const out = [
    '<!-- Generated from src/api/streamjob-schema.ts by `npm run gen:crd`; do not edit. -->',
    `# ${kind} reference (\`${group}/${version}\`)`,
    '',
    'Every field of the resource, with its type, default and bounds, as the API server checks them',
    '(`kubectl explain streamjob.spec` shows the same descriptions). Where a rule names several fields, it is',
    'listed under the object that holds them. A rejected spec names the field and the rule it broke.',
  ];
  const spec = streamJobSpecSchema as SchemaProps;
  const required = new Set(spec.required ?? []);
  const top: Row[] = [];
  for (const [name, child] of Object.entries(spec.properties ?? {})) {
    if (child.type === 'object' && child.properties) continue;
    top.push({ path: `spec.${name}`, schema: child, required: required.has(name) });
  }
  out.push('', '## spec', '', ...table(top), ...rules([{ path: 'spec', schema: spec, required: true }]));
  for (const [name, child] of Object.entries(spec.properties ?? {})) {
    if (child.type !== 'object' || !child.properties) continue;
    const rows = rowsOf(child, `spec.${name}`, required.has(name), []);
    out.push('', `## spec.${name}`, '', ...table(rows), ...rules(rows));
  }
  const status = rowsOf(streamJobStatusSchema as SchemaProps, 'status', false, []).slice(1);
  out.push('', '## status', '', 'Written by the operator; read-only for users.', '', ...table(status));
  const snapshotSpec = rowsOf(snapshotSpecSchema as SchemaProps, 'spec', true, []).slice(1);
  const snapshotStatus = rowsOf(snapshotStatusSchema as SchemaProps, 'status', false, []).slice(1);
  out.push(
    '',
    `# ${snapshotKind} reference (\`${group}/${version}\`)`,
    '',
    'One savepoint of a StreamJob (docs/operating.md, "Savepoints as resources"). Creating one takes a savepoint;',
    "Weir records each savepoint it takes itself as `<job>-<savepoint id>`; deleting one deletes the savepoint's",
    'objects in S3 unless `disposeOnDelete` is false.',
    '',
    `## ${snapshotKind} spec`,
    '',
    ...table(snapshotSpec),
    ...rules(snapshotSpec),
    '',
    `## ${snapshotKind} status`,
    '',
    'Written by the operator; read-only for users.',
    '',
    ...table(snapshotStatus),
  );
  return `${out.join('\n')}\n`;
}
