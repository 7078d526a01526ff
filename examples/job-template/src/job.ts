import { json, Pipeline, string, tumbling, type WindowResult } from '@weir-dev/sdk';

export interface Order {
  customer: string;
  amount: number;
  /** When the order was placed, ms since the epoch: the event time. */
  at: number;
}

/**
 * Revenue per customer per hour: orders (keyed by order id) are re-keyed by
 * customer and summed in tumbling one-hour windows of the time they were
 * placed. Orders more than 10 minutes late for their hour go to `late`.
 * Args (spec.args): input, output, late.
 */
export default function revenue(args: Record<string, unknown>) {
  const arg = (name: string, fallback: string) =>
    typeof args[name] === 'string' ? (args[name] as string) : fallback;
  const orders = json<Order>();
  return Pipeline.from('orders', {
    topics: [arg('input', 'orders')],
    key: string,
    value: orders,
    watermarks: {
      timestamp: (r) => r.value?.at ?? r.timestamp,
      maxOutOfOrdernessMs: 30_000,
      idleTimeoutMs: 60_000,
    },
  })
    .keyBy('by-customer', (r) => r.value?.customer ?? '', { key: string, value: orders })
    .window(
      'hourly',
      tumbling(3_600_000),
      {
        create: () => 0,
        add: (sum: number, r) => sum + (r.value?.amount ?? 0),
        result: (sum: number) => sum,
      },
      {
        allowedLatenessMs: 600_000,
        lateRecords: { topic: arg('late', 'orders-late'), key: string, value: orders },
      },
    )
    .to('revenue', { topic: arg('output', 'revenue'), key: string, value: json<WindowResult<number>>() });
}
