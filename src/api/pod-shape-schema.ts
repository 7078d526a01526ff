import { labels } from './constants.ts';
import { secretsMountPath, stateVolumeMountPath } from './taskmanager-env.ts';

/**
 * The parts of spec.taskManager that shape the pod around Weir's container:
 * placement, pull secrets, metadata, extra volumes and sidecars. Each is
 * merged with what Weir sets (src/operator/deploy/pod-shape.ts); where they
 * would clash, the API server refuses the spec and names the field.
 */

/** Volume names Weir's own container uses. */
export const reservedVolumeNames = ['scratch', 'credentials', 'state'] as const;
/** Paths Weir mounts in the TaskManager container. */
export const reservedMountPaths = ['/tmp', secretsMountPath, stateVolumeMountPath] as const;
export const taskManagerContainerName = 'taskmanager';

const weirLabelPrefixes = [...new Set(Object.values(labels).map((l) => `${l.split('/')[0]}/`))];
const celList = (values: readonly string[]) => `[${values.map((v) => `'${v}'`).join(', ')}]`;

const stringMap = (description: string) =>
  ({
    type: 'object',
    description,
    maxProperties: 64,
    additionalProperties: { type: 'string', description: 'A value.', maxLength: 4096 },
  }) as const;

/** An object of a pod spec, kept as the API server's pod validation will check it. */
const podSpecPart = (description: string) =>
  ({ type: 'object', description, 'x-kubernetes-preserve-unknown-fields': true }) as const;

const dnsLabel = {
  type: 'string',
  minLength: 1,
  maxLength: 63,
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
} as const;

