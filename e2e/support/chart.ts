import { join } from 'node:path';
import { helm, repositoryRoot } from './cli.ts';

/** The operator image the suites install the chart with: weir:dev from the Dockerfile, unless set. */
export const operatorImage = process.env.WEIR_E2E_OPERATOR_IMAGE ?? 'weir:dev';
const [repository, tag] = operatorImage.split(/:(?=[^:/]+$)/) as [string, string | undefined];
export const operatorImageRepository = repository;
export const operatorImageTag = tag ?? 'latest';

/**
 * helm install of charts/weir as `release` into `namespace`, with the
 * suites' operator image, in namespaced mode watching `watchNamespaces`,
 * with `extra` arguments; waits until the operator is Ready.
 */
export function installWeirChart(
  release: string,
  namespace: string,
  watchNamespaces: readonly string[],
  ...extra: string[]
): Promise<string> {
  return helm(
    'install',
    release,
    join(repositoryRoot, 'charts', 'weir'),
    '--namespace',
    namespace,
    '--set',
    `image.repository=${operatorImageRepository}`,
    '--set',
    `image.tag=${operatorImageTag}`,
    '--set',
    `watchNamespaces={${watchNamespaces.join(',')}}`,
    ...extra,
    '--wait',
    '--timeout',
    '180s',
  );
}
