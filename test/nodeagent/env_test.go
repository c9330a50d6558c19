package nodeagent

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"A": "alpha", "B": "beta", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"$(A)", "alpha"},
		{"x-$(A)-$(B)-y", "x-alpha-beta-y"},
		{"$(UNDEFINED)", "$(UNDEFINED)"},
		{"$$(A)", "$(A)"},
		{"$$$(A)", "$alpha"},
		{"$(A", "$(A"},
		{"$()", "$()"},
		{"$A", "$A"},
		{"cost: 5$", "cost: 5$"},
		{"$(EMPTY)!", "!"},
		{"$(A)$(A)", "alphaalpha"},
	}
	for _, tc := range tests {
		if got := expandVars(tc.in, lookup); got != tc.want {
			t.Errorf("expandVars(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

func envPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "wf-step-123", Namespace: "argo", UID: "uid-1",
			Labels:      map[string]string{"app": "demo"},
			Annotations: map[string]string{"workflows.argoproj.io/node-name": "wf.step"},
		},
		Spec: corev1.PodSpec{NodeName: "kfpargo-local", ServiceAccountName: "runner"},
	}
}

func TestBuildEnv(t *testing.T) {
	objs := &podObjects{
		secrets: map[string]*corev1.Secret{
			"s3": {Data: map[string][]byte{"accessKey": []byte("minio"), "secretKey": []byte("minio123"), "bad-name": []byte("x")}},
		},
		configMaps: map[string]*corev1.ConfigMap{
			"cfg": {Data: map[string]string{"MODE": "fast", "LEVEL": "3"}},
		},
	}
	base := []string{
		"PATH=/img/bin:" + DefaultPath,
		"HOSTNAME=wf-step-123",
		"KUBERNETES_SERVICE_HOST=127.0.0.1",
		"KUBERNETES_SERVICE_PORT=6443",
		"KUBERNETES_SERVICE_PORT_HTTPS=6443",
		"KUBERNETES_PORT=tcp://127.0.0.1:6443",
		"KUBERNETES_PORT_6443_TCP=tcp://127.0.0.1:6443",
		"KUBERNETES_PORT_6443_TCP_PROTO=tcp",
		"KUBERNETES_PORT_6443_TCP_PORT=6443",
		"KUBERNETES_PORT_6443_TCP_ADDR=127.0.0.1",
	}
	fieldRef := func(p string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: p}}
	}
	tests := []struct {
		name    string
		c       corev1.Container
		want    []string // after base, HOME last unless set
		wantErr error
	}{
		{
			name: "values and $(VAR) expansion",
			c: corev1.Container{Env: []corev1.EnvVar{
				{Name: "A", Value: "one"},
				{Name: "B", Value: "$(A)-two"},
				{Name: "C", Value: "$(LATER) $(KUBERNETES_SERVICE_PORT) $(PATH) $$(A)"},
				{Name: "LATER", Value: "x"},
			}},
			want: []string{"A=one", "B=one-two", "C=$(LATER) 6443 $(PATH) $(A)", "LATER=x", "HOME=/root"},
		},
		{
			name: "fieldRef",
			c: corev1.Container{Env: []corev1.EnvVar{
				{Name: "POD", ValueFrom: fieldRef("metadata.name")},
				{Name: "NS", ValueFrom: fieldRef("metadata.namespace")},
				{Name: "UID", ValueFrom: fieldRef("metadata.uid")},
				{Name: "APP", ValueFrom: fieldRef("metadata.labels['app']")},
				{Name: "NODE_NAME", ValueFrom: fieldRef("metadata.annotations['workflows.argoproj.io/node-name']")},
				{Name: "NODE", ValueFrom: fieldRef("spec.nodeName")},
				{Name: "SA", ValueFrom: fieldRef("spec.serviceAccountName")},
				{Name: "IP", ValueFrom: fieldRef("status.podIP")},
				{Name: "HOST_IP", ValueFrom: fieldRef("status.hostIP")},
				{Name: "NOT_EXPANDED", Value: "$(POD)"},
			}},
			want: []string{"POD=wf-step-123", "NS=argo", "UID=uid-1", "APP=demo", "NODE_NAME=wf.step", "NODE=kfpargo-local",
				"SA=runner", "IP=127.0.0.1", "HOST_IP=127.0.0.1", "NOT_EXPANDED=wf-step-123", "HOME=/root"},
		},
		{
			name: "secret and configmap refs, optional honoured",
			c: corev1.Container{Env: []corev1.EnvVar{
				{Name: "KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "s3"}, Key: "accessKey"}}},
				{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "MODE"}}},
				{Name: "OPT1", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "k", Optional: ptrTo(true)}}},
				{Name: "OPT2", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "nokey", Optional: ptrTo(true)}}},
			}},
			want: []string{"KEY=minio", "MODE=fast", "HOME=/root"},
		},
		{
			name: "envFrom with prefix, then env overrides",
			c: corev1.Container{
				EnvFrom: []corev1.EnvFromSource{
					{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
					{Prefix: "S3_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s3"}}},
					{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: ptrTo(true)}},
				},
				Env: []corev1.EnvVar{{Name: "MODE", Value: "slow-$(LEVEL)"}, {Name: "HOME", Value: "/home/me"}},
			},
			want: []string{"LEVEL=3", "MODE=slow-3", "S3_accessKey=minio", "S3_bad-name=x", "S3_secretKey=minio123", "HOME=/home/me"},
		},
		{
			name: "resourceFieldRef: limit, unset limit is allocatable, divisor",
			c: corev1.Container{
				Resources: corev1.ResourceRequirements{
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
				},
				Env: []corev1.EnvVar{
					{Name: "MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
					{Name: "CPU_LIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
					{Name: "CPU_REQ", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu"}}},
					{Name: "CPU_REQ_M", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
				},
			},
			want: []string{"MEM_MI=512", "CPU_LIMIT=64", "CPU_REQ=1", "CPU_REQ_M=250", "HOME=/root"},
		},
		{
			name: "a missing secret waits",
			c: corev1.Container{Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "k"}}}}},
			wantErr: errMissingObject,
		},
		{
			name: "a missing key waits",
			c: corev1.Container{Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "nokey"}}}}},
			wantErr: errMissingObject,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Name = "main"
			got, err := buildEnv(envContext{
				pod: envPod(), container: &tc.c, objects: objs, path: "/img/bin:" + DefaultPath,
				apiHost: "127.0.0.1", apiPort: "6443", podIP: "127.0.0.1", hostIP: "127.0.0.1",
				allocatable: nodeResources(),
			})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := append(append([]string{}, base...), tc.want...)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("env:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
			}
		})
	}
}

