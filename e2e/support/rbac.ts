import { runTool } from './cli.ts';

export interface AccessQuestion {
  verb: string;
  /** resource[.group], as kubectl names it: pods, streamjobs.weir.dev, leases.coordination.k8s.io */
  resource: string;
  subresource?: string;
  /** One object by name; without it the question is about the whole collection. */
  name?: string;
  /** A namespace, or undefined for cluster-scoped resources and all-namespaces questions. */
  namespace?: string;
  allNamespaces?: boolean;
}

export function describeQuestion(q: AccessQuestion): string {
  const where = q.allNamespaces ? ' (all namespaces)' : q.namespace ? ` in ${q.namespace}` : '';
  const target = `${q.resource}${q.name ? `/${q.name}` : ''}${q.subresource ? ` (subresource ${q.subresource})` : ''}`;
  return `${q.verb} ${target}${where}`;
}

/** `kubectl auth can-i --as=<user>`: the API server's own authorizer answers. */
export async function canI(user: string, q: AccessQuestion): Promise<boolean> {
  const args = ['auth', 'can-i', q.verb, q.name ? `${q.resource}/${q.name}` : q.resource, `--as=${user}`];
  if (q.subresource) args.push(`--subresource=${q.subresource}`);
  if (q.allNamespaces) args.push('--all-namespaces');
  else if (q.namespace) args.push('--namespace', q.namespace);
  const result = await runTool('kubectl', args, { allowFailure: true });
  const answer = result.stdout.trim();
  if (answer !== 'yes' && answer !== 'no') {
    throw new Error(
      `kubectl auth can-i ${describeQuestion(q)}: unexpected answer: ${result.stderr || answer}`,
    );
  }
  return answer === 'yes';
}

/** Asks every question, a few at a time; returns the questions whose answer differed from `expected`. */
export async function accessMismatches(
  user: string,
  questions: AccessQuestion[],
  expected: (q: AccessQuestion) => boolean,
  parallelism = 6,
): Promise<string[]> {
  const mismatches: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < questions.length) {
      const q = questions[next++] as AccessQuestion;
      const allowed = await canI(user, q);
      if (allowed !== expected(q)) {
        mismatches.push(`${describeQuestion(q)}: ${allowed ? 'allowed' : 'denied'}, expected the opposite`);
      }
    }
  };
  await Promise.all(Array.from({ length: parallelism }, worker));
  return mismatches.sort();
}

export const allVerbs = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];

/** kubectl's resource[.group] and subresource for a permission's "group" and "resource[/sub]". */
function kubectlName(apiGroup: string, resource: string): { resource: string; subresource?: string } {
  const [base, subresource] = resource.split('/') as [string, string | undefined];
  return { resource: apiGroup ? `${base}.${apiGroup}` : base, ...(subresource ? { subresource } : {}) };
}

export interface GrantedRule {
  apiGroup: string;
  resource: string;
  verbs: readonly string[];
  resourceNames?: readonly string[];
}

/**
 * Whether `rules` grant the question (exact resource, subresource and verb).
 * A rule limited to resourceNames grants only questions about those objects.
 */
export function grants(rules: readonly GrantedRule[], q: AccessQuestion): boolean {
  return rules.some((rule) => {
    const name = kubectlName(rule.apiGroup, rule.resource);
    const object = rule.resourceNames ? q.name !== undefined && rule.resourceNames.includes(q.name) : true;
    return (
      object &&
      name.resource === q.resource &&
      name.subresource === q.subresource &&
      rule.verbs.includes(q.verb)
    );
  });
}

/** The rules with placeholder resource names (as src/operator/permissions.ts writes them) replaced. */
export function withNames(rules: readonly GrantedRule[], names: Record<string, string>): GrantedRule[] {
  return rules.map((rule) =>
    rule.resourceNames ? { ...rule, resourceNames: rule.resourceNames.map((n) => names[n] ?? n) } : rule,
  );
}

/** Every verb on one named object, and on another object of the same kind next to it. */
export function namedObjectQuestions(namespace: string, resource: string, name: string): AccessQuestion[] {
  return [name, `${name}-other`].flatMap((n) =>
    allVerbs.map((verb) => ({ verb, resource, name: n, namespace })),
  );
}

/** Namespaced kinds an operator could plausibly be granted, to ask every verb of. */
export const namespacedProbes: { resource: string; subresource?: string }[] = [
  { resource: 'streamjobs.weir.dev' },
  { resource: 'streamjobs.weir.dev', subresource: 'status' },
  { resource: 'streamjobs.weir.dev', subresource: 'finalizers' },
  { resource: 'streamjobs.weir.dev', subresource: 'scale' },
  { resource: 'pods' },
  { resource: 'pods', subresource: 'log' },
  { resource: 'secrets' },
  { resource: 'configmaps' },
  { resource: 'events' },
  { resource: 'services' },
  { resource: 'serviceaccounts' },
  { resource: 'deployments.apps' },
  { resource: 'roles.rbac.authorization.k8s.io' },
  { resource: 'rolebindings.rbac.authorization.k8s.io' },
  { resource: 'leases.coordination.k8s.io' },
];

export const clusterProbes: { resource: string }[] = [
  { resource: 'nodes' },
  { resource: 'namespaces' },
  { resource: 'clusterroles.rbac.authorization.k8s.io' },
  { resource: 'customresourcedefinitions.apiextensions.k8s.io' },
];

/** Every verb of every probe, in the given namespaces and at cluster scope. */
export function accessMatrix(namespaces: string[]): AccessQuestion[] {
  const questions: AccessQuestion[] = [];
  for (const namespace of namespaces) {
    for (const probe of namespacedProbes)
      for (const verb of allVerbs) questions.push({ verb, ...probe, namespace });
  }
  for (const probe of clusterProbes) for (const verb of allVerbs) questions.push({ verb, ...probe });
  questions.push({ verb: 'list', resource: 'secrets', allNamespaces: true });
  questions.push({ verb: 'get', resource: 'secrets', allNamespaces: true });
  questions.push({ verb: '*', resource: '*', allNamespaces: true });
  return questions;
}
