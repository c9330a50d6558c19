package artifact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kfpargo/kfpargo/tlsclient"
)

// Config reaches an S3-compatible store.
type Config struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	Insecure  bool // plain HTTP
	// CAPEM holds CA certificates (PEM) trusted for HTTPS besides the
	// system's: for a store with a certificate from a private CA.
	CAPEM  []byte
	Region string
	// Verify says how downloads of content with a known digest are checked;
	// empty means VerifyChecksum.
	Verify Verify
	// CreateBucket creates a missing bucket on the first upload to it
	// (like Argo's createBucketIfNotPresent): for a fresh development
	// object store. Off, a missing bucket is an error.
	CreateBucket bool
}

// Verify is a download verification mode.
type Verify string

const (
	// VerifyChecksum trusts the SHA-256 that the uploading launcher stored
	// with the object once it equals the descriptor's, and checks the bytes
	// that arrive against the CRC-32C stored beside it: corruption and a
	// replaced object are caught at a fifteenth of SHA-256's CPU cost. It
	// does not stop someone who can write to the bucket and forges both
	// values; VerifySHA256 does.
	VerifyChecksum Verify = "checksum"
	// VerifySHA256 hashes every downloaded byte with SHA-256.
	VerifySHA256 Verify = "sha256"
)

// ParseVerify reads a mode name; the empty string is the default.
func ParseVerify(v string) (Verify, error) {
	switch Verify(v) {
	case "", VerifyChecksum:
		return VerifyChecksum, nil
	case VerifySHA256:
		return VerifySHA256, nil
	}
	return "", fmt.Errorf("unknown verification mode %q (want %s or %s)", v, VerifyChecksum, VerifySHA256)
}

// Store moves artifacts to and from one object store.
type Store struct {
	client       *minio.Client
	retry        retryPolicy
	verify       Verify
	createBucket bool
	// Warn, when set, hears about transfers that are being retried.
	Warn func(msg string)
}

func (s *Store) log(msg string) {
	if s.Warn != nil {
		s.Warn(msg)
	}
}

// NewStore builds a client; it makes no request.
func NewStore(cfg Config) (*Store, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("object store endpoint is not set")
	}
	opts := &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: !cfg.Insecure,
		Region: cfg.Region,
	}
	if len(cfg.CAPEM) > 0 {
		if cfg.Insecure {
			return nil, fmt.Errorf("object store %s: a CA is given but plain HTTP is configured (insecure): use one or the other", cfg.Endpoint)
		}
		tlsCfg, err := tlsclient.Config(cfg.CAPEM, "")
		if err != nil {
			return nil, fmt.Errorf("object store %s: %w", cfg.Endpoint, err)
		}
		// minio-go's own transport (its timeouts and connection pool),
		// only trusting more.
		tr, err := minio.DefaultTransport(true)
		if err != nil {
			return nil, fmt.Errorf("object store client for %s: %w", cfg.Endpoint, err)
		}
		tr.TLSClientConfig = tlsCfg
		opts.Transport = tr
	}
	c, err := minio.New(cfg.Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("object store client for %s: %w", cfg.Endpoint, err)
	}
	verify, err := ParseVerify(string(cfg.Verify))
	if err != nil {
		return nil, err
	}
	return &Store{client: c, retry: defaultRetry, verify: verify, createBucket: cfg.CreateBucket}, nil
}

// Client exposes the underlying client for tests and tools.
func (s *Store) Client() *minio.Client { return s.client }

// Upload stores the file or directory at local under loc and returns its
// size and SHA-256, computed while streaming. A directory becomes one object
// per file under the key as a prefix; its digest covers every file's relative
// path and digest.
func (s *Store) Upload(ctx context.Context, local string, loc Location) (*Descriptor, error) {
	d, err := s.upload(ctx, local, loc)
	return d, s.located(err)
}

// located adds the store's URL to a failed transfer's error: which
// endpoint was tried, and over HTTP or HTTPS, is what a network or TLS
// mistake needs to be found; the credentials are never part of it.
func (s *Store) located(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w (object store %s)", err, s.client.EndpointURL())
}

func (s *Store) upload(ctx context.Context, local string, loc Location) (*Descriptor, error) {
	fi, err := os.Stat(local)
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", local, err)
	}
	if !fi.IsDir() {
		sum, n, err := s.putFile(ctx, local, loc.Bucket, loc.Key)
		if err != nil {
			return nil, err
		}
		return &Descriptor{URI: loc.String(), SHA256: sum, Size: n}, nil
	}
	files, err := listFiles(local)
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", local, err)
	}
	var total int64
	digests := make([]string, len(files))
	for i, rel := range files {
		sum, n, err := s.putFile(ctx, filepath.Join(local, rel), loc.Bucket, loc.Key+"/"+filepath.ToSlash(rel))
		if err != nil {
			return nil, err
		}
		digests[i] = sum
		total += n
	}
	return &Descriptor{URI: loc.String(), SHA256: dirDigest(files, digests), Size: total, Dir: true}, nil
}

