package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/step"
)

// Metric is one logged value of a Metrics artifact.
type Metric struct {
	Step, Artifact, Name string
	Value                any
}

// maxMetricsFile bounds how much of a metrics artifact is read.
const maxMetricsFile = 1 << 20

// Metrics reads every system.Metrics output of the run: the metadata the
// SDK's log_metric leaves in the descriptor, or else the JSON object a
// container component wrote as the artifact's content.
func (t *Target) Metrics(ctx context.Context, r *Result) ([]Metric, error) {
	var out []Metric
	for _, s := range r.Steps {
		for name, value := range s.Outputs {
			if !strings.HasPrefix(name, step.ArtifactParamPrefix) {
				continue
			}
			d, err := artifact.ParseDescriptor(value)
			if err != nil || d.SchemaTitle != "system.Metrics" {
				continue
			}
			values := d.Metadata
			if len(values) == 0 {
				if values, err = t.readJSONObject(ctx, d.URI); err != nil {
					return nil, fmt.Errorf("metrics of %s: %w", s.Name, err)
				}
			}
			for k, v := range values {
				out = append(out, Metric{Step: s.Name, Artifact: strings.TrimPrefix(name, step.ArtifactParamPrefix), Name: k, Value: v})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Step != b.Step {
			return a.Step < b.Step
		}
		return a.Name < b.Name
	})
	return out, nil
}

func (t *Target) readJSONObject(ctx context.Context, uri string) (map[string]any, error) {
	loc, err := artifact.ParseURI(uri)
	if err != nil {
		return nil, err
	}
	obj, err := t.Store.Client().GetObject(ctx, loc.Bucket, loc.Key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	b, err := io.ReadAll(io.LimitReader(obj, maxMetricsFile))
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object: %w", uri, err)
	}
	return m, nil
}

// WriteMetrics prints metrics one per line.
func WriteMetrics(w io.Writer, ms []Metric) {
	for _, m := range ms {
		v := fmt.Sprint(m.Value)
		if f, ok := m.Value.(float64); ok {
			v = fmt.Sprintf("%g", f)
		}
		fmt.Fprintf(w, "  %-14s %-24s %s\n", m.Step, m.Name, v)
	}
}
