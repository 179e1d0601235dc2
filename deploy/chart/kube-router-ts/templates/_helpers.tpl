{{- define "kube-router-ts.name" -}}kube-router{{- end -}}

{{- define "kube-router-ts.labels" -}}
k8s-app: kube-router
app.kubernetes.io/name: kube-router-ts
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kube-router-ts.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "kube-router-ts.serviceAccountName" -}}
{{ .Values.serviceAccount.name | default "kube-router" }}
{{- end -}}

{{- define "kube-router-ts.kubeconfigMap" -}}
{{ .Values.kubeconfig.existingConfigMap | default "kube-router-kubeconfig" }}
{{- end -}}

{{/*
The agent's arguments: every key of .Values.flags whose value differs from the agent's own default
(files/flag-defaults.yaml, generated from the CLI's flag table) becomes --name=value. Lists are joined
with commas, as the CLI takes them. Unknown keys fail the render, so a typo cannot silently do nothing.
*/}}
{{- define "kube-router-ts.args" -}}
{{- $defaults := .Files.Get "files/flag-defaults.yaml" | fromYaml -}}
{{- range $name, $value := .Values.flags }}
{{- if not (hasKey $defaults $name) }}
{{- fail (printf "flags.%s: kube-router-ts has no flag --%s" $name $name) }}
{{- end }}
{{- $text := "" }}
{{- if kindIs "slice" $value }}
{{- $parts := list }}
{{- range $value }}{{ $parts = append $parts (toString .) }}{{ end }}
{{- $text = join "," $parts }}
{{- else if kindIs "float64" $value }}
{{- $text = printf "%d" (int64 $value) }}
{{- else if kindIs "invalid" $value }}
{{- $text = "" }}
{{- else }}
{{- $text = toString $value }}
{{- end }}
{{- if ne $text (toString (index $defaults $name)) }}
- {{ printf "--%s=%s" $name $text | quote }}
{{- end }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}
