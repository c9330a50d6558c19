package launcher

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/bench/benchutil"
	"github.com/kfpargo/kfpargo/test/servers"
)

// transfer is one way of moving the file; the store and plain minio-go take
// turns at each.
type transfer struct {
	name string
	run  func(ctx context.Context, round int) error
	wall []time.Duration
	cpu  []time.Duration
}

// cpuTime is this process's user+system time: the client's cost of a
// transfer (hashing, signing, copying), as opposed to the server's.
func cpuTime(t *testing.T) time.Duration {
	u, s := cpuSplit(t)
	return u + s
}

// cpuSplit is this process's user and system time.
func cpuSplit(t *testing.T) (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// TestTransfer1GiB uploads and downloads a 1 GiB file through artifact.Store
// and through plain minio-go FPutObject/FGetObject against the same MinIO,
// alternating which goes first in each round.
func TestTransfer1GiB(t *testing.T) {
	benchutil.Require(t)
	const size = 1 << 30
	// Even, so that each side goes first equally often.
	rounds := benchutil.EnvInt(t, "KFPARGO_BENCH_ROUNDS", 6)
	const bucket = "bench"
	m := servers.StartMinio(t, bucket)
	store, err := artifact.NewStore(artifact.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	sha256Store, err := artifact.NewStore(artifact.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true, Verify: artifact.VerifySHA256})
	if err != nil {
		t.Fatal(err)
	}
	plain := m.Client
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeRandomFile(t, src, size)
	ctx := context.Background()

	key := func(who string, round int) string { return fmt.Sprintf("%s/%d", who, round) }
	descs := map[int]*artifact.Descriptor{}
	dst := filepath.Join(dir, "dst")
	ups := [2]*transfer{
		{name: "artifact.Store", run: func(ctx context.Context, round int) error {
			d, err := store.Upload(ctx, src, artifact.Location{Scheme: "minio", Bucket: bucket, Key: key("store", round)})
			descs[round] = d
			return err
		}},
		{name: "minio-go", run: func(ctx context.Context, round int) error {
			_, err := plain.FPutObject(ctx, bucket, key("plain", round), src, minio.PutObjectOptions{ContentType: "application/octet-stream"})
			return err
		}},
	}
	downs := [2]*transfer{
		{name: "artifact.Store", run: func(ctx context.Context, round int) error {
			_, err := store.Download(ctx, descs[round], dst)
			return err
		}},
		// The same object as the store's download: which of the two
		// uploads an object came from changed its download speed by up to
		// 2× from run to run (MinIO's and the kernel's caches), and that is
		// not what this compares.
		{name: "minio-go", run: func(ctx context.Context, round int) error {
			return plain.FGetObject(ctx, bucket, key("store", round), dst, minio.GetObjectOptions{})
		}},
	}
	// The other verification mode, hashing every byte (the default checks
	// the stored digest and a CRC-32C): what full verification costs.
	hashedDown := &transfer{name: "artifact.Store, VERIFY=sha256", run: func(ctx context.Context, round int) error {
		_, err := sha256Store.Download(ctx, descs[round], dst)
		return err
	}}
	measure := func(tr *transfer, round int) {
		t.Helper()
		_ = os.Remove(dst)
		// Flush what earlier transfers left dirty in the page cache, or the
		// next one to write pays for its writeback: without this, whichever
		// download ran first after the uploads was up to 3× slower.
		syscall.Sync()
		u0, s0 := cpuSplit(t)
		w0 := time.Now()
		if err := tr.run(ctx, round); err != nil {
			t.Fatalf("%s round %d: %v", tr.name, round, err)
		}
		wall := time.Since(w0)
		u1, s1 := cpuSplit(t)
		cpu := u1 - u0 + s1 - s0
		tr.wall, tr.cpu = append(tr.wall, wall), append(tr.cpu, cpu)
		t.Logf("round %d %s: %.0f MiB/s, client CPU %.2fs (user %.2fs, system %.2fs)", round, tr.name, mibps(size, wall), cpu.Seconds(), (u1 - u0).Seconds(), (s1 - s0).Seconds())
	}
	for round := range rounds {
		first, second := round%2, 1-round%2
		measure(ups[first], round)
		measure(ups[second], round)
		// An unmeasured download first: whichever download came right
		// after the uploads was up to 2× slower and used twice the CPU
		// (the server and the kernel are still busy with the uploads),
		// and that would charge the side that happens to go first.
		_ = os.Remove(dst)
		if err := plain.FGetObject(ctx, bucket, key("store", round), dst, minio.GetObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		measure(downs[first], round)
		measure(downs[second], round)
		measure(hashedDown, round)
		_ = os.Remove(dst)
		for _, k := range []string{key("store", round), key("plain", round)} {
			if err := plain.RemoveObject(ctx, bucket, k, minio.RemoveObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, ok := descs[0]; !ok || got.Size != size {
		t.Fatalf("store upload descriptor %+v", got)
	}

	rows := []benchutil.Row{}
	for _, pair := range []struct {
		what string
		tr   [2]*transfer
	}{{"upload 1 GiB", ups}, {"download 1 GiB", downs}} {
		s, p := median(pair.tr[0].wall), median(pair.tr[1].wall)
		ratio := p.Seconds() / s.Seconds()
		rows = append(rows, benchutil.Row{
			Measure:  pair.what + " (median of " + fmt.Sprint(rounds) + ", MiB/s)",
			Value:    fmt.Sprintf("%.0f", mibps(size, s)),
			Baseline: fmt.Sprintf("%.0f (minio-go)", mibps(size, p)),
			Ratio:    fmt.Sprintf("%.2f×", ratio),
			Target:   "≥ 0.9×",
			Met:      benchutil.Verdict(ratio >= 0.9),
		}, benchutil.Row{
			Measure:  pair.what + ": client CPU (median, s)",
			Value:    fmt.Sprintf("%.2f", median(pair.tr[0].cpu).Seconds()),
			Baseline: fmt.Sprintf("%.2f (minio-go)", median(pair.tr[1].cpu).Seconds()),
			Ratio:    fmt.Sprintf("%.2f×", median(pair.tr[0].cpu).Seconds()/median(pair.tr[1].cpu).Seconds()),
			Target:   "–",
			Met:      "–",
		})
	}
	rows = append(rows, benchutil.Row{
		Measure:  "download 1 GiB with VERIFY=sha256 (every byte hashed; median, MiB/s)",
		Value:    fmt.Sprintf("%.0f", mibps(size, median(hashedDown.wall))),
		Baseline: fmt.Sprintf("%.0f (minio-go)", mibps(size, median(downs[1].wall))),
		Ratio:    fmt.Sprintf("%.2f×", median(downs[1].wall).Seconds()/median(hashedDown.wall).Seconds()),
		Target:   "–",
		Met:      "–",
	})
	benchutil.Report(t, rows...)
}
