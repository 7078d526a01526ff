import { json, Pipeline, string } from '../sdk/index.ts';

export interface Order {
  id: string;
  customer: string;
  amount: number;
  /** When the order was placed, ms since the epoch: the event time. */
  time: number;
}

export interface Customer {
  name: string;
  tier: string;
  /** From when this version of the customer holds, ms since the epoch. */
  since: number;
}

export interface EnrichedOrder {
  order: string;
  customer: string;
  amount: number;
  time: number;
  /** The customer's tier when the order was placed; null in a left join when the customer was unknown then. */
  tier: string | null;
  /** The `since` of the customer version joined: which version it was. */
  version: number | null;
}

/**
 * Orders enriched with their customer: the job of the joins example. Orders
 * (keyed by customer id) are joined with the customers table (a compacted
 * topic keyed by customer id, co-partitioned with the orders) as of the
 * order's event time: the customer version valid when the order was placed,
 * whatever order the two topics are read in. Args: `orders`, `customers`,
 * `output`, `late`, `kind` ('temporal' (default), 'inner' or 'left': the
 * table's value as of processing), `outOfOrdernessMs` (5000), `idleMs` (30000).
 */
export default function orderEnrichment(args: Record<string, unknown>) {
  const text = (name: string, fallback: string) =>
    typeof args[name] === 'string' ? (args[name] as string) : fallback;
  const number = (name: string, fallback: number) =>
    typeof args[name] === 'number' ? (args[name] as number) : fallback;
  const outOfOrdernessMs = number('outOfOrdernessMs', 5_000);
  const customers = Pipeline.table('customers', {
    topic: text('customers', 'customers'),
    key: string,
    value: json<Customer>(),
    versions: { timestamp: (r) => r.value?.since ?? r.timestamp, maxOutOfOrdernessMs: outOfOrdernessMs },
  });
  const orders = Pipeline.from('orders', {
    topics: [text('orders', 'orders')],
    key: string,
    value: json<Order>(),
    watermarks: {
      timestamp: (r) => r.value?.time ?? r.timestamp,
      maxOutOfOrdernessMs: outOfOrdernessMs,
      idleTimeoutMs: number('idleMs', 30_000),
    },
  });
  const enrich = (order: Order | null, customer: Customer | null, key: string | null): EnrichedOrder => ({
    order: order?.id ?? '',
    customer: key ?? '',
    amount: order?.amount ?? 0,
    time: order?.time ?? 0,
    tier: customer?.tier ?? null,
    version: customer?.since ?? null,
  });
  const kind = text('kind', 'temporal');
  const joined =
    kind === 'inner'
      ? orders.join<Customer | null, EnrichedOrder>('enrich', customers, enrich)
      : kind === 'left'
        ? orders.leftJoin<Customer | null, EnrichedOrder>('enrich', customers, enrich)
        : orders.temporalJoin<Customer | null, EnrichedOrder>('enrich', customers, enrich, {
            kind: 'left',
            lateRecords: { topic: text('late', 'orders-late') },
          });
  return joined.to('enriched', {
    topic: text('output', 'enriched-orders'),
    key: string,
    value: json<EnrichedOrder>(),
  });
}
