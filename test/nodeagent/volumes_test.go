package nodeagent

import (
	"errors"
	"os"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestContentVolumeFiles(t *testing.T) {
	objs := &podObjects{
		secrets: map[string]*corev1.Secret{"s": {Data: map[string][]byte{"b": []byte("2"), "a": []byte("1")}}},
		configMaps: map[string]*corev1.ConfigMap{"c": {
			Data:       map[string]string{"conf": "x=1"},
			BinaryData: map[string][]byte{"blob": {0, 1}},
		}},
	}
	mode := func(m int32) *int32 { return &m }
	tests := []struct {
		name    string
		files   func() ([]volumeFile, error)
		want    []volumeFile
		wantErr error
	}{
		{
			name:  "every secret key, sorted, default mode",
			files: func() ([]volumeFile, error) { return secretFiles(objs, "s", nil, nil, 0o644) },
			want:  []volumeFile{{"a", []byte("1"), 0o644}, {"b", []byte("2"), 0o644}},
		},
		{
			name: "items with paths and their own mode",
			files: func() ([]volumeFile, error) {
				return configMapFiles(objs, "c", []corev1.KeyToPath{{Key: "conf", Path: "etc/app.conf", Mode: mode(0o600)}, {Key: "blob", Path: "b"}}, nil, 0o444)
			},
			want: []volumeFile{{"etc/app.conf", []byte("x=1"), 0o600}, {"b", []byte{0, 1}, 0o444}},
		},
		{
			name:  "optional missing object: empty volume",
			files: func() ([]volumeFile, error) { return secretFiles(objs, "nope", nil, ptrTo(true), 0o644) },
		},
		{
			name: "optional object, missing key: skipped",
			files: func() ([]volumeFile, error) {
				return secretFiles(objs, "s", []corev1.KeyToPath{{Key: "zz", Path: "zz"}, {Key: "a", Path: "a"}}, ptrTo(true), 0o644)
			},
			want: []volumeFile{{"a", []byte("1"), 0o644}},
		},
		{
			name:    "missing object waits",
			files:   func() ([]volumeFile, error) { return configMapFiles(objs, "nope", nil, nil, 0o644) },
			wantErr: errMissingObject,
		},
		{
			name: "missing key waits",
			files: func() ([]volumeFile, error) {
				return configMapFiles(objs, "c", []corev1.KeyToPath{{Key: "zz", Path: "zz"}}, nil, 0o644)
			},
			wantErr: errMissingObject,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.files()
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 0 || len(tc.want) != 0 {
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("files %+v, want %+v", got, tc.want)
				}
			}
		})
	}
}

func TestSafeRelPath(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"token", "token", true},
		{"a/b/../c", "a/c", true},
		{"./x", "x", true},
		{"", "", false},
		{".", "", false},
		{"..", "", false},
		{"../etc/passwd", "", false},
		{"a/../../b", "", false},
		{"/abs", "", false},
	}
	for _, tc := range tests {
		got, err := safeRelPath(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("safeRelPath(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestPodFieldValue(t *testing.T) {
	pod := envPod()
	pod.Labels["tier"] = `back"end`
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"metadata.labels", "app=\"demo\"\ntier=\"back\\\"end\"", true},
		{`metadata.labels["tier"]`, `back"end`, true},
		{"metadata.labels['missing']", "", true},
		{"metadata.annotations", `workflows.argoproj.io/node-name="wf.step"`, true},
		{"status.podIPs", "10.0.0.1", true},
		{"metadata.labels[app]", "", false},
		{"metadata.generation", "", false},
	}
	for _, tc := range tests {
		got, err := podFieldValue(pod, tc.path, "10.0.0.1", "10.0.0.2")
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("podFieldValue(%q) = %q, %v; want %q ok=%v", tc.path, got, err, tc.want, tc.ok)
		}
	}
}

func TestWriteFilesModes(t *testing.T) {
	dir := t.TempDir()
	files := []volumeFile{{"a/b/secret", []byte("s"), 0o400}, {"plain", []byte("p"), 0o644}}
	if err := writeFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		fi, err := os.Stat(dir + "/" + f.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != f.mode {
			t.Errorf("%s mode %v, want %v", f.path, fi.Mode().Perm(), f.mode)
		}
	}
	if err := writeFiles(dir, []volumeFile{{"../escape", nil, 0o644}}); err == nil {
		t.Error("writeFiles accepted a path leaving the volume")
	}
}
