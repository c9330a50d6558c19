package launcher

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// maxMetricsFile bounds how much of a metrics file is parsed.
const maxMetricsFile = 1 << 20

// readMetrics returns a Metrics output's values: the metadata the SDK's
// log_metric left in the executor output, else the JSON object a container
// component wrote as the artifact itself. Anything else yields no values.
func readMetrics(metadata map[string]any, local string) map[string]any {
	if len(metadata) > 0 {
		return metadata
	}
	f, err := os.Open(local)
	if err != nil {
		return nil
	}
	defer f.Close()
	var m map[string]any
	if json.NewDecoder(io.LimitReader(f, maxMetricsFile)).Decode(&m) != nil {
		return nil
	}
	return m
}

// writeMetricsFile records metrics logged only as metadata as the
// artifact's content.
func writeMetricsFile(local string, m map[string]any) error {
	if m == nil {
		m = map[string]any{}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(local), 0o777); err != nil {
		return err
	}
	return os.WriteFile(local, b, 0o644)
}

// The ClassificationMetrics fields the SDK writes (log_confusion_matrix,
// log_roc_curve).
const (
	keyConfusionMatrix   = "confusionMatrix"
	keyConfidenceMetrics = "confidenceMetrics"
)

// maxSummaryClasses bounds the confusion matrices kept in the metrics
// parameter; an Argo parameter lives in the workflow object, which etcd
// caps in size.
const maxSummaryClasses = 20

// summarize is what goes into the metrics output parameter: scalar values
// verbatim, a small confusion matrix, and the number of ROC points rather
// than the points.
func summarize(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch k {
		case keyConfidenceMetrics:
			if l, ok := v.([]any); ok {
				out[k] = map[string]any{"points": len(l)}
			}
		case keyConfusionMatrix:
			if classes, _ := confusion(v); len(classes) > 0 && len(classes) <= maxSummaryClasses {
				out[k] = v
			}
		default:
			switch v.(type) {
			case float64, string, bool:
				out[k] = v
			}
		}
	}
	return out
}

// confusion reads a confusion matrix in KFP's shape:
// {"annotationSpecs": [{"displayName": "cat"}, ...], "rows": [{"row": [3, 1]}, ...]}.
// The values come from the user's command: anything else in any place
// (a spec that is no object, a name that is no string, a row of the wrong
// length or with a non-number) means no matrix.
func confusion(v any) ([]string, [][]float64) {
	m, _ := v.(map[string]any)
	specs, _ := m["annotationSpecs"].([]any)
	rows, _ := m["rows"].([]any)
	if len(specs) == 0 || len(rows) != len(specs) {
		return nil, nil
	}
	classes := make([]string, 0, len(specs))
	for _, s := range specs {
		spec, _ := s.(map[string]any)
		name, ok := spec["displayName"].(string)
		if !ok {
			return nil, nil
		}
		classes = append(classes, name)
	}
	cells := make([][]float64, 0, len(rows))
	for _, r := range rows {
		row, _ := r.(map[string]any)
		values, _ := row["row"].([]any)
		if len(values) != len(classes) {
			return nil, nil
		}
		cs := make([]float64, 0, len(values))
		for _, c := range values {
			f, ok := c.(float64)
			if !ok {
				return nil, nil
			}
			cs = append(cs, f)
		}
		cells = append(cells, cs)
	}
	return classes, cells
}

// writeMetricsTable prints a short table at the end of the step's log, so
// the values are visible in `kubectl logs` and Argo's UI.
func writeMetricsTable(w io.Writer, name string, m map[string]any) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	width := 0
	for k, v := range m {
		switch v.(type) {
		case float64, string, bool:
			keys = append(keys, k)
			width = max(width, len(k))
		}
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "metrics (%s):\n", name)
	for _, k := range keys {
		v := fmt.Sprint(m[k])
		if f, ok := m[k].(float64); ok {
			v = fmt.Sprintf("%g", f)
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, k, v)
	}
	if classes, cells := confusion(m[keyConfusionMatrix]); len(classes) > 0 && len(classes) <= maxSummaryClasses {
		cw := 9
		for _, c := range classes {
			cw = max(cw, len(c))
		}
		fmt.Fprintf(w, "  confusion matrix (rows: actual, columns: predicted):\n  %*s", cw, "")
		for _, c := range classes {
			fmt.Fprintf(w, "  %*s", cw, c)
		}
		fmt.Fprintln(w)
		for i, row := range cells {
			fmt.Fprintf(w, "  %*s", cw, classes[i])
			for _, c := range row {
				fmt.Fprintf(w, "  %*g", cw, c)
			}
			fmt.Fprintln(w)
		}
	}
	if l, ok := m[keyConfidenceMetrics].([]any); ok {
		fmt.Fprintf(w, "  ROC curve: %d points\n", len(l))
	}
}
