{{/*
Names and labels shared by every template.
*/}}

{{- define "routeshift.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "routeshift.fullname" -}}
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

{{- define "routeshift.controller.fullname" -}}
{{- printf "%s-controller" (include "routeshift.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "routeshift.proxy.fullname" -}}
{{- printf "%s-gateway-proxy" (include "routeshift.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "routeshift.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "routeshift.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Labels on every object; pass (dict "ctx" $ "component" "controller"). */}}
{{- define "routeshift.labels" -}}
helm.sh/chart: {{ include "routeshift.chart" .ctx }}
{{ include "routeshift.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: routeshift
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "routeshift.selectorLabels" -}}
app.kubernetes.io/name: {{ include "routeshift.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "routeshift.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create }}
{{- default (include "routeshift.controller.fullname" .) .Values.controller.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.controller.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "routeshift.proxy.serviceAccountName" -}}
{{- if .Values.proxy.serviceAccount.create }}
{{- default (include "routeshift.proxy.fullname" .) .Values.proxy.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.proxy.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "routeshift.leaderElectionName" -}}
{{- default (include "routeshift.controller.fullname" .) .Values.controller.leaderElection.name }}
{{- end }}

{{/*
Hardening shared by both containers: not negotiable through values, so that no
override can quietly turn it off. The UID/GID come from values.
*/}}
{{- define "routeshift.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .runAsUser }}
runAsGroup: {{ .runAsGroup }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "routeshift.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .runAsUser }}
runAsGroup: {{ .runAsGroup }}
fsGroup: {{ .runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end }}