// MetaSHA256 is the user metadata key under which every uploaded object
// carries its SHA-256 (hex), so a reader can check content with a HEAD
// request (S3 returns it as X-Amz-Meta-Kfpargo-Sha256).
const MetaSHA256 = "Kfpargo-Sha256"

// MetaCRC32C is the user metadata key of the object's CRC-32C (Castagnoli,
// 8 hex digits), which downloads check in VerifyChecksum mode.
const MetaCRC32C = "Kfpargo-Crc32c"

// putFile uploads one file. Its SHA-256 is computed first, in a pass of its
// own, so that it rides in the upload's metadata; the file itself (seekable,
// ReaderAt) is then handed to minio-go, so large files go up as parallel
// multipart uploads and every request can be retried after a transient
// error.
//
// Hashing while uploading and attaching the digest afterwards by copying
// the object onto itself was measured slower: MinIO rewrites all the data
// on such a copy unless the object carries a full-object checksum, which
// minio-go sends only as a trailer, and a part sent with a trailer is not
// retried. See docs/benchmarks.md, "Launcher".
func (s *Store) putFile(ctx context.Context, local, bucket, key string) (string, int64, error) {
	f, err := os.Open(local)
	if err != nil {
		return "", 0, fmt.Errorf("upload %s: %w", local, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", 0, fmt.Errorf("upload %s: %w", local, err)
	}
	size := fi.Size()
	sum, crc, err := digestOf(f)
	if err != nil {
		return "", 0, fmt.Errorf("upload %s: %w", local, err)
	}
	opts := minio.PutObjectOptions{
		ContentType:  "application/octet-stream",
		UserMetadata: map[string]string{MetaSHA256: sum, MetaCRC32C: crc},
		// Over plain HTTP minio-go would otherwise sign every chunk of the
		// body with a SHA-256 of its own, a second full hashing pass that
		// costs as much CPU as the digest above (over HTTPS it never does).
		// The content is covered anyway: the digest travels in a signed
		// header and every download checks the bytes against it.
		DisableContentSha256: true,
	}
	dst := fmt.Sprintf("s3://%s/%s", bucket, key)
	// minio-go retries each request for about ten seconds at most; an
	// object store that restarts (a pod rescheduled, a rolling update)
	// is often away longer. The whole upload is then started again, for a
	// bounded time. An interrupted upload is never visible under the key:
	// a single PUT and the completion of a multipart upload are atomic.
	for attempt := 1; ; attempt++ {
		err = s.putOnce(ctx, f, bucket, key, size, opts)
		if err == nil {
			return sum, size, nil
		}
		if !transient(err) || attempt >= s.retry.attempts || ctx.Err() != nil {
			return "", 0, fmt.Errorf("upload %s to %s: %w", local, dst, err)
		}
		s.log(fmt.Sprintf("upload %s to %s: attempt %d failed, starting again: %v", local, dst, attempt, err))
		if err := sleep(ctx, s.retry.backoff(attempt)); err != nil {
			return "", 0, fmt.Errorf("upload %s to %s: %w", local, dst, err)
		}
	}
}

// putOnce uploads f from its start, creating a missing bucket if allowed.
func (s *Store) putOnce(ctx context.Context, f *os.File, bucket, key string, size int64, opts minio.PutObjectOptions) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, bucket, key, f, size, opts)
	if err != nil && s.createBucket && minio.ToErrorResponse(err).Code == "NoSuchBucket" {
		if err = s.makeBucket(ctx, bucket); err == nil {
			if _, err = f.Seek(0, io.SeekStart); err == nil {
				_, err = s.client.PutObject(ctx, bucket, key, f, size, opts)
			}
		}
	}
	return err
}

// makeBucket creates bucket; one that another step created meanwhile is
// fine.
func (s *Store) makeBucket(ctx context.Context, bucket string) error {
	err := s.client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
	switch minio.ToErrorResponse(err).Code {
	case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
		return nil
	}
	if err != nil {
		return fmt.Errorf("create missing bucket %s: %w", bucket, err)
	}
	return nil
}

