import { json, Pipeline, string, tumbling, type WindowResult } from '../sdk/index.ts';

export interface PageView {
  user: string;
  page: string;
  /** When the view happened, ms since the epoch: the event time. */
  time: number;
}

export interface UserMinute {
  user: string;
  views: number;
  /** The sum of the views' times in seconds: a view counted twice or lost shows here even when the count looks right. */
  timeSum: number;
}

/**
 * Page views per user per minute, the event-time job of `examples/`: views
 * (keyed by anything, say a session) are re-keyed by user, counted in
 * tumbling one-minute windows of the time they happened, and each window's
 * count is emitted once when the watermark passes its end. Views up to
 * `lateness` ms late update their window's result; later ones go to the
 * late topic. Args: `input`, `output`, `late`, `windowMs` (60000),
 * `outOfOrdernessMs` (5000), `latenessMs` (0), `idleMs` (10000).
 */
export default function pageViews(args: Record<string, unknown>) {
  const text = (name: string, fallback: string) =>
    typeof args[name] === 'string' ? (args[name] as string) : fallback;
  const number = (name: string, fallback: number) =>
    typeof args[name] === 'number' ? (args[name] as number) : fallback;
  const views = json<PageView>();
  return Pipeline.from('views', {
    topics: [text('input', 'page-views')],
    key: string,
    value: views,
    watermarks: {
      timestamp: (r) => r.value?.time ?? r.timestamp,
      maxOutOfOrdernessMs: number('outOfOrdernessMs', 5_000),
      idleTimeoutMs: number('idleMs', 10_000),
    },
  })
    .keyBy('by-user', (r) => r.value?.user ?? '', { key: string, value: views })
    .window<UserMinute, UserMinute>(
      'per-minute',
      tumbling(number('windowMs', 60_000)),
      {
        create: () => ({ user: '', views: 0, timeSum: 0 }),
        add: (acc, r) => ({
          user: r.key ?? '',
          views: acc.views + 1,
          timeSum: acc.timeSum + Math.floor((r.value?.time ?? 0) / 1000),
        }),
        result: (acc) => acc,
      },
      {
        allowedLatenessMs: number('latenessMs', 0),
        lateRecords: { topic: text('late', 'page-views-late'), key: string, value: views },
      },
    )
    .to('user-minutes', {
      topic: text('output', 'user-minutes'),
      key: string,
      value: json<WindowResult<UserMinute>>(),
    });
}
