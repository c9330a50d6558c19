package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// Runner runs one step.
type Runner struct {
	Spec   *step.Spec
	Layout Layout
	// Store moves artifacts; it may be nil for a step without artifacts.
	Store *artifact.Store
	Log   *zap.Logger
	// Env is the environment for the user command; KFPARGO_ variables are
	// removed from it.
	Env []string
	// Stdout and Stderr receive the user command's output, unbuffered.
	Stdout, Stderr *os.File
	// Cache, when set, serves and records cached steps (--cache).
	Cache *Cache
}

// Run goes through the step's stages and returns the process exit code.
func (r *Runner) Run(ctx context.Context) int {
	s := r.Spec
	outURIs, taskRoot, ok, err := r.outputURIs()
	if err != nil {
		r.Log.Error("output locations", zap.Error(err))
		return ExitUsage
	}
	if ok {
		// The executor output file sits at the task root's local path, so
		// the SDK's dsl.get_uri() (the file's directory, as a URI) names
		// this task's part of the pipeline root.
		r.Layout.TaskRoot = r.Layout.ArtifactPath(taskRoot)
	}
	sess := r.openCache(ctx)
	defer sess.close(ctx, r.Log)
	if sess != nil && sess.hit != nil {
		return Replay(sess.hit, r.Layout, r.Log)
	}
	if err := r.downloadInputs(ctx); err != nil {
		r.Log.Error("download inputs", zap.Error(err))
		return ExitInputs
	}
	if err := r.prepareOutputs(outURIs); err != nil {
		r.Log.Error("prepare outputs", zap.Error(err))
		return ExitInputs
	}
	res := &resolver{spec: s, layout: r.Layout, input: buildExecutorInput(s, r.Layout, outURIs), outURIs: outURIs}
	argv, err := res.args(s.Command)
	if err == nil {
		for i, a := range argv {
			if cerr := step.CheckArg(a); cerr != nil {
				err = fmt.Errorf("argument %d of the command resolves to %w", i, cerr)
				break
			}
		}
	}
	if err != nil {
		r.Log.Error("resolve placeholders", zap.Error(err))
		return ExitInputs
	}
	code := r.runCommand(ctx, argv)
	if code != 0 {
		r.Log.Info("command failed; no outputs are recorded", zap.Int("exitCode", code))
		return code
	}
	out, err := r.collectOutputs(ctx, outURIs)
	if err != nil {
		r.Log.Error("collect outputs", zap.Error(err))
		return ExitOutputs
	}
	if err := out.write(r.Layout); err != nil {
		r.Log.Error("write outputs", zap.Error(err))
		return ExitOutputs
	}
	for _, name := range sortedKeys(out.metricValues) {
		writeMetricsTable(r.Stderr, name, out.metricValues[name])
	}
	if sess != nil {
		r.record(ctx, sess, out)
	}
	return 0
}

// outputURIs places each output artifact under the task root,
// ROOT/NAMESPACE/RUN/TASK (or ROOT/NAMESPACE/RUN/TASK/POD for a task that
// runs more than once): TASKROOT/NAME. With artifacts to place, a task root
// is required; without, it is optional and ok reports whether there is one.
func (r *Runner) outputURIs() (out map[string]string, taskRoot artifact.Location, ok bool, err error) {
	out = map[string]string{}
	s := r.Spec
	parts := []string{s.Namespace, s.RunName, s.Task}
	if s.PerPodOutputs {
		parts = append(parts, s.PodName)
	}
	if s.PipelineRoot == "" {
		return out, taskRoot, false, nil
	}
	root, err := artifact.ParseURI(s.PipelineRoot)
	if err != nil {
		return nil, taskRoot, false, fmt.Errorf("pipeline root: %w", err)
	}
	for _, part := range parts {
		if !keyPart(part) {
			if len(s.OutputArtifacts) == 0 {
				return out, taskRoot, false, nil
			}
			return nil, taskRoot, false, fmt.Errorf("%q cannot be part of an object key", part)
		}
	}
	taskRoot = root.Join(parts...)
	for _, name := range sortedKeys(s.OutputArtifacts) {
		if !keyPart(name) {
			return nil, taskRoot, false, fmt.Errorf("output artifact %q: the name cannot be part of an object key", name)
		}
		out[name] = taskRoot.Join(name).String()
	}
	return out, taskRoot, true, nil
}

func keyPart(part string) bool {
	return part != "" && part != "." && part != ".." && !strings.ContainsAny(part, "/\\")
}

