package runview

import "sort"

// Row kinds of a Comparison.
const (
	KindParameter = "parameter"
	KindMetric    = "metric"
)

// Comparison lines runs up side by side: a row per run parameter and per
// metric, a column per run.
type Comparison struct {
	Runs []string        `json:"runs"`
	Rows []ComparisonRow `json:"rows"`
}

// ComparisonRow is one parameter or metric across the compared runs.
type ComparisonRow struct {
	Kind string `json:"kind"`
	// Name is the parameter's name, or STEP/METRIC for a metric (the step
	// by its label, "train" or "train #2" in a loop; STEP/ARTIFACT/METRIC
	// when one step logs the same metric in two artifacts).
	Name string `json:"name"`
	// Values has one entry per run, in the order of Runs; nil where that
	// run has no such parameter or metric.
	Values []*string `json:"values"`
	// Differs is true when not every run has the same value.
	Differs bool `json:"differs"`
}

// Compare builds the side-by-side table of runs: parameters first, then
// metrics, each sorted by name. Nil runs are skipped.
func Compare(runs []*Run) *Comparison {
	c := &Comparison{Runs: []string{}, Rows: []ComparisonRow{}}
	var kept []*Run
	for _, r := range runs {
		if r != nil {
			kept = append(kept, r)
			c.Runs = append(c.Runs, r.Name)
		}
	}
	type key struct{ kind, name string }
	values := map[key][]*string{}
	set := func(k key, i int, v string) {
		if values[k] == nil {
			values[k] = make([]*string, len(kept))
		}
		values[k][i] = &v
	}
	for i, r := range kept {
		for _, p := range r.Parameters {
			set(key{KindParameter, p.Name}, i, p.Value)
		}
		for _, s := range r.Steps {
			for name, v := range metricNames(s) {
				set(key{KindMetric, name}, i, v)
			}
		}
	}
	keys := make([]key, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].kind != keys[j].kind {
			return keys[i].kind == KindParameter
		}
		return keys[i].name < keys[j].name
	})
	for _, k := range keys {
		row := ComparisonRow{Kind: k.kind, Name: k.name, Values: values[k]}
		for _, v := range row.Values[1:] {
			if (v == nil) != (row.Values[0] == nil) || (v != nil && *v != *row.Values[0]) {
				row.Differs = true
			}
		}
		c.Rows = append(c.Rows, row)
	}
	return c
}

// metricNames names a step's scalar metrics STEP/METRIC, or
// STEP/ARTIFACT/METRIC where the short name would be ambiguous.
func metricNames(s Step) map[string]string {
	count := map[string]int{}
	for _, m := range s.Metrics {
		count[m.Name]++
	}
	out := map[string]string{}
	for _, m := range s.Metrics {
		name := s.Label() + "/" + m.Name
		if count[m.Name] > 1 {
			name = s.Label() + "/" + m.Artifact + "/" + m.Name
		}
		out[name] = m.Text()
	}
	return out
}
