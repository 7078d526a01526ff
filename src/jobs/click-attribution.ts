import { json, Pipeline, string } from '../sdk/index.ts';

export interface Impression {
  id: string;
  ad: string;
  /** ms since the epoch: the event time. */
  time: number;
}

export interface Click {
  id: string;
  ad: string;
  time: number;
}

export interface Attribution {
  click: string | null;
  impression: string | null;
  ad: string;
  /** The click's time minus the impression's, ms; null for an unmatched side. */
  delayMs: number | null;
}

/**
 * Clicks attributed to the impressions they followed: the windowed
 * stream–stream join of the joins example. Both topics are keyed by user
 * and co-partitioned; a click joins every impression of its user up to
 * `withinMs` (600000: ten minutes) before it (and `afterMs`, 0, after).
 * `kind` 'inner' (default), 'left' (clicks with no impression too) or
 * 'outer'. With `by: 'ad'`, impressions are keyed by ad instead (any
 * partitioning) and clicks, still keyed by user, are re-keyed by ad with a
 * keyBy before the join, which sends both sides through its repartition
 * topic: a click then joins the impressions of its ad. Args: `clicks`,
 * `impressions`, `output`, `late`, `by` ('user' or 'ad'), `withinMs`,
 * `afterMs`, `graceMs` (10000), `outOfOrdernessMs` (5000), `idleMs` (30000).
 */
export default function clickAttribution(args: Record<string, unknown>) {
  const text = (name: string, fallback: string) =>
    typeof args[name] === 'string' ? (args[name] as string) : fallback;
  const number = (name: string, fallback: number) =>
    typeof args[name] === 'number' ? (args[name] as number) : fallback;
  const outOfOrdernessMs = number('outOfOrdernessMs', 5_000);
  const impressions = Pipeline.stream('impressions', {
    topic: text('impressions', 'impressions'),
    key: string,
    value: json<Impression>(),
    watermarks: { timestamp: (r) => r.value?.time ?? r.timestamp, maxOutOfOrdernessMs: outOfOrdernessMs },
  });
  const kind = text('kind', 'inner');
  const clicks = Pipeline.from('clicks', {
    topics: [text('clicks', 'clicks')],
    key: string,
    value: json<Click>(),
    watermarks: {
      timestamp: (r) => r.value?.time ?? r.timestamp,
      maxOutOfOrdernessMs: outOfOrdernessMs,
      idleTimeoutMs: number('idleMs', 30_000),
    },
  });
  const keyed =
    text('by', 'user') === 'ad'
      ? clicks.keyBy('by-ad', (r) => r.value?.ad ?? '', { key: string, value: json<Click>() })
      : clicks;
  return keyed
    .windowJoin(
      'attribute',
      impressions,
      {
        beforeMs: number('withinMs', 600_000),
        afterMs: number('afterMs', 0),
        graceMs: number('graceMs', 10_000),
        kind: kind === 'left' || kind === 'outer' ? kind : 'inner',
        lateRecords: { topic: text('late', 'clicks-late') },
      },
      (click, impression): Attribution => ({
        click: click?.id ?? null,
        impression: impression?.id ?? null,
        ad: click?.ad ?? impression?.ad ?? '',
        delayMs: click && impression ? click.time - impression.time : null,
      }),
    )
    .to('attributions', { topic: text('output', 'attributions'), key: string, value: json<Attribution>() });
}
