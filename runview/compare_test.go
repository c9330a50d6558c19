package runview

import (
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	r1, r2 := load(t, "mnist-run1"), load(t, "mnist-run2-cached")
	// A run without metrics (still pending) gives empty cells, not a crash.
	r3 := &Run{Name: "pending", Parameters: []Param{{"epochs", "5"}, {"extra", ""}}}
	c := Compare([]*Run{r1, r2, nil, r3})
	if strings.Join(c.Runs, ",") != "mnist-classification-l28g5,mnist-classification-gfqxk,pending" {
		t.Fatalf("columns: %v", c.Runs)
	}
	rows := map[string]ComparisonRow{}
	var order []string
	for _, row := range c.Rows {
		rows[row.Kind+" "+row.Name] = row
		order = append(order, row.Kind+" "+row.Name)
		if len(row.Values) != 3 {
			t.Errorf("row %s has %d values", row.Name, len(row.Values))
		}
	}
	cell := func(key string, i int) string {
		v := rows[key].Values[i]
		if v == nil {
			return "<nil>"
		}
		return *v
	}
	for _, tc := range []struct {
		key     string
		values  [3]string
		differs bool
	}{
		{"parameter epochs", [3]string{"5", "5", "5"}, false},
		{"parameter hidden_units", [3]string{"128", "256", "<nil>"}, true},
		{"parameter extra", [3]string{"<nil>", "<nil>", ""}, true},
		{"metric train/accuracy", [3]string{"98.9", "99.6", "<nil>"}, true},
		{"metric train/framework", [3]string{"python-stdlib", "python-stdlib", "<nil>"}, true},
		{"metric evaluate/test_size", [3]string{"200", "200", "<nil>"}, true},
	} {
		if _, ok := rows[tc.key]; !ok {
			t.Errorf("no row %s in %v", tc.key, order)
			continue
		}
		for i, want := range tc.values {
			if got := cell(tc.key, i); got != want {
				t.Errorf("%s column %d = %s, want %s", tc.key, i, got, want)
			}
		}
		if rows[tc.key].Differs != tc.differs {
			t.Errorf("%s differs = %v", tc.key, rows[tc.key].Differs)
		}
	}
	if rows["metric evaluate/test_accuracy"].Values[0] == nil || rows["metric evaluate/test_accuracy"].Values[1] == nil {
		t.Errorf("both accuracies must be listed: %v", rows["metric evaluate/test_accuracy"])
	}
	if !strings.HasPrefix(order[0], "parameter ") || !strings.HasPrefix(order[len(order)-1], "metric ") {
		t.Errorf("parameters first, then metrics: %v", order)
	}
	if c := Compare(nil); len(c.Runs) != 0 || len(c.Rows) != 0 {
		t.Errorf("empty comparison: %+v", c)
	}
}

// One step logging the same metric name in two artifacts keeps both.
func TestCompareAmbiguousMetric(t *testing.T) {
	r := &Run{Name: "r", Steps: []Step{{Name: "s", Metrics: []Metric{
		{Artifact: "a", Name: "auc", Value: 0.5}, {Artifact: "b", Name: "auc", Value: 0.75}, {Artifact: "b", Name: "n", Value: true}}}}}
	var names []string
	for _, row := range Compare([]*Run{r}).Rows {
		names = append(names, row.Name+"="+*row.Values[0])
	}
	if strings.Join(names, " ") != "s/a/auc=0.5 s/b/auc=0.75 s/n=true" {
		t.Errorf("rows: %v", names)
	}
}
