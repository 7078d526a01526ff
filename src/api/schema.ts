/**
 * A subset of the Kubernetes OpenAPI v3 schema (JSONSchemaProps), and a
 * type-level mapping from a schema literal to the TypeScript type it admits.
 * The StreamJob schema is written once, as data; the CRD YAML is rendered
 * from it and the TypeScript types are computed from it, so they cannot drift.
 */

export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export interface SchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description: string;
  properties?: Readonly<Record<string, SchemaProps>>;
  required?: readonly string[];
  items?: SchemaProps;
  additionalProperties?: SchemaProps;
  enum?: readonly (string | number)[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
  nullable?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-validations'?: readonly ValidationRule[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: readonly string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type RequiredKeys<S> = S extends { required: readonly (infer R)[] } ? R : never;

/** A field is present after admission when it is required or has a default. */
type PresentKeys<P, S> = {
  [K in keyof P]: K extends RequiredKeys<S> ? K : P[K] extends { default: unknown } ? K : never;
}[keyof P];

type ObjectFrom<P, S> = Simplify<
  { -readonly [K in keyof P as K extends PresentKeys<P, S> ? K : never]: FromSchema<P[K]> } & {
    -readonly [K in keyof P as K extends PresentKeys<P, S> ? never : K]?: FromSchema<P[K]>;
  }
>;

/** The TypeScript type of values a schema admits (after API-server defaulting). */
export type FromSchema<S> = S extends { enum: readonly (infer E)[] }
  ? E
  : S extends { 'x-kubernetes-int-or-string': true }
    ? number | string
    : S extends { type: 'string' }
      ? string
      : S extends { type: 'integer' | 'number' }
        ? number
        : S extends { type: 'boolean' }
          ? boolean
          : S extends { type: 'array'; items: infer I }
            ? FromSchema<I>[]
            : S extends { type: 'object'; properties: infer P }
              ? ObjectFrom<P, S>
              : S extends { type: 'object'; additionalProperties: infer A }
                ? Record<string, FromSchema<A>>
                : S extends { 'x-kubernetes-preserve-unknown-fields': true }
                  ? { [key: string]: unknown }
                  : never;
