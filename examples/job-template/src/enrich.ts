import { json, Pipeline, string } from '@weir-dev/sdk';
import type { Order } from './job.ts';

export interface Customer {
  name: string;
  region: string;
}

export interface EnrichedOrder extends Order {
  /** The customer's region when the order was processed; null if the customer was not (yet) known. */
  region: string | null;
}

/**
 * Orders enriched with their customer's region: orders keyed by customer id
 * joined with the customers table (a compacted topic keyed by customer id,
 * with as many partitions as the orders topic). Args: orders, customers, output.
 * The job's principal reads both topics and writes the output; the table is
 * kept in the job's state and logged to its changelog.
 */
export default function enrich(args: Record<string, unknown>) {
  const arg = (name: string, fallback: string) =>
    typeof args[name] === 'string' ? (args[name] as string) : fallback;
  const customers = Pipeline.table('customers', {
    topic: arg('customers', 'customers'),
    key: string,
    value: json<Customer>(),
  });
  return Pipeline.from('orders', {
    topics: [arg('orders', 'orders-by-customer')],
    key: string,
    value: json<Order>(),
  })
    .leftJoin('with-customer', customers, (order, customer): EnrichedOrder | null =>
      order ? { ...order, region: customer?.region ?? null } : null,
    )
    .to('enriched', { topic: arg('output', 'orders-enriched'), key: string, value: json<EnrichedOrder>() });
}
