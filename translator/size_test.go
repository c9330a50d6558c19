package translator

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kfpargo/kfpargo/ir"
)

// TestSizeAgainstKFP compiles each IR spec that KFP's own Argo compiler has
// a golden Workflow for and reports our YAML size beside KFP's. KFP's files
// are not part of this repository: docs/benchmarks.md says how to extract
// them from a KFP checkout and point the two variables at them.
// Both sides are YAML from the same kind of encoder (KFP's goldens come out
// byte for byte the same when re-emitted through ours), so the sizes compare
// content, not formatting.
func TestSizeAgainstKFP(t *testing.T) {
	goldenDir, irDir := os.Getenv("KFP_ARGO_GOLDEN_DIR"), os.Getenv("KFP_IR_DIR")
	if goldenDir == "" || irDir == "" {
		t.Skip("KFP_ARGO_GOLDEN_DIR (KFP's test_data/compiled-workflows) and KFP_IR_DIR (the specs they were compiled from) are not set; see docs/benchmarks.md")
	}
	goldens, err := filepath.Glob(filepath.Join(goldenDir, "*.yaml"))
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no *.yaml under KFP_ARGO_GOLDEN_DIR=%s (%v)", goldenDir, err)
	}
	sort.Strings(goldens)
	var rows []sizeRow
	var skipped []string
	for _, golden := range goldens {
		stem := strings.TrimSuffix(filepath.Base(golden), ".yaml")
		row, err := compareSize(golden, irSpecPath(irDir, stem))
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %s", stem, firstLine(err)))
			continue
		}
		row.name = stem
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		t.Fatalf("no spec compiled; skipped:\n%s", strings.Join(skipped, "\n"))
	}
	t.Logf("\n%s", sizeTable(rows))
	t.Logf("%d specs compared, %d skipped:\n%s", len(rows), len(skipped), strings.Join(skipped, "\n"))
	// The target is half of KFP's size; the guard is that no spec ever
	// comes out larger than KFP's, since KFP's size is mostly its own
	// per-task driver machinery that kfpargo does not have.
	half := 0
	for _, r := range rows {
		if r.ours >= r.theirs {
			t.Errorf("%s: %d bytes, not smaller than KFP's %d", r.name, r.ours, r.theirs)
		}
		if 2*r.ours <= r.theirs {
			half++
		}
	}
	t.Logf("at most half of KFP's size: %d of %d specs", half, len(rows))
}

type sizeRow struct {
	name         string
	ours, theirs int
}

// irSpecPath finds the IR spec a golden was compiled from: KFP pairs them
// by file name stem, preferring YAML where both forms exist.
func irSpecPath(dir, stem string) string {
	for _, ext := range []string{".yaml", ".yml", ".json"} {
		if p := filepath.Join(dir, stem+ext); fileExists(p) {
			return p
		}
	}
	return filepath.Join(dir, stem+".yaml")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func compareSize(golden, spec string) (sizeRow, error) {
	data, err := os.ReadFile(spec)
	if err != nil {
		return sizeRow{}, fmt.Errorf("no IR spec: %w", err)
	}
	p, err := ir.Parse(spec, data)
	if err != nil {
		return sizeRow{}, fmt.Errorf("parse: %w", err)
	}
	wf, err := Translate(p, Options{Params: requiredParams(p)})
	if err != nil {
		return sizeRow{}, fmt.Errorf("translate: %w", err)
	}
	ours, err := MarshalYAML(wf)
	if err != nil {
		return sizeRow{}, err
	}
	theirs, err := os.ReadFile(golden)
	if err != nil {
		return sizeRow{}, err
	}
	return sizeRow{ours: len(ours), theirs: len(theirs)}, nil
}

// sizeTable is a Markdown table, ready for docs/benchmarks.md.
func sizeTable(rows []sizeRow) string {
	var b strings.Builder
	b.WriteString("| spec | kfpargo bytes | KFP bytes | kfpargo / KFP |\n")
	b.WriteString("|---|---:|---:|---:|\n")
	var ours, theirs int
	ratios := make([]float64, 0, len(rows))
	for _, r := range rows {
		ratio := float64(r.ours) / float64(r.theirs)
		ratios = append(ratios, ratio)
		ours, theirs = ours+r.ours, theirs+r.theirs
		fmt.Fprintf(&b, "| %s | %d | %d | %.2f |\n", r.name, r.ours, r.theirs, ratio)
	}
	sort.Float64s(ratios)
	fmt.Fprintf(&b, "| **total (%d specs)** | %d | %d | %.2f |\n", len(rows), ours, theirs, float64(ours)/float64(theirs))
	fmt.Fprintf(&b, "\nratio per spec: min %.2f, median %.2f, max %.2f\n", ratios[0], ratios[len(ratios)/2], ratios[len(ratios)-1])
	return b.String()
}
