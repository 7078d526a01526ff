{{/* Chart name, truncated to a DNS label. */}}
{{- define "weir.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; the release name alone when it already contains the chart name. */}}
{{- define "weir.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "weir.selectorLabels" -}}
app.kubernetes.io/name: {{ include "weir.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The selector labels as key=value,... (WEIR_OPERATOR_POD_LABELS: the pods a job's NetworkPolicy admits). */}}
{{- define "weir.selectorLabelPairs" -}}
{{- printf "app.kubernetes.io/name=%s,app.kubernetes.io/instance=%s,app.kubernetes.io/component=operator" (include "weir.name" .) .Release.Name -}}
{{- end }}

{{- define "weir.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "weir.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weir
{{- end }}

{{- define "weir.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "weir.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the key job control tokens are derived from; the operator fills it in. */}}
{{- define "weir.controlKeySecretName" -}}
{{- printf "%s-control-key" (include "weir.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The operator's image. global.imageRegistry (a parent chart's mirror) replaces
the registry of image.repository, or prefixes a repository without one.
*/}}
{{- define "weir.image" -}}
{{- $repository := .Values.image.repository -}}
{{- with (.Values.global).imageRegistry -}}
{{- $first := first (splitList "/" $repository) -}}
{{- if or (contains "." $first) (contains ":" $first) (eq $first "localhost") -}}
{{- $repository = join "/" (rest (splitList "/" $repository)) -}}
{{- end -}}
{{- $repository = printf "%s/%s" . $repository -}}
{{- end -}}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The rules the operator needs in every namespace it watches. They mirror
src/operator/permissions.ts; a test keeps the two equal.
*/}}
{{- define "weir.watchedNamespaceRules" -}}
- apiGroups: ["weir.dev"]
  resources: ["streamjobs"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["weir.dev"]
  resources: ["streamjobs/status"]
  verbs: ["update"]
- apiGroups: ["weir.dev"]
  resources: ["streamjobs/finalizers"]
  verbs: ["update"]
- apiGroups: ["weir.dev"]
  resources: ["streamjobsnapshots"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: ["weir.dev"]
  resources: ["streamjobsnapshots/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch", "create", "delete"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["create", "update", "delete"]
{{- end }}
