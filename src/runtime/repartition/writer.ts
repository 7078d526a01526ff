import type { ConsumedRecord } from '../../kafka/assigned-consumer.ts';
import type { OutgoingRecord } from '../../kafka/transactional-producer.ts';
import {
  barrierHeader,
  barrierTasksHeader,
  fromTaskHeader,
  joinInputHeader,
  watermarkHeader,
} from './barriers.ts';
import type { RepartitionRoute } from './route.ts';

/** What the writer needs of the task's producer: a send into its open transaction. */
export interface MarkerProducer {
  sendWhenQueued(record: OutgoingRecord): Promise<void>;
}

/**
 * The in-band markers a task writes into every partition of the repartition
 * topic its stage feeds, inside its open transaction: savepoint barriers and
 * watermarks. Each names the writing task, so the downstream task can tell
 * its upstream tasks apart in a partition they all write.
 */
export class RepartitionWriter {
  private readonly producer: MarkerProducer;
  private readonly route: RepartitionRoute;

  constructor(producer: MarkerProducer, route: RepartitionRoute) {
    this.producer = producer;
    this.route = route;
  }

  barriers(savepointId: string): Promise<void> {
    return this.everyPartition(
      { [barrierHeader]: savepointId },
      { [barrierTasksHeader]: String(this.route.tasks) },
    );
  }

  /** The task's watermark, or "idle". */
  watermarks(marker: string): Promise<void> {
    return this.everyPartition({ [watermarkHeader]: marker });
  }

  private async everyPartition(...header: Record<string, string>[]): Promise<void> {
    for (let partition = 0; partition < this.route.partitions; partition++) {
      await this.producer.sendWhenQueued({
        topic: this.route.topic,
        partition,
        key: null,
        value: null,
        headers: [...header, { [fromTaskHeader]: String(this.route.fromTask) }],
      });
    }
  }
}

/**
 * What a record read from a repartition topic carries: its upstream task, and
 * a barrier (with its writer's parallelism, when it says) or a watermark if a marker,
 * or the join input it belongs to when the first stage sent it on from a join's other side.
 */
export function repartitionHeaders(message: ConsumedRecord): {
  from: number;
  barrier: string | undefined;
  barrierTasks: number | undefined;
  watermark: string | undefined;
  joinInput: string | undefined;
} {
  let from = -1;
  let barrier: string | undefined;
  let barrierTasks: number | undefined;
  let watermark: string | undefined;
  let joinInput: string | undefined;
  for (const { key: name, value } of message.headers ?? []) {
    if (name === fromTaskHeader) from = Number(String(value));
    else if (name === barrierHeader) barrier = String(value);
    else if (name === barrierTasksHeader) barrierTasks = Number(String(value));
    else if (name === watermarkHeader) watermark = String(value);
    else if (name === joinInputHeader) joinInput = String(value);
  }
  return { from, barrier, barrierTasks, watermark, joinInput };
}
