import type { SchemaProps } from './schema.ts';

/**
 * `value` as the API server stores it after structural defaulting by `schema`: every absent property with a
 * default takes it, and the objects present afterwards (a defaulted `{}` among them) are defaulted in turn. Arrays'
 * items and maps' values are defaulted by `items` and `additionalProperties`. The operator uses it to know what an
 * object holds when a user wrote it with nothing but defaults, so that writing it is not taken for a change.
 */
export function defaultedBySchema(schema: SchemaProps, value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = schema.items;
    return items ? value.map((item) => defaultedBySchema(items, item)) : value;
  }
  if (!value || typeof value !== 'object') return value;
  const result: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    if (result[key] === undefined && property.default !== undefined)
      result[key] = structuredClone(property.default);
    if (result[key] !== undefined) result[key] = defaultedBySchema(property, result[key]);
  }
  const values = schema.additionalProperties;
  if (values) {
    for (const key of Object.keys(result)) {
      if (!schema.properties?.[key]) result[key] = defaultedBySchema(values, result[key]);
    }
  }
  return result;
}