export const podShapeProperties = {
  affinity: {
    ...podSpecPart(
      "Affinity of the TaskManager pods, as in a pod spec. With standbys or a warm upgrade, Weir adds a preferred pod anti-affinity that keeps an index's slots on different nodes; the affinity given here is kept and its preferred anti-affinity terms come first.",
    ),
  },
  topologySpreadConstraints: {
    type: 'array',
    description:
      "How the TaskManager pods spread over zones or nodes, as in a pod spec. To match the job's pods, select the label weir.dev/job: <job name>.",
    maxItems: 8,
    items: {
      type: 'object',
      description: 'A topology spread constraint.',
      required: ['maxSkew', 'topologyKey', 'whenUnsatisfiable'],
      'x-kubernetes-preserve-unknown-fields': true,
      properties: {
        maxSkew: { type: 'integer', description: 'The largest difference allowed.', minimum: 1 },
        topologyKey: { type: 'string', description: 'The node label of the domains.', maxLength: 317 },
        whenUnsatisfiable: {
          type: 'string',
          description: 'DoNotSchedule or ScheduleAnyway.',
          enum: ['DoNotSchedule', 'ScheduleAnyway'],
        },
      },
    },
  },
  imagePullSecrets: {
    type: 'array',
    description: "Secrets in the job's namespace to pull spec.image with (a private registry).",
    maxItems: 16,
    items: {
      type: 'object',
      description: 'A reference to a Secret of type kubernetes.io/dockerconfigjson.',
      required: ['name'],
      properties: {
        name: { type: 'string', description: 'Name of the Secret.', minLength: 1, maxLength: 253 },
      },
    },
  },
  podLabels: {
    ...stringMap(
      `Labels added to the TaskManager pods (cost centre, team, a service mesh's). Keys under ${weirLabelPrefixes.join(' and ')} are Weir's.`,
    ),
    'x-kubernetes-validations': [
      {
        rule: `self.all(k, ${weirLabelPrefixes.map((p) => `!k.startsWith('${p}')`).join(' && ')})`,
        message: `label keys under ${weirLabelPrefixes.join(' and ')} are set by Weir`,
      },
    ],
  },
  podAnnotations: stringMap(
    'Annotations added to the TaskManager pods (a Prometheus scrape, a service mesh or a cluster autoscaler setting).',
  ),
  priorityClassName: {
    type: 'string',
    description: 'The PriorityClass of the TaskManager pods.',
    maxLength: 253,
  },
  volumes: {
    type: 'array',
    description: `Extra volumes of the TaskManager pods, as in a pod spec (a ConfigMap the job reads, a CSI secret store). The names ${reservedVolumeNames.join(', ')} are Weir's.`,
    maxItems: 32,
    items: {
      type: 'object',
      description: 'A volume.',
      required: ['name'],
      'x-kubernetes-preserve-unknown-fields': true,
      properties: { name: { ...dnsLabel, description: 'The volume name.' } },
    },
    'x-kubernetes-validations': [
      {
        rule: `self.all(v, !(v.name in ${celList(reservedVolumeNames)}))`,
        message: `volume names ${reservedVolumeNames.join(', ')} are used by Weir`,
      },
      { rule: 'self.all(v, self.exists_one(w, w.name == v.name))', message: 'volume names must be unique' },
    ],
  },
  volumeMounts: {
    type: 'array',
    description: `Where the TaskManager container mounts volumes of spec.taskManager.volumes. ${reservedMountPaths.join(', ')} are Weir's.`,
    maxItems: 32,
    items: {
      type: 'object',
      description: 'A volume mount.',
      required: ['name', 'mountPath'],
      properties: {
        name: { ...dnsLabel, description: 'The volume, one of spec.taskManager.volumes.' },
        mountPath: {
          type: 'string',
          description: 'An absolute path in the container.',
          minLength: 2,
          maxLength: 1024,
          pattern: '^/',
        },
        readOnly: { type: 'boolean', description: 'Mounted read-only.' },
        subPath: { type: 'string', description: 'A path within the volume.', maxLength: 1024 },
      },
    },
    'x-kubernetes-validations': [
      {
        rule: `self.all(m, !(m.mountPath in ${celList(reservedMountPaths)}) && !m.mountPath.startsWith('/var/run/weir/') && !m.mountPath.startsWith('/var/lib/weir/'))`,
        message: `${reservedMountPaths.join(', ')} and the paths under /var/run/weir/ and /var/lib/weir/ are mounted by Weir`,
      },
    ],
  },
  sidecars: {
    type: 'array',
    description: `Containers run beside the TaskManager in each pod, as in a pod spec (a log shipper, a proxy). The name ${taskManagerContainerName} is Weir's. A sidecar does not see Weir's credentials.`,
    maxItems: 8,
    items: {
      type: 'object',
      description: 'A container.',
      required: ['name', 'image'],
      'x-kubernetes-preserve-unknown-fields': true,
      properties: {
        name: { ...dnsLabel, description: 'The container name.' },
        image: { type: 'string', description: 'The container image.', minLength: 1, maxLength: 1024 },
        volumeMounts: {
          type: 'array',
          description: "The sidecar's volume mounts, as in a container spec.",
          maxItems: 32,
          items: {
            type: 'object',
            description: 'A volume mount.',
            required: ['name'],
            'x-kubernetes-preserve-unknown-fields': true,
            properties: { name: { type: 'string', description: 'The volume.', maxLength: 63 } },
          },
        },
      },
    },
    'x-kubernetes-validations': [
      {
        rule: `self.all(c, c.name != '${taskManagerContainerName}')`,
        message: `the container name ${taskManagerContainerName} is Weir's`,
      },
      {
        rule: "self.all(c, !has(c.volumeMounts) || c.volumeMounts.all(m, m.name != 'credentials'))",
        message: "a sidecar may not mount the credentials volume: it holds the TaskManager's secrets",
      },
      { rule: 'self.all(c, self.exists_one(d, d.name == c.name))', message: 'sidecar names must be unique' },
    ],
  },
} as const;

/** Rules across the fields above, on spec.taskManager. */
export const podShapeValidations = [
  {
    rule: '!has(self.volumeMounts) || self.volumeMounts.all(m, has(self.volumes) && self.volumes.exists(v, v.name == m.name))',
    message: 'every volumeMounts[].name must be the name of one of spec.taskManager.volumes',
  },
] as const;
