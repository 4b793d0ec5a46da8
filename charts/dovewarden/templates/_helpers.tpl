{{/* Names and labels shared by every template. */}}

{{- define "dovewarden.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dovewarden.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "dovewarden.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "dovewarden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one app; call with (dict "root" $ "app" "ingest"). */}}
{{- define "dovewarden.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dovewarden.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .app }}
{{- end -}}

{{- define "dovewarden.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else -}}
{{- include "dovewarden.fullname" . -}}
{{- end -}}
{{- end -}}

{{- define "dovewarden.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dovewarden.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The URL Dovecot A posts its events to. */}}
{{- define "dovewarden.eventsUrl" -}}
{{- if .Values.dovecotConfig.eventsUrl -}}
{{- .Values.dovecotConfig.eventsUrl -}}
{{- else -}}
{{- printf "http://%s-ingest.%s.svc.cluster.local:%d/events" (include "dovewarden.fullname" .) .Release.Namespace (int .Values.ingest.service.port) -}}
{{- end -}}
{{- end -}}

{{/*
The ingest password Dovecot A must present, as the events URL needs it: "none" (auth off),
"password:<it>", or "unknown" when secrets.existingSecret holds it and Helm cannot read that
Secret (helm template, a GitOps render, or the Secret does not exist yet).
*/}}
{{- define "dovewarden.ingestCredentials" -}}
{{- if .Values.secrets.existingSecret -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace .Values.secrets.existingSecret -}}
{{- if not $existing -}}
unknown
{{- else if hasKey ($existing.data | default dict) .Values.secrets.ingestPasswordKey -}}
{{- printf "password:%s" (index $existing.data .Values.secrets.ingestPasswordKey | b64dec) -}}
{{- else -}}
none
{{- end -}}
{{- else if .Values.secrets.ingestPassword -}}
{{- printf "password:%s" .Values.secrets.ingestPassword -}}
{{- else -}}
none
{{- end -}}
{{- end -}}

{{/*
The bundled Redis's password: the one given, else the one this release's Secret already holds
(so an upgrade keeps it), else a new random one. Letters and digits: it goes into a redis:// URL.
*/}}
{{- define "dovewarden.bundledRedisPassword" -}}
{{- if .Values.redis.bundled.password -}}
{{- if not (regexMatch "^[A-Za-z0-9._~-]+$" .Values.redis.bundled.password) -}}
{{- fail "redis.bundled.password: use letters, digits and . _ ~ - only (it is put into a redis:// URL)" -}}
{{- end -}}
{{- .Values.redis.bundled.password -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "dovewarden.fullname" .) -}}
{{- if and $existing (hasKey ($existing.data | default dict) .Values.secrets.redisPasswordKey) -}}
{{- index $existing.data .Values.secrets.redisPasswordKey | b64dec -}}
{{- else -}}
{{- randAlphaNum 32 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Redis settings: the bundled StatefulSet, or external by URL, Sentinel or Cluster. */}}
{{- define "dovewarden.redisEnv" -}}
- name: DOVEWARDEN_REDIS_MODE
  value: external
{{- if .Values.redis.bundled.enabled }}
# Not a DOVEWARDEN_* name: only the URL below reads it (Kubernetes expands $(REDIS_PASSWORD)).
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "dovewarden.secretName" . }}
      key: {{ .Values.secrets.redisPasswordKey }}
- name: DOVEWARDEN_REDIS_ADDR
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s-redis:6379" (include "dovewarden.fullname" .) | quote }}
{{- else if .Values.redis.external.sentinels }}
- name: DOVEWARDEN_REDIS_SENTINELS
  value: {{ .Values.redis.external.sentinels | quote }}
- name: DOVEWARDEN_REDIS_SENTINEL_MASTER
  value: {{ required "redis.external.sentinelMaster is required with sentinels" .Values.redis.external.sentinelMaster | quote }}
{{- else if .Values.redis.external.clusterNodes }}
- name: DOVEWARDEN_REDIS_CLUSTER_NODES
  value: {{ .Values.redis.external.clusterNodes | quote }}
{{- else if .Values.redis.external.addrSecret.name }}
- name: DOVEWARDEN_REDIS_ADDR
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.external.addrSecret.name }}
      key: {{ .Values.redis.external.addrSecret.key }}
{{- else }}
- name: DOVEWARDEN_REDIS_ADDR
  value: {{ required "set redis.external.addr, sentinels or clusterNodes, or enable redis.bundled" .Values.redis.external.addr | quote }}
{{- end }}
{{- end -}}

{{/*
Env of one app: Redis, doveadm, the shared config, the app's own env, and the passwords it
needs from the Secret. Call with (dict "root" $ "app" "worker" "values" .Values.worker).
*/}}
{{- define "dovewarden.env" -}}
{{- $root := .root -}}
{{- $secret := include "dovewarden.secretName" $root -}}
{{ include "dovewarden.redisEnv" $root }}
- name: DOVEWARDEN_METRICS_ADDR
  value: ":9090"
- name: DOVEWARDEN_DOVEADM_URL
  value: {{ $root.Values.doveadm.url | quote }}
- name: DOVEWARDEN_DOVEADM_DEST
  value: {{ $root.Values.doveadm.destination | quote }}
{{- with $root.Values.doveadm.tcpAddr }}
- name: DOVEWARDEN_DOVEADM_TCP_ADDR
  value: {{ . | quote }}
{{- end }}
{{- if or (eq .app "worker") (eq .app "scheduler") }}
- name: DOVEWARDEN_DOVEADM_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $root.Values.secrets.doveadmPasswordKey }}
{{- end }}
{{- if eq .app "worker" }}
- name: DOVEWARDEN_NUM_WORKERS
  value: {{ $root.Values.worker.numWorkers | quote }}
- name: DOVEWARDEN_SHUTDOWN_TIMEOUT
  value: {{ printf "%ds" (int $root.Values.worker.shutdownTimeoutSeconds) | quote }}
{{- end }}
{{- if eq .app "ingest" }}
- name: DOVEWARDEN_HTTP_ADDR
  value: ":8080"
{{- if gt (int $root.Values.syncWait.timeoutMs) 0 }}
- name: DOVEWARDEN_SYNC_WAIT_TIMEOUT
  value: {{ printf "%dms" (int $root.Values.syncWait.timeoutMs) | quote }}
- name: DOVEWARDEN_SYNC_WAIT_MAX_WAITERS
  value: {{ $root.Values.syncWait.maxWaiters | quote }}
{{- end }}
{{- if or $root.Values.secrets.existingSecret $root.Values.secrets.ingestPassword }}
- name: DOVEWARDEN_INGEST_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $root.Values.secrets.ingestPasswordKey }}
      # An existing Secret may leave ingest auth off by not having the key.
      optional: true
{{- end }}
{{- end }}
{{- if eq .app "admin" }}
- name: DOVEWARDEN_ADMIN_ADDR
  value: ":3000"
- name: DOVEWARDEN_ADMIN_USER
  value: {{ $root.Values.admin.user | quote }}
- name: DOVEWARDEN_ADMIN_READ_ONLY
  value: {{ $root.Values.admin.readOnly | quote }}
- name: DOVEWARDEN_ADMIN_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $root.Values.secrets.adminPasswordKey }}
{{- end }}
{{- range $name, $value := $root.Values.config }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- range $name, $value := .values.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}
