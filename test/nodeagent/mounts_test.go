package nodeagent

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPlanMounts(t *testing.T) {
	volumes := map[string]string{
		"var-run-argo":     "/state/pods/p/volumes/var-run-argo",
		"tmp-dir-argo":     "/state/pods/p/volumes/tmp-dir-argo",
		"kube-api-access":  "/state/pods/p/volumes/kube-api-access",
		"workspace":        "/state/pods/p/volumes/workspace",
		"nested":           "/state/pods/p/volumes/nested",
		"argo-secret-vol1": "/state/pods/p/volumes/argo-secret-vol1",
	}
	scratch := [][2]string{{"/tmp", "/c/scratch/tmp"}, {"/minio", "/c/scratch/minio"}}
	tests := []struct {
		name    string
		c       corev1.Container
		binDir  string
		env     []string
		want    []mount
		wantErr bool
	}{
		{
			name: "argo wait container: a volume at /tmp wins over the scratch /tmp",
			c: corev1.Container{VolumeMounts: []corev1.VolumeMount{
				{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
				{Name: "tmp-dir-argo", MountPath: "/tmp", SubPath: "1"},
				{Name: "var-run-argo", MountPath: "/var/run/argo"},
			}},
			want: []mount{
				{Source: "/c/scratch/tmp", Target: "/tmp"},
				{Source: "/c/scratch/minio", Target: "/minio"},
				{Source: "/state/pods/p/volumes/tmp-dir-argo/1", Target: "/tmp"},
				{Source: "/c/termination-log", Target: "/dev/termination-log"},
				{Source: "/state/pods/p/volumes/var-run-argo", Target: "/var/run/argo"},
				{Source: "/state/pods/p/volumes/kube-api-access", Target: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
			},
		},
		{
			name: "deeper mounts after shallower ones whatever the spec order; custom termination path",
			c: corev1.Container{
				TerminationMessagePath: "/work/out/msg",
				VolumeMounts: []corev1.VolumeMount{
					{Name: "nested", MountPath: "/work/data/in"},
					{Name: "workspace", MountPath: "/work/"},
					{Name: "argo-secret-vol1", MountPath: "/tmp/secret", ReadOnly: true},
				},
			},
			want: []mount{
				{Source: "/c/scratch/tmp", Target: "/tmp"},
				{Source: "/c/scratch/minio", Target: "/minio"},
				{Source: "/state/pods/p/volumes/workspace", Target: "/work"},
				{Source: "/state/pods/p/volumes/argo-secret-vol1", Target: "/tmp/secret", ReadOnly: true},
				{Source: "/state/pods/p/volumes/nested", Target: "/work/data/in"},
				{Source: "/c/termination-log", Target: "/work/out/msg"},
			},
		},
		{
			name:   "a bin dir hidden by a scratch path is bound back at its own path",
			c:      corev1.Container{},
			binDir: "/tmp/images/argoexec",
			want: []mount{
				{Source: "/c/scratch/tmp", Target: "/tmp"},
				{Source: "/c/scratch/minio", Target: "/minio"},
				{Source: "/c/termination-log", Target: "/dev/termination-log"},
				{Source: "/tmp/images/argoexec", Target: "/tmp/images/argoexec", ReadOnly: true},
			},
		},
		{
			name:   "a bin dir nobody hides is not mounted",
			c:      corev1.Container{},
			binDir: "/run/kfpargo/abc/argoexec",
			want: []mount{
				{Source: "/c/scratch/tmp", Target: "/tmp"},
				{Source: "/c/scratch/minio", Target: "/minio"},
				{Source: "/c/termination-log", Target: "/dev/termination-log"},
			},
		},
		{
			name: "subPathExpr is expanded",
			c: corev1.Container{VolumeMounts: []corev1.VolumeMount{
				{Name: "workspace", MountPath: "/out", SubPathExpr: "runs/$(POD_NAME)"},
			}},
			env: []string{"POD_NAME=p-1"},
			want: []mount{
				{Source: "/c/scratch/tmp", Target: "/tmp"},
				{Source: "/c/scratch/minio", Target: "/minio"},
				{Source: "/state/pods/p/volumes/workspace/runs/p-1", Target: "/out"},
				{Source: "/c/termination-log", Target: "/dev/termination-log"},
			},
		},
		{
			name:    "subPath may not leave its volume",
			c:       corev1.Container{VolumeMounts: []corev1.VolumeMount{{Name: "workspace", MountPath: "/x", SubPath: "../../etc"}}},
			wantErr: true,
		},
		{
			name:    "unknown volume",
			c:       corev1.Container{VolumeMounts: []corev1.VolumeMount{{Name: "nope", MountPath: "/x"}}},
			wantErr: true,
		},
		{
			name:    "relative mount path",
			c:       corev1.Container{VolumeMounts: []corev1.VolumeMount{{Name: "workspace", MountPath: "x"}}},
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := planMounts(mountInputs{
				container: &tc.c, volumes: volumes, scratch: scratch,
				terminationLog: "/c/termination-log", binDir: tc.binDir, environ: tc.env,
			})
			if tc.wantErr {
				if err == nil {
					t.Fatalf("planMounts = %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("planMounts:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
