package kfpsdk

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// EnvVar names the variable pointing at a KFP checkout's sdk/python.
const EnvVar = "KFP_SDK_DIR"

// Dir returns the SDK directory from the environment; ok is false when it
// is not set. A set but wrong directory is an error.
func Dir() (dir string, ok bool, err error) {
	dir = os.Getenv(EnvVar)
	if dir == "" {
		return "", false, nil
	}
	if _, err := os.Stat(filepath.Join(dir, "kfp", "dsl", "executor_main.py")); err != nil {
		return "", false, fmt.Errorf("%s=%s is not a KFP sdk/python directory: %w", EnvVar, dir, err)
	}
	abs, err := filepath.Abs(dir)
	return abs, err == nil, err
}

// Shim writes the stand-ins and a copy of the SDK's kfp package under dir
// and returns the directory to put first on PATH. Programs found there: pip
// (does nothing), python3 and python (the host's python3 with the SDK on
// PYTHONPATH). Everything lives under dir, so a sandbox that hides other
// paths (the local stack's pods get a private /tmp) need only see dir.
func Shim(dir, sdk string) (string, error) {
	bin := filepath.Join(dir, "bin")
	pylib := filepath.Join(dir, "pylib")
	python, err := hostPython()
	if err != nil {
		return "", err
	}
	if err := copyTree(filepath.Join(sdk, "kfp"), filepath.Join(pylib, "kfp")); err != nil {
		return "", fmt.Errorf("copy the KFP SDK: %w", err)
	}
	wrapper := fmt.Sprintf("#!/bin/sh\nPYTHONPATH=%s${PYTHONPATH:+:$PYTHONPATH} exec %s \"$@\"\n", pylib, python)
	files := map[string]string{
		"bin/pip":               "#!/bin/sh\necho 'kfpargo test: pip install skipped; the KFP SDK comes from " + EnvVar + "' >&2\n",
		"bin/python3":           wrapper,
		"bin/python":            wrapper,
		"pylib/pip/__init__.py": "",
		"pylib/pip/__main__.py": "import sys\nprint('kfpargo test: pip install skipped; the KFP SDK comes from " + EnvVar + "', file=sys.stderr)\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			return "", err
		}
	}
	return bin, nil
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

func hostPython() (string, error) {
	for _, p := range []string{"/usr/bin/python3", "/usr/local/bin/python3"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no python3 on this host")
}

// PythonImages are the image repositories the corpus's lightweight
// components use; tests map them to the shim.
var PythonImages = []string{
	"python",
	"public.ecr.aws/docker/library/python",
	"registry.access.redhat.com/ubi9/python-311",
	"registry.access.redhat.com/ubi9/python-312",
}

// installRE finds the packages a lightweight component pip-installs.
var installRE = regexp.MustCompile(`pip install [^&]*`)
var quotedRE = regexp.MustCompile(`'([^']*)'`)

// OnlyNeedsKFP reports whether a component's command installs nothing but
// the KFP SDK (and typing-extensions for old Pythons), so the shim can
// stand in for the install; other packages would need a network.
func OnlyNeedsKFP(command string) bool {
	installs := installRE.FindAllString(command, -1)
	if len(installs) == 0 {
		return false
	}
	for _, inst := range installs {
		for _, m := range quotedRE.FindAllStringSubmatch(inst, -1) {
			pkg := m[1]
			switch {
			case strings.HasPrefix(pkg, "kfp=="), strings.HasPrefix(pkg, "kfp["), pkg == "--no-deps",
				strings.HasPrefix(pkg, "typing-extensions"):
			default:
				return false
			}
		}
	}
	return true
}
