import { RuntimeError } from '../errors.ts';

/**
 * The disk store failed (a full or unwritable volume, a closed store): the
 * task fails and its restart rebuilds the store. Never a poison record: the
 * record that happened to write is not at fault. Apart from the store, so
 * what the test driver loads (the SDK package) does not load LMDB.
 */
export class StateStoreError extends RuntimeError {}
