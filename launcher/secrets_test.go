package launcher_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/launcher"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/test/servers"
)

// TestSecretsStayOut: credentials reach neither the user's command (its
// environment) nor the launcher's log, its errors or the step's output,
// also when the object store rejects them.
func TestSecretsStayOut(t *testing.T) {
	m := servers.StartMinio(t, "mlpipeline")
	const secret, redisPassword = "s3cr3t-never-shown-9f1c", "r3d1s-never-shown-77ab"
	// A wrong secret key: every upload is refused with a signature error.
	store, err := artifact.NewStore(artifact.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: secret, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	layout := launcher.Layout{LocalRoot: filepath.Join(root, "fs"), StepDir: filepath.Join(root, "kfpargo")}
	spec, err := step.ParseRunArgs(append(append([]string{}, common...), "--task", "leak",
		"--output-artifact", "data:system.Dataset",
		"--", "sh", "-c", `env; echo rows > "$0"`, "{{$.outputs.artifacts['data'].path}}"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	outFile := filepath.Join(root, "stdout")
	outF, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	defer outF.Close()
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&logs), zap.DebugLevel))
	r := &launcher.Runner{Spec: spec, Layout: layout, Store: store, Log: log, Stdout: outF, Stderr: outF,
		Env: []string{"PATH=/usr/bin:/bin",
			step.EnvS3Endpoint + "=" + m.Endpoint, step.EnvS3AccessKey + "=" + m.AccessKey, step.EnvS3SecretKey + "=" + secret,
			step.EnvRedisAddr + "=127.0.0.1:1", step.EnvRedisPassword + "=" + redisPassword}}
	code := r.Run(context.Background())
	outBytes, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.NewBuffer(outBytes)
	if code == 0 {
		t.Fatal("the step succeeded although every upload is refused")
	}
	if !strings.Contains(logs.String(), "SignatureDoesNotMatch") && !strings.Contains(logs.String(), "signature") {
		t.Errorf("the log does not say why the upload failed:\n%s", logs.String())
	}
	if strings.Contains(out.String(), "KFPARGO_") {
		t.Errorf("the command saw the launcher's variables:\n%s", out.String())
	}
	for _, s := range []string{secret, redisPassword} {
		for name, text := range map[string]string{"log": logs.String(), "command output": out.String()} {
			if strings.Contains(text, s) {
				t.Errorf("a credential appears in the %s", name)
			}
		}
	}
}
