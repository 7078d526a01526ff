/** What the controller saw of a job's world, reduced to what decisions need. */
export interface ObservedPod {
  name: string;
  /** From the weir.dev/pod-index label; -1 when missing or invalid. */
  index: number;
  restartEpoch: number;
  specHash: string;
  runId: string;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  ready: boolean;
  deleting: boolean;
  nodeName?: string;
  /** Why the pod ended, e.g. "exit code 137 (Error)". */
  terminationMessage?: string;
}

export interface ObservedNode {
  name: string;
  ready: boolean;
  /** When the node's Ready condition last left True. */
  notReadySince?: Date;
}

export interface Observation {
  pods: ObservedPod[];
  nodes: ReadonlyMap<string, ObservedNode>;
}
