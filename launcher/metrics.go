package launcher

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
)

// SchemaMetrics is the artifact type whose values the launcher prints.
const SchemaMetrics = "system.Metrics"

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

// writeMetricsTable prints a short table at the end of the step's log, so
// the values are visible in `kubectl logs` and Argo's UI.
func writeMetricsTable(w io.Writer, name string, m map[string]any) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	width := 0
	for k := range m {
		keys = append(keys, k)
		width = max(width, len(k))
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
}
