package artifact

import "testing"

func TestParseURI(t *testing.T) {
	for in, want := range map[string]string{
		"minio://mlpipeline/v2/artifacts/x": "/minio/mlpipeline/v2/artifacts/x",
		"s3://b/k":                          "/s3/b/k",
		"gs://b/k/":                         "/gcs/b/k",
	} {
		loc, err := ParseURI(in)
		if err != nil || loc.LocalPath() != want {
			t.Errorf("%s: %v %v, want %s", in, loc.LocalPath(), err, want)
		}
	}
	for _, bad := range []string{"/tmp/x", "http://b/k", "minio:///k", "minio://b/a/../../etc", "s3://b/a//b",
		// The bucket is a path element of the local path too: ".." would
		// place an input above /minio (minio://../etc/passwd -> /etc/passwd).
		"minio://../etc/passwd", "s3://./x", "gs://../x", "minio://..", "minio://b\\..\\x/k", "minio://b\x00/k"} {
		if _, err := ParseURI(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	loc, _ := ParseURI("minio://b/root")
	if got := loc.Join("ns", "run", "task", "out").String(); got != "minio://b/root/ns/run/task/out" {
		t.Errorf("Join = %s", got)
	}
}
