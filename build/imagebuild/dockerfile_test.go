package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case
	args string
	line int
}

// stage is the instructions from one FROM to the next.
type stage struct {
	from, name string
	instrs     []instruction
}

// parseDockerfile splits a Dockerfile into stages. It knows only what the
// files under images/ use: comments, backslash continuations, FROM ... AS.
func parseDockerfile(text string) ([]stage, error) {
	var stages []stage
	var cur strings.Builder
	start := 0
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		// Docker skips blank and comment lines inside a continuation too.
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if cont, ok := strings.CutSuffix(t, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(t)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.Join(strings.Fields(args), " "), line: start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			if len(f) > 0 && strings.HasPrefix(f[0], "--platform=") {
				f = f[1:]
			}
			st := stage{}
			switch {
			case len(f) == 1:
				st.from = f[0]
			case len(f) == 3 && strings.EqualFold(f[1], "AS"):
				st.from, st.name = f[0], f[2]
			default:
				return nil, fmt.Errorf("line %d: FROM %s: want IMAGE [AS NAME]", start, in.args)
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				return nil, fmt.Errorf("line %d: %s before the first FROM", start, in.cmd)
			}
			continue
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("line %d: continuation at the end of the file", start)
	}
	return stages, nil
}

// dockerCopy is a COPY of the final stage as the test compares it.
type dockerCopy struct {
	from string // stage, "" for the build context
	src  string
	mode int64
}

// finalStage is what the final stage of a Dockerfile says about the image.
type finalStage struct {
	from       string
	copies     map[string]dockerCopy // by destination
	env        []string
	user       string
	entrypoint []string
	labels     map[string]string
}

func readFinalStage(stages []stage) (*finalStage, error) {
	last := stages[len(stages)-1]
	fs := &finalStage{from: last.from, copies: map[string]dockerCopy{}, labels: map[string]string{}}
	for _, in := range last.instrs {
		switch in.cmd {
		case "ARG":
		case "COPY":
			f := strings.Fields(in.args)
			var c dockerCopy
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				k, v, _ := strings.Cut(f[0], "=")
				switch k {
				case "--from":
					c.from = v
				case "--chmod":
					m, err := strconv.ParseInt(v, 8, 64)
					if err != nil {
						return nil, fmt.Errorf("line %d: --chmod=%s: %v", in.line, v, err)
					}
					c.mode = m
				default:
					return nil, fmt.Errorf("line %d: COPY flag %s is not compared with images.go; teach the test", in.line, k)
				}
				f = f[1:]
			}
			if len(f) != 2 {
				return nil, fmt.Errorf("line %d: COPY %s: want one source and a destination", in.line, in.args)
			}
			c.src = f[0]
			fs.copies[f[1]] = c
		case "ENV":
			if !strings.Contains(in.args, "=") {
				return nil, fmt.Errorf("line %d: ENV without KEY=VALUE", in.line)
			}
			fs.env = append(fs.env, strings.Fields(in.args)...)
		case "USER":
			fs.user = in.args
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.args), &fs.entrypoint); err != nil {
				return nil, fmt.Errorf("line %d: ENTRYPOINT is not the exec (JSON) form: %v", in.line, err)
			}
		case "LABEL":
			for _, kv := range strings.Fields(in.args) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("line %d: LABEL %s: want KEY=VALUE", in.line, kv)
				}
				fs.labels[k] = strings.Trim(v, `"`)
			}
		default:
			return nil, fmt.Errorf("line %d: %s in the final stage is not compared with images.go; teach the test", in.line, in.cmd)
		}
	}
	return fs, nil
}

