package report

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium finds Debian's chromium; without it the browser test is skipped,
// unless KFPARGO_REQUIRE_SERVERS=1 (make test, CI) makes that a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("KFPARGO_REQUIRE_SERVERS") == "1" {
		t.Fatal("chromium is not installed (apt-get install -y chromium) and KFPARGO_REQUIRE_SERVERS=1")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium); skipping the browser test")
	return ""
}

// runChromium runs a headless browser on a local page; the flags keep it
// from reaching the network or keeping state.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// TestInBrowser opens the page of the second MNIST run in Chromium and
// checks what it shows: the DOM the browser built, and a screenshot in
// which the cached steps' colour must appear. KFPARGO_REPORT_SCREENSHOT=FILE
// keeps the screenshot for a person to look at.
func TestInBrowser(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, []byte(render(t, loadRun(t, "mnist-run2-cached"))), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page

	dom := string(runChromium(t, bin, "--dump-dom", url))
	for _, want := range []string{
		// the steps, in the graph and in the details
		`data-step="load-data"`, `data-step="preprocessing"`, `data-step="train"`, `data-step="evaluate"`,
		`<section class="step cached" id="step-0" data-step="load-data"`,
		// metric values and the classification charts
		`<td class="num metric-value">99.6</td>`, `<td class="num metric-value">0.0478</td>`,
		`class="cm confusion-matrix"`, `<polyline class="roc-line"`,
		`<span id="cached-count">2</span>`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the browser's DOM lacks %q", want)
		}
	}
	for marker, n := range map[string]int{`<g class="node cached"`: 2, `class="cached-badge"`: 2, `<g class="node"`: 2} {
		if got := strings.Count(dom, marker); got != n {
			t.Errorf("the browser's DOM has %d %q, want %d", got, marker, n)
		}
	}

	shot := filepath.Join(dir, "report.png")
	if keep := os.Getenv("KFPARGO_REPORT_SCREENSHOT"); keep != "" {
		shot = keep
	}
	runChromium(t, bin, "--screenshot="+shot, "--window-size=1400,2000", "--hide-scrollbars", url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	if b := img.Bounds(); b.Dx() != 1400 || b.Dy() != 2000 {
		t.Errorf("screenshot is %v, want 1400x2000", b)
	}
	// The cached badge's purple (#8430ce) and the succeeded border's green
	// (#1e8e3e) are both painted: the graph was drawn, cached steps marked.
	for name, c := range map[string]color.RGBA{"cached purple": {0x84, 0x30, 0xce, 255}, "succeeded green": {0x1e, 0x8e, 0x3e, 255}} {
		if n := countColour(img, c); n < 200 {
			t.Errorf("the screenshot has %d pixels of the %s, want the graph to show it", n, name)
		}
	}
	t.Logf("screenshot: %s", shot)
}

func countColour(img image.Image, want color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r, want.R) && near(g, want.G) && near(bl, want.B) {
				n++
			}
		}
	}
	return n
}

func near(v uint32, c uint8) bool {
	d := int(v>>8) - int(c)
	return d >= -6 && d <= 6
}