// digestOf reads r to the end and returns its SHA-256 and CRC-32C in hex.
func digestOf(r io.Reader) (string, string, error) {
	h, c := sha256.New(), newCRC32C()
	if _, err := io.CopyBuffer(io.MultiWriter(h, c), r, make([]byte, hashBatchSize)); err != nil {
		return "", "", err
	}
	return hex.EncodeToString(h.Sum(nil)), hex.EncodeToString(c.Sum(nil)), nil
}

func newCRC32C() hash.Hash32 { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }

// Download fetches the artifact d describes to local (a file, or a directory
// for a directory artifact) and returns the descriptor of what arrived, with
// its size and SHA-256. Content made by a pipeline step carries a digest and
// is refused when it differs; imported content has none, and whether its URI
// names one object or a prefix is found out here.
func (s *Store) Download(ctx context.Context, d *Descriptor, local string) (*Descriptor, error) {
	got, err := s.download(ctx, d, local)
	return got, s.located(err)
}

func (s *Store) download(ctx context.Context, d *Descriptor, local string) (*Descriptor, error) {
	loc, err := ParseURI(d.URI)
	if err != nil {
		return nil, err
	}
	dir := d.Dir
	if !dir && d.SHA256 == "" {
		if dir, err = s.isPrefix(ctx, loc); err != nil {
			return nil, fmt.Errorf("download %s: %w", d.URI, err)
		}
	}
	got := *d
	got.Dir = dir
	if !dir {
		sum, n, err := s.getFile(ctx, loc.Bucket, loc.Key, local, d.SHA256, d.SHA256 != "")
		if err != nil {
			return nil, err
		}
		got.SHA256, got.Size = sum, n
		return &got, nil
	}
	if err := os.MkdirAll(local, 0o755); err != nil {
		return nil, fmt.Errorf("download %s: %w", d.URI, err)
	}
	prefix := loc.Key + "/"
	var files, digests []string
	var total int64
	for obj := range s.client.ListObjects(ctx, loc.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("download %s: list: %w", d.URI, obj.Err)
		}
		rel := strings.TrimPrefix(obj.Key, prefix)
		dst := filepath.Join(local, filepath.FromSlash(rel))
		if !strings.HasPrefix(dst, filepath.Clean(local)+string(filepath.Separator)) {
			return nil, fmt.Errorf("download %s: object %q escapes the target directory", d.URI, obj.Key)
		}
		// Each file's stored digest may be used: the directory digest
		// built from them is checked against the descriptor below.
		sum, n, err := s.getFile(ctx, loc.Bucket, obj.Key, dst, "", d.SHA256 != "")
		if err != nil {
			return nil, err
		}
		files = append(files, rel)
		digests = append(digests, sum)
		total += n
	}
	sum := listedDirDigest(files, digests)
	if d.SHA256 != "" && sum != d.SHA256 {
		return nil, fmt.Errorf("download %s: content digest %s does not match descriptor %s", d.URI, sum, d.SHA256)
	}
	got.SHA256, got.Size = sum, total
	return &got, nil
}