// downloadInputs fetches every input artifact (each item of a list) and
// replaces its descriptor by what arrived, so digests are known also for
// imported artifacts.
func (r *Runner) downloadInputs(ctx context.Context) error {
	var jobs []func() error
	for _, name := range sortedKeys(r.Spec.Artifacts) {
		a := r.Spec.Artifacts[name]
		for i, d := range a.Items {
			if r.Store == nil {
				return errors.New("input artifacts need an object store: " + step.EnvS3Endpoint + " is not set")
			}
			loc, err := artifact.ParseURI(d.URI)
			if err != nil {
				return fmt.Errorf("input %s: %w", name, err)
			}
			local := r.Layout.InputPath(loc, d.Metadata, r.Spec.Workspace)
			if inWorkspace(d.Metadata) {
				if r.Spec.Workspace == "" {
					return fmt.Errorf("input %s: %s is marked to be read from the pipeline workspace (%s), but this step has no %s", name, d.URI, step.MetadataInWorkspace, step.FlagWorkspace)
				}
				if _, err := os.Stat(local); err == nil {
					// An earlier step put it there; the workspace is shared.
					r.Log.Info("input in the workspace", zap.String("artifact", name), zap.String("path", local))
					continue
				}
			}
			jobs = append(jobs, func() error {
				start := time.Now()
				got, err := r.Store.Download(ctx, d, local)
				if err != nil {
					return fmt.Errorf("input %s: %w", name, err)
				}
				a.Items[i] = got
				r.logTransfer("downloaded", name, got.URI, got.Size, time.Since(start), zap.String("sha256", got.SHA256))
				return nil
			})
		}
	}
	return parallel(jobs)
}

// prepareOutputs creates the parent directories the command writes into.
func (r *Runner) prepareOutputs(outURIs map[string]string) error {
	dirs := []string{filepath.Dir(r.Layout.ExecutorOutputFile())}
	for name := range r.Spec.OutputParams {
		dirs = append(dirs, filepath.Dir(r.Layout.UserParamFile(name)))
	}
	for _, uri := range outURIs {
		loc, err := artifact.ParseURI(uri)
		if err != nil {
			return err
		}
		dirs = append(dirs, filepath.Dir(r.Layout.ArtifactPath(loc)))
	}
	for _, d := range dirs {
		// World-writable like an emptyDir, so an image running as another
		// user can still write its outputs.
		if err := os.MkdirAll(d, 0o777); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	return nil
}

// runCommand starts the user command and forwards termination signals to it.
func (r *Runner) runCommand(ctx context.Context, argv []string) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = userEnv(r.Env)
	cmd.Stdin = os.Stdin
	cmd.Stdout, cmd.Stderr = r.Stdout, r.Stderr
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.Log.Error("start command", zap.String("command", argv[0]), zap.Error(err))
		return ExitStart
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				_ = cmd.Process.Signal(sig)
			case <-ctx.Done():
				_ = cmd.Process.Signal(syscall.SIGTERM)
				return
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	code := 0
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		} else {
			code = exitErr.ExitCode()
		}
	default:
		r.Log.Error("wait for command", zap.Error(err))
		code = ExitStart
	}
	r.Log.Info("command finished", zap.Int("exitCode", code), zap.Duration("duration", time.Since(start)))
	return code
}

// userEnv drops the launcher's own variables, credentials among them.
func userEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, step.EnvPrefix) {
			out = append(out, kv)
		}
	}
	return out
}

