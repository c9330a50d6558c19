package artifact

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/minio/minio-go/v7"
)

// ErrChanged is wrapped by Check when content is gone or differs.
var ErrChanged = errors.New("content missing or changed")

// Check tells, from metadata only, whether the content a descriptor made by
// a launcher describes is still stored as it was: a cache hit must not
// point at deleted or replaced artifacts (design.md §6). A file must exist
// with the stored SHA-256 equal to the descriptor's; a directory must hold
// files whose stored digests give the descriptor's digest, or, where the
// store lists no metadata (MinIO does list it), the same total size.
func (s *Store) Check(ctx context.Context, d *Descriptor) error {
	loc, err := ParseURI(d.URI)
	if err != nil {
		return err
	}
	if !d.Dir {
		st, err := s.client.StatObject(ctx, loc.Bucket, loc.Key, minio.StatObjectOptions{})
		if err != nil {
			if minio.ToErrorResponse(err).Code == "NoSuchKey" {
				return fmt.Errorf("%s: %w: no such object", d.URI, ErrChanged)
			}
			return fmt.Errorf("check %s: %w", d.URI, err)
		}
		if got := st.UserMetadata[MetaSHA256]; got != d.SHA256 || st.Size != d.Size {
			return fmt.Errorf("%s: %w: stored digest %q and size %d, descriptor %s and %d", d.URI, ErrChanged, got, st.Size, d.SHA256, d.Size)
		}
		return nil
	}
	prefix := loc.Key + "/"
	var files, digests []string
	var total int64
	with := 0 // files that carry a stored digest
	for obj := range s.client.ListObjects(ctx, loc.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithMetadata: true}) {
		if obj.Err != nil {
			return fmt.Errorf("check %s: list: %w", d.URI, obj.Err)
		}
		sum := obj.UserMetadata["X-Amz-Meta-"+MetaSHA256]
		if sum == "" {
			sum = obj.UserMetadata[MetaSHA256]
		}
		if sum != "" {
			with++
		}
		files = append(files, strings.TrimPrefix(obj.Key, prefix))
		digests = append(digests, sum)
		total += obj.Size
	}
	if total != d.Size || (len(files) == 0 && d.Size != 0) {
		return fmt.Errorf("%s: %w: %d bytes in %d files, descriptor %d bytes", d.URI, ErrChanged, total, len(files), d.Size)
	}
	switch with {
	case 0:
		// The store does not list metadata; the sizes must do.
		return nil
	case len(files):
	default:
		return fmt.Errorf("%s: %w: %d of %d files were not written by a launcher", d.URI, ErrChanged, len(files)-with, len(files))
	}
	if got := listedDirDigest(files, digests); got != d.SHA256 {
		return fmt.Errorf("%s: %w: stored digests give %s, descriptor %s", d.URI, ErrChanged, got, d.SHA256)
	}
	return nil
}
