package artifact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"
)

// Identity names the content a descriptor points at, for a cache key,
// without downloading it. Content with a digest is named by it. Imported
// content has none, and both the cache webhook (in its admission budget)
// and the launcher (before a download that may take minutes) need the same
// name for it: the URI with the object's ETag and size, or for a prefix a
// digest over every object's relative key, ETag and size. A re-uploaded
// object gets a new ETag, so changed data gets a new name.
func (s *Store) Identity(ctx context.Context, d *Descriptor) (string, error) {
	if d.SHA256 != "" {
		return "sha256:" + d.SHA256, nil
	}
	loc, err := ParseURI(d.URI)
	if err != nil {
		return "", err
	}
	if !d.Dir {
		st, err := s.client.StatObject(ctx, loc.Bucket, loc.Key, minio.StatObjectOptions{})
		if err == nil {
			return fmt.Sprintf("etag:%s@%s:%d", d.URI, st.ETag, st.Size), nil
		}
		if minio.ToErrorResponse(err).Code != "NoSuchKey" {
			return "", fmt.Errorf("identify %s: %w", d.URI, err)
		}
	}
	prefix := loc.Key + "/"
	var lines []string
	for obj := range s.client.ListObjects(ctx, loc.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return "", fmt.Errorf("identify %s: list: %w", d.URI, obj.Err)
		}
		lines = append(lines, fmt.Sprintf("%s %s %d\n", strings.TrimPrefix(obj.Key, prefix), obj.ETag, obj.Size))
	}
	if len(lines) == 0 {
		return "", fmt.Errorf("identify %s: no object and no prefix of that name exists", d.URI)
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
	}
	return fmt.Sprintf("etags:%s@%s", d.URI, hex.EncodeToString(h.Sum(nil))), nil
}
