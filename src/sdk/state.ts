/** The keyed state types a job author declares and uses; the engine keeping them is runtime/state/. */
/** One value per key. */
export interface ValueState<T> {
  get(): T | undefined;
  set(value: T): void;
  clear(): void;
}

/** A map per key. */
export interface MapState<V> {
  get(entry: string): V | undefined;
  set(entry: string, value: V): void;
  delete(entry: string): void;
  entries(): [string, V][];
  clear(): void;
}

export interface StateSpec {
  kind: 'value' | 'map';
}
export interface ValueStateSpec<T> extends StateSpec {
  kind: 'value';
  /** Carries the value type to StateHandles; never set. */
  readonly __type?: T;
}
export interface MapStateSpec<V> extends StateSpec {
  kind: 'map';
  readonly __type?: V;
}
export function valueState<T>(): ValueStateSpec<T> {
  return { kind: 'value' };
}
export function mapState<V>(): MapStateSpec<V> {
  return { kind: 'map' };
}

/** The state handles a keyed process function sees, typed from its declared specs. */
export type StateHandles<S extends Record<string, StateSpec>> = {
  [N in keyof S]: S[N] extends MapStateSpec<infer V>
    ? MapState<V>
    : S[N] extends ValueStateSpec<infer T>
      ? ValueState<T>
      : never;
};
