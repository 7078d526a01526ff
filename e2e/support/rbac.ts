import { AuthorizationV1Api } from '@kubernetes/client-node';
import { connect } from './cluster.ts';

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

/**
 * What `kubectl auth can-i --as=<user>` asks, as one SubjectAccessReview: the
 * API server's own authorizer answers, without a kubectl process (and its API
 * discovery) per question. A service account user gets the groups the API
 * server gives it (impersonated or authenticated alike).
 */
export async function canI(
  authorization: AuthorizationV1Api,
  user: string,
  q: AccessQuestion,
): Promise<boolean> {
  const serviceAccount = /^system:serviceaccount:([^:]+):[^:]+$/.exec(user);
  const groups = serviceAccount
    ? ['system:serviceaccounts', `system:serviceaccounts:${serviceAccount[1]}`, 'system:authenticated']
    : ['system:authenticated'];
  // kubectl's resource[.group]: "pods", "deployments.apps", "leases.coordination.k8s.io"; "*" has no group.
  const dot = q.resource === '*' ? -1 : q.resource.indexOf('.');
  const review = await authorization.createSubjectAccessReview({
    body: {
      spec: {
        user,
        groups,
        resourceAttributes: {
          verb: q.verb,
          resource: dot < 0 ? q.resource : q.resource.slice(0, dot),
          group: dot < 0 ? '' : q.resource.slice(dot + 1),
          ...(q.subresource ? { subresource: q.subresource } : {}),
          ...(q.name ? { name: q.name } : {}),
          namespace: q.allNamespaces ? '' : (q.namespace ?? ''),
        },
      },
    },
  });
  if (review.status === undefined) throw new Error(`SubjectAccessReview ${describeQuestion(q)}: no status`);
  return review.status.allowed;
}

/** Asks every question, a few at a time; returns the questions whose answer differed from `expected`. */
export async function accessMismatches(
  user: string,
  questions: AccessQuestion[],
  expected: (q: AccessQuestion) => boolean,
  parallelism = 6,
): Promise<string[]> {
  const authorization = connect().kubeConfig.makeApiClient(AuthorizationV1Api);
  const mismatches: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < questions.length) {
      const q = questions[next++] as AccessQuestion;
      const allowed = await canI(authorization, user, q);
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
  { resource: 'networkpolicies.networking.k8s.io' },
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
