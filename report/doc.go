// Package report renders a run (runview.Run) as one self-contained HTML
// page for `kfpargo report`: the DAG as an SVG picture with cached steps
// marked, per-step timing bars, the parameters, each step's inputs, outputs
// and artifacts, and the metrics as tables and charts (bars for scalars,
// a heat map for a confusion matrix, a line chart for a ROC curve).
//
// The page has no external assets (inline CSS and SVG, a few lines of
// inline script for the copy buttons), so it opens offline and can be
// attached to a ticket. The layout is computed here, in Go; html/template
// escapes every value taken from the run.
package report