// collectOutputs reads every output and uploads the artifacts. Nothing is
// written for Argo yet, so a failure leaves no partial outputs.
func (r *Runner) collectOutputs(ctx context.Context, outURIs map[string]string) (*Outputs, error) {
	eo, err := r.readExecutorOutput()
	if err != nil {
		return nil, err
	}
	out := &Outputs{Params: map[string]string{}, Artifacts: map[string]*artifact.Descriptor{}}
	for _, name := range sortedKeys(r.Spec.OutputParams) {
		value, err := r.outputParam(name, r.Spec.OutputParams[name], eo)
		if err != nil {
			return nil, err
		}
		out.Params[name] = value
	}
	var mu sync.Mutex
	metrics := map[string]map[string]any{}
	var jobs []func() error
	for _, name := range sortedKeys(r.Spec.OutputArtifacts) {
		if r.Store == nil {
			return nil, errors.New("output artifacts need an object store: " + step.EnvS3Endpoint + " is not set")
		}
		uri, err := r.finalURI(name, outURIs[name], eo)
		if err != nil {
			return nil, err
		}
		schema := r.Spec.OutputArtifacts[name]
		jobs = append(jobs, func() error {
			loc, err := artifact.ParseURI(uri)
			if err != nil {
				return err
			}
			local := r.Layout.ArtifactPath(loc)
			if cp := customPath(eo, name); cp != "" {
				if !filepath.IsAbs(cp) {
					return fmt.Errorf("output artifact %s: custom path %q is not absolute", name, cp)
				}
				local = filepath.Clean(cp)
				for _, fs := range []string{"/proc", "/sys", "/dev"} {
					// Kernel files: /proc/self is the launcher, whose
					// environment holds the object store's keys, and
					// devices never end.
					if local == fs || strings.HasPrefix(local, fs+"/") {
						return fmt.Errorf("output artifact %s: custom path %q is under %s", name, cp, fs)
					}
				}
			}
			fi, err := os.Lstat(local)
			if errors.Is(err, os.ErrNotExist) && step.IsMetrics(schema) && customPath(eo, name) == "" {
				// log_metric only fills the metadata; the values are still
				// recorded as the artifact's content, a JSON object. Only
				// at the launcher's own path: a custom path can be anywhere.
				err = writeMetricsFile(local, outputMetadata(eo, name))
				fi, _ = os.Lstat(local)
			}
			if err != nil {
				return fmt.Errorf("output artifact %s was not written at %s: %w", name, local, err)
			}
			switch {
			case fi == nil || fi.Mode().IsRegular() || fi.IsDir():
			case fi.Mode()&os.ModeSymlink != 0:
				// It could publish any file the pod can read, and the
				// cache would replay it.
				return fmt.Errorf("output artifact %s: %s is a symbolic link; an output must be a regular file or a directory", name, local)
			default:
				// A pipe or a device would never end the upload.
				return fmt.Errorf("output artifact %s: %s is not a regular file or a directory (%s)", name, local, fi.Mode().Type())
			}
			start := time.Now()
			d, err := r.Store.Upload(ctx, local, loc)
			if err != nil {
				return fmt.Errorf("output artifact %s: %w", name, err)
			}
			r.logTransfer("uploaded", name, uri, d.Size, time.Since(start), zap.String("sha256", d.SHA256))
			d.SchemaTitle = schema
			d.Metadata = outputMetadata(eo, name)
			// The descriptor is the parameter the next step reads.
			if b, err := d.JSON(); err != nil {
				return fmt.Errorf("output artifact %s: %w", name, err)
			} else if len(b) > step.MaxParamValueBytes {
				return fmt.Errorf("output artifact %s: descriptor of %d bytes (URI, digest and metadata) is larger than the %d a parameter can carry; keep the artifact's metadata small", name, len(b), step.MaxParamValueBytes)
			}
			if step.IsMetrics(schema) {
				values := readMetrics(d.Metadata, local)
				if len(d.Metadata) == 0 && len(values) > 0 {
					// A container component wrote the values as the file;
					// keep them in the descriptor like log_metric does.
					d.Metadata = values
				}
				mu.Lock()
				metrics[name] = values
				mu.Unlock()
			}
			mu.Lock()
			out.Artifacts[name] = d
			mu.Unlock()
			return nil
		})
	}
	if err := parallel(jobs); err != nil {
		return nil, err
	}
	if r.hasMetrics() {
		summary := map[string]any{}
		for name, m := range metrics {
			summary[name] = summarize(m)
		}
		b, err := json.Marshal(summary)
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		if err := step.CheckParamValue(string(b)); err != nil {
			return nil, fmt.Errorf("metrics summary: %w", err)
		}
		out.Metrics = string(b)
	}
	out.metricValues = metrics
	return out, nil
}

func (r *Runner) hasMetrics() bool {
	for _, schema := range r.Spec.OutputArtifacts {
		if step.IsMetrics(schema) {
			return true
		}
	}
	return false
}

// finalURI is where an output artifact goes: the URI the launcher chose,
// unless the component moved it (the SDK's `artifact.uri = dsl.get_uri(...)`
// shows up in the executor output). A moved artifact must stay inside this
// run's part of the pipeline root, so a step cannot overwrite other runs'
// artifacts (cache entries point at them).
func (r *Runner) finalURI(name, planned string, eo *ExecutorOutput) (string, error) {
	l, ok := eo.Artifacts[name]
	if !ok || len(l.Artifacts) == 0 || l.Artifacts[0].URI == "" || l.Artifacts[0].URI == planned {
		return planned, nil
	}
	moved := l.Artifacts[0].URI
	loc, err := artifact.ParseURI(moved)
	if err != nil {
		return "", fmt.Errorf("output artifact %s: the executor output moved it to %q: %w", name, moved, err)
	}
	root, err := artifact.ParseURI(r.Spec.PipelineRoot)
	if err != nil {
		return "", fmt.Errorf("pipeline root: %w", err)
	}
	runDir := root.Join(r.Spec.Namespace, r.Spec.RunName)
	if loc.Bucket != runDir.Bucket || !strings.HasPrefix(loc.Key, runDir.Key+"/") || strings.Contains("/"+loc.Key+"/", "/../") {
		return "", fmt.Errorf("output artifact %s: the executor output moved it to %s, outside this run's %s", name, moved, runDir)
	}
	return loc.String(), nil
}

