package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// docBlock is one ```sh block of a Markdown document: the commands a
// reader types, in the section (## heading) they appear in.
type docBlock struct {
	Section string
	Line    int // of the opening fence
	Script  string
}

// shellBlocks lists the ```sh blocks of a Markdown document in order.
// Other fences (shell for alternatives and commands that need a real
// cluster, console, text, yaml, ...) are not run.
func shellBlocks(md []byte) ([]docBlock, error) {
	var out []docBlock
	var cur *docBlock
	var body strings.Builder
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			if lang := strings.TrimSpace(strings.TrimPrefix(trimmed, "```")); lang == "sh" {
				cur = &docBlock{Section: section, Line: n}
				body.Reset()
			} else {
				// Skip an illustration up to its closing fence.
				for n++; sc.Scan(); n++ {
					if strings.HasPrefix(strings.TrimSpace(sc.Text()), "```") {
						break
					}
				}
			}
		case cur != nil && strings.HasPrefix(trimmed, "```"):
			cur.Script = body.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line + "\n")
		case strings.HasPrefix(line, "## "):
			section = strings.TrimSpace(strings.TrimPrefix(line, "## "))
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: ```sh block is not closed", cur.Line)
	}
	return out, sc.Err()
}

// runDocBlocks runs blocks with bash (errexit, pipefail) in dir with env,
// one shell per block as a reader pastes them, stopping at the first that
// fails.
func runDocBlocks(ctx context.Context, doc string, blocks []docBlock, dir string, env []string, log io.Writer) error {
	for _, b := range blocks {
		fmt.Fprintf(log, "--- %s:%d (%s)\n%s", doc, b.Line, b.Section, b.Script)
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", b.Script)
		cmd.Dir, cmd.Env = dir, env
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s:%d (section %q): %w", doc, b.Line, b.Section, err)
		}
	}
	return nil
}

func TestShellBlocks(t *testing.T) {
	md := "# T\n\n## Install\n\n```sh\nkfpargo install --overlay dev\n```\n\n```shell\nkubectl apply -k elsewhere\n```\n\n## Verify\n\n```sh\na\nb\n```\n\n```yaml\nkey: ```\n```\n"
	got, err := shellBlocks([]byte(md))
	if err != nil {
		t.Fatal(err)
	}
	want := []docBlock{
		{Section: "Install", Line: 5, Script: "kfpargo install --overlay dev\n"},
		{Section: "Verify", Line: 15, Script: "a\nb\n"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("shellBlocks = %+v\nwant %+v", got, want)
	}
	if _, err := shellBlocks([]byte("```sh\nopen\n")); err == nil {
		t.Error("an unclosed block is not an error")
	}
	var log bytes.Buffer
	err = runDocBlocks(context.Background(), "doc.md", []docBlock{{Section: "S", Line: 3, Script: "true\nfalse\necho never\n"}}, os.TempDir(), os.Environ(), &log)
	if err == nil || !strings.Contains(err.Error(), `doc.md:3 (section "S")`) || strings.Count(log.String(), "never") != 1 {
		t.Errorf("a failing block: err %v, log %q", err, log.String())
	}
}
