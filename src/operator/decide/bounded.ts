/** The longest failure or problem message the operator writes into status (lastFailure, recentFailures, conditions). */
export const failureMessageMaxChars = 512;

/** `text` on one line, cut to `max` characters with an ellipsis: status is read by people and kept in etcd. */
export function bounded(text: string, max = failureMessageMaxChars): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}