// isPrefix reports whether loc names a directory artifact: no object under
// the key itself but at least one under key + "/".
func (s *Store) isPrefix(ctx context.Context, loc Location) (bool, error) {
	_, err := s.client.StatObject(ctx, loc.Bucket, loc.Key, minio.StatObjectOptions{})
	if err == nil {
		return false, nil
	}
	if minio.ToErrorResponse(err).Code != "NoSuchKey" {
		return false, err
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for obj := range s.client.ListObjects(lctx, loc.Bucket, minio.ListObjectsOptions{Prefix: loc.Key + "/", Recursive: true, MaxKeys: 1}) {
		if obj.Err != nil {
			return false, obj.Err
		}
		return true, nil
	}
	return false, fmt.Errorf("no object and no prefix %s exists", loc)
}

// getFile downloads one object to local; with want set, content whose digest
// differs is refused before it reaches the final name. With useStored, the
// digest stored with the object may stand in for hashing the bytes (see
// VerifyChecksum). A transfer cut off by a transient error resumes where it
// stopped (a ranged GET pinned to the object's ETag, so a replaced object is
// not spliced in).
func (s *Store) getFile(ctx context.Context, bucket, key, local, want string, useStored bool) (string, int64, error) {
	src := fmt.Sprintf("s3://%s/%s", bucket, key)
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return "", 0, fmt.Errorf("download %s: %w", src, err)
	}
	// Write beside the target and rename, so a failed download never leaves
	// a partial file under the final name.
	tmp, err := os.CreateTemp(filepath.Dir(local), ".download-*")
	if err != nil {
		return "", 0, fmt.Errorf("download %s: %w", src, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	var (
		n     int64
		etag  string
		check *contentCheck // chosen once the first response's metadata is known
		buf   = make([]byte, copyBufferSize)
	)
	defer func() {
		if check != nil {
			check.close()
		}
	}()
	for attempt := 1; ; attempt++ {
		err := func() error {
			body, info, err := s.openRange(ctx, bucket, key, n, etag)
			if err != nil {
				return err
			}
			defer body.Close()
			if check == nil {
				etag = info.ETag
				check = s.newContentCheck(info.UserMetadata, want, useStored)
				preallocate(tmp, info.Size)
			}
			copied, err := io.CopyBuffer(io.MultiWriter(tmp, check), body, buf)
			n += copied
			return err
		}()
		if err == nil {
			break
		}
		if !transient(err) || attempt >= s.retry.attempts || ctx.Err() != nil {
			return "", 0, fmt.Errorf("download %s: %w", src, err)
		}
		s.log(fmt.Sprintf("download %s: attempt %d failed after %d bytes, resuming: %v", src, attempt, n, err))
		if err := sleep(ctx, s.retry.backoff(attempt)); err != nil {
			return "", 0, fmt.Errorf("download %s: %w", src, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("download %s: %w", src, err)
	}
	sum, err := check.result()
	if err != nil {
		return "", 0, fmt.Errorf("download %s: %w", src, err)
	}
	if want != "" && sum != want {
		return "", 0, fmt.Errorf("download %s: content digest %s does not match descriptor %s", src, sum, want)
	}
	if err := os.Rename(tmp.Name(), local); err != nil {
		return "", 0, fmt.Errorf("download %s: %w", src, err)
	}
	return sum, n, nil
}

// openRange starts a GET of the object from offset; after the first
// request (etag set) it insists on the same object.
func (s *Store) openRange(ctx context.Context, bucket, key string, offset int64, etag string) (io.ReadCloser, minio.ObjectInfo, error) {
	var opts minio.GetObjectOptions
	if etag != "" {
		if err := opts.SetMatchETag(etag); err != nil {
			return nil, minio.ObjectInfo{}, err
		}
		if err := opts.SetRange(offset, 0); err != nil {
			return nil, minio.ObjectInfo{}, err
		}
	}
	// The plain response body, not a *minio.Object: that one serves every
	// Read through a goroutine and channels, which costs CPU per call.
	body, info, _, err := minio.Core{Client: s.client}.GetObject(ctx, bucket, key, opts)
	return body, info, err
}

// copyBufferSize is the size of a download's writes to the file. Not larger:
// with 1 MiB writes, the kernel (6.18, ext4) fills large page-cache folios,
// and in the benchmark VM that made the download's system time 2-4× higher
// than with io.Copy's 32 KiB (see docs/benchmarks.md, "Launcher").
const copyBufferSize = 32 << 10

// transient reports whether an error may go away on retry: the network, a
// server error or throttling, but not a missing object, refused
// credentials, a changed object or a certificate that is not trusted.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || tlsclient.IsVerification(err) {
		return false
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.StatusCode != 0 {
		return resp.StatusCode >= 500 || resp.StatusCode == 429 || resp.Code == "SlowDown"
	}
	return true
}

// retryPolicy bounds resumed downloads and restarted uploads, on top of
// minio-go's own retries of each request.
type retryPolicy struct {
	attempts int
	first    time.Duration
	max      time.Duration
}

func (p retryPolicy) backoff(attempt int) time.Duration {
	d := p.first << (attempt - 1)
	if d > p.max || d <= 0 {
		d = p.max
	}
	return d
}

var defaultRetry = retryPolicy{attempts: 10, first: 250 * time.Millisecond, max: 5 * time.Second}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// listFiles returns the regular files under dir, relative and sorted.
// Symlinks are refused: following them could publish files from outside the
// output directory.
func listFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symbolic link; artifacts may hold only regular files and directories", p)
		}
		if e.Type().IsRegular() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			files = append(files, rel)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// listedDirDigest is dirDigest of files and their digests in the order a
// listing gave them.
func listedDirDigest(files, digests []string) string {
	order := make([]int, len(files))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return files[order[a]] < files[order[b]] })
	sf, sd := make([]string, len(files)), make([]string, len(files))
	for i, o := range order {
		sf[i], sd[i] = files[o], digests[o]
	}
	return dirDigest(sf, sd)
}

// dirDigest is the SHA-256 over "digest  path\n" lines of a directory's
// files in path order, like the output of sha256sum over a sorted tree.
func dirDigest(files, digests []string) string {
	h := sha256.New()
	for i, f := range files {
		fmt.Fprintf(h, "%s  %s\n", digests[i], filepath.ToSlash(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}