func TestBuildEnvUnsupportedFieldPath(t *testing.T) {
	c := &corev1.Container{Name: "main", Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nope"}}}}}
	_, err := buildEnv(envContext{pod: envPod(), container: c, objects: &podObjects{}})
	if err == nil || errors.Is(err, errMissingObject) || !strings.Contains(err.Error(), "spec.nope") {
		t.Fatalf("err = %v, want a permanent error naming the field path", err)
	}
}

func TestContainerArgv(t *testing.T) {
	env := []string{"PATH=/bin", "MSG=hello", "ARGO_POD_NAME=p1"}
	tests := []struct {
		name    string
		c       corev1.Container
		want    []string
		wantErr bool
	}{
		{"command and args", corev1.Container{Command: []string{"sh", "-c"}, Args: []string{"echo $(MSG) $$(MSG) $MSG"}},
			[]string{"sh", "-c", "echo hello $(MSG) $MSG"}, false},
		{"args only run as the command", corev1.Container{Image: "alpine", Args: []string{"echo", "$(ARGO_POD_NAME)"}},
			[]string{"echo", "p1"}, false},
		{"nothing to run", corev1.Container{Image: "alpine"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Name = "main"
			got, err := containerArgv(&tc.c, ImageMap{}, env)
			if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("containerArgv = %q, %v; want %q (error: %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