// maxExecutorOutput bounds the executor output file the launcher reads:
// what it may hold (parameter values, artifact metadata) must fit in
// parameters anyway, so more is a broken or hostile command.
const maxExecutorOutput = 8 << 20

func (r *Runner) readExecutorOutput() (*ExecutorOutput, error) {
	path := r.Layout.ExecutorOutputFile()
	b, err := readBounded(path, maxExecutorOutput)
	if errors.Is(err, os.ErrNotExist) {
		return &ExecutorOutput{}, nil
	}
	var tooLarge *tooLargeError
	if errors.As(err, &tooLarge) {
		return nil, fmt.Errorf("executor output %s %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("executor output %s: %w", path, err)
	}
	// encoding/json would turn each invalid byte into U+FFFD silently.
	if i := invalidUTF8(b); i >= 0 {
		return nil, fmt.Errorf("executor output %s is not UTF-8: byte 0x%02x at offset %d", path, b[i], i)
	}
	var eo ExecutorOutput
	if err := json.Unmarshal(b, &eo); err != nil {
		return nil, fmt.Errorf("executor output %s is not valid JSON: %w", r.Layout.ExecutorOutputFile(), err)
	}
	return &eo, nil
}

// outputParam takes the value from the executor output if the component
// wrote one there, else from the parameter's output file, and checks its type.
func (r *Runner) outputParam(name string, t ir.ParameterType, eo *ExecutorOutput) (string, error) {
	s, err := r.outputParamValue(name, t, eo)
	if err != nil {
		return "", err
	}
	if err := step.CheckParamValue(s); err != nil {
		return "", fmt.Errorf("output parameter %s: %w", name, err)
	}
	return s, nil
}

func (r *Runner) outputParamValue(name string, t ir.ParameterType, eo *ExecutorOutput) (string, error) {
	if v, ok := eo.ParameterValues[name]; ok {
		s, err := step.EncodeValue(t, v)
		if err != nil {
			return "", fmt.Errorf("output parameter %s: %w", name, err)
		}
		return s, nil
	}
	path := r.Layout.UserParamFile(name)
	b, err := readBounded(path, step.MaxParamValueBytes)
	var tooLarge *tooLargeError
	if errors.As(err, &tooLarge) {
		return "", fmt.Errorf("output parameter %s: %s %w, the most a parameter can carry; pass large data as an artifact", name, path, err)
	}
	if err != nil {
		return "", fmt.Errorf("output parameter %s was not written: %w", name, err)
	}
	raw := string(b)
	if t == ir.TypeString {
		return raw, nil
	}
	v, err := step.DecodeValue(t, strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("output parameter %s: %w", name, err)
	}
	return step.EncodeValue(t, v)
}

type tooLargeError struct{ max int }

func (e *tooLargeError) Error() string { return fmt.Sprintf("holds more than %d bytes", e.max) }

// readBounded reads a file the user's command wrote, refusing one over max
// bytes without reading it whole.
func readBounded(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, &tooLargeError{max: max}
	}
	return b, nil
}

// invalidUTF8 is the offset of the first byte that is not UTF-8, or -1.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// customPath is where the component says it wrote an output artifact, if
// not at the artifact's local path.
func customPath(eo *ExecutorOutput, name string) string {
	if l, ok := eo.Artifacts[name]; ok && len(l.Artifacts) > 0 {
		return l.Artifacts[0].CustomPath
	}
	return ""
}

func outputMetadata(eo *ExecutorOutput, name string) map[string]any {
	if l, ok := eo.Artifacts[name]; ok && len(l.Artifacts) > 0 && len(l.Artifacts[0].Metadata) > 0 {
		return l.Artifacts[0].Metadata
	}
	return nil
}

func (r *Runner) logTransfer(what, name, uri string, size int64, d time.Duration, extra ...zap.Field) {
	mbps := 0.0
	if d > 0 {
		mbps = float64(size) / (1 << 20) / d.Seconds()
	}
	fields := append([]zap.Field{zap.String("artifact", name), zap.String("uri", uri), zap.Int64("bytes", size),
		zap.Duration("duration", d), zap.Float64("MiBps", mbps)}, extra...)
	r.Log.Info(what, fields...)
}

// writeAtomic writes through a temporary file and a rename.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// parallel runs jobs concurrently and returns all their errors.
func parallel(jobs []func() error) error {
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = j()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