// TestDockerfilesMatch keeps images/NAME/Dockerfile and specs() in step:
// same files at the same paths and modes, entrypoint, user, PATH, labels,
// and a build the Makefile's way.
func TestDockerfilesMatch(t *testing.T) {
	o := &options{version: "v", revision: "r", source: "s", caCerts: caCertsPath}
	for _, s := range specs() {
		t.Run(s.name, func(t *testing.T) {
			file := filepath.Join("..", "..", "images", s.name, "Dockerfile")
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			stages, err := parseDockerfile(string(b))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if len(stages) != 2 || stages[0].name != "build" || !strings.HasPrefix(stages[0].from, "golang:") {
				t.Fatalf("%s: want a golang stage named build and a final stage, got %+v", file, stages)
			}
			final, err := readFinalStage(stages)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if final.from != "scratch" {
				t.Errorf("final stage FROM %s, want scratch (the Go builder has no base image)", final.from)
			}

			// The build stage builds the spec's package the Makefile's way.
			out := "/out/" + s.name
			var gobuild string
			for _, in := range stages[0].instrs {
				if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
					gobuild = in.args
				}
			}
			for _, want := range []string{
				"CGO_ENABLED=0", "GOOS=$TARGETOS", "GOARCH=$TARGETARCH", "go build -trimpath",
				`-ldflags "` + ldflags("${VERSION}") + `"`,
				"-o " + out + " " + s.pkg,
			} {
				if !strings.Contains(gobuild, want) {
					t.Errorf("the build stage's go build %q lacks %q", gobuild, want)
				}
			}

			want := map[string]dockerCopy{}
			for _, e := range s.entries(o, "") {
				switch {
				case e.dir:
				case e.path == s.binary:
					want[e.path] = dockerCopy{from: "build", src: out, mode: e.mode}
				case e.path == caCertsPath:
					// The golang image is Debian with ca-certificates, as
					// the Go builder's host is.
					want[e.path] = dockerCopy{from: "build", src: caCertsPath, mode: e.mode}
				default:
					for _, f := range s.files {
						if f.dest == e.path {
							want[e.path] = dockerCopy{src: f.src, mode: e.mode}
						}
					}
				}
			}
			if !reflect.DeepEqual(final.copies, want) {
				t.Errorf("COPY by destination:\n got %+v\nwant %+v", final.copies, want)
			}
			if !reflect.DeepEqual(final.env, []string{pathEnv}) {
				t.Errorf("ENV %q, want %q", final.env, pathEnv)
			}
			if final.user != s.user {
				t.Errorf("USER %q, want %q", final.user, s.user)
			}
			if !reflect.DeepEqual(final.entrypoint, s.entrypoint()) {
				t.Errorf("ENTRYPOINT %q, want %q", final.entrypoint, s.entrypoint())
			}
			// Same keys; values from build args where the Go builder has
			// flags, literal where it has constants.
			args := map[string]string{
				"org.opencontainers.image.version":  "${VERSION}",
				"org.opencontainers.image.revision": "${REVISION}",
				"org.opencontainers.image.source":   "${SOURCE}",
				"org.opencontainers.image.created":  "${CREATED}",
			}
			wantLabels := labels(o, s)
			for k := range wantLabels {
				if a, ok := args[k]; ok {
					wantLabels[k] = a
				}
			}
			if !reflect.DeepEqual(final.labels, wantLabels) {
				t.Errorf("LABEL\n got %v\nwant %v", final.labels, wantLabels)
			}
		})
	}
}

// TestMakefileLdflags: `make build` and the images stamp the same way.
func TestMakefileLdflags(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	mk := string(b)
	for _, want := range []string{
		"LDVERSION := -X " + versionVar + "=$(VERSION)",
		"CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w $(LDVERSION)'",
	} {
		if !strings.Contains(mk, want) {
			t.Errorf("Makefile lacks %q; build/imagebuild's ldflags() copies it", want)
		}
	}
}

func TestParseDockerfile(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []stage
		err        string
	}{
		{
			name: "continuations and comments",
			text: "# c\nARG X=1\nFROM --platform=$BUILDPLATFORM golang:1 AS build\nRUN a \\\n    b\n\nFROM scratch\n# c\nUSER 1:1\n",
			want: []stage{
				{from: "golang:1", name: "build", instrs: []instruction{{cmd: "RUN", args: "a b", line: 4}}},
				{from: "scratch", instrs: []instruction{{cmd: "USER", args: "1:1", line: 9}}},
			},
		},
		{name: "instruction before FROM", text: "RUN x\nFROM scratch\n", err: "line 1: RUN before the first FROM"},
		{name: "bad FROM", text: "FROM a b\n", err: "want IMAGE [AS NAME]"},
		{name: "dangling continuation", text: "FROM scratch\nRUN a \\\n", err: "continuation at the end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDockerfile(tc.text)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
