package artifact

import (
	"fmt"
	"path"
	"strings"
)

// Location is a bucket and key in an object store.
type Location struct {
	Scheme string // minio, s3 or gs
	Bucket string
	Key    string
}

// ParseURI splits minio://, s3:// and gs:// URIs.
func ParseURI(uri string) (Location, error) {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return Location{}, fmt.Errorf("artifact URI %q has no scheme (expected minio://, s3:// or gs://)", uri)
	}
	switch scheme {
	case "minio", "s3", "gs":
	default:
		return Location{}, fmt.Errorf("artifact URI %q: unsupported scheme %q (expected minio, s3 or gs)", uri, scheme)
	}
	bucket, key, _ := strings.Cut(rest, "/")
	key = strings.Trim(key, "/")
	if bucket == "" {
		return Location{}, fmt.Errorf("artifact URI %q has no bucket", uri)
	}
	if !bucketName(bucket) {
		return Location{}, fmt.Errorf("artifact URI %q: %q is not a bucket name (letters, digits, '.', '_', '-')", uri, bucket)
	}
	clean := path.Clean("/" + key)
	if key != "" && clean != "/"+key {
		return Location{}, fmt.Errorf("artifact URI %q: key is not a clean path", uri)
	}
	return Location{Scheme: scheme, Bucket: bucket, Key: key}, nil
}

// bucketName accepts what S3, MinIO and GCS accept in a bucket name, loosely
// (length and case are the store's business), and refuses "." and "..":
// the bucket is a path element of LocalPath, so minio://../etc/passwd
// would otherwise download to /etc/passwd.
func bucketName(b string) bool {
	if strings.Trim(b, ".") == "" {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (l Location) String() string { return l.Scheme + "://" + l.Bucket + "/" + l.Key }

// LocalRoots are the directories LocalPath uses, one per scheme. Step pods
// mount an emptyDir on each, so an image running as any user can write its
// outputs there.
var LocalRoots = []string{"/minio", "/s3", "/gcs"}

// LocalPath is where KFP's convention puts the artifact inside a step:
// minio://b/k -> /minio/b/k, s3://b/k -> /s3/b/k, gs://b/k -> /gcs/b/k.
func (l Location) LocalPath() string {
	dir := "/" + l.Scheme
	if l.Scheme == "gs" {
		dir = "/gcs"
	}
	return path.Join(dir, l.Bucket, l.Key)
}

// Join appends path elements to the key.
func (l Location) Join(elem ...string) Location {
	l.Key = strings.TrimPrefix(path.Join(append([]string{l.Key}, elem...)...), "/")
	return l
}
