package report

import (
	"fmt"
	"math"
	"sort"

	"github.com/kfpargo/kfpargo/runview"
)

// Sizes of the DAG picture, in SVG user units (pixels at 100%).
const (
	nodeW   = 190
	nodeH   = 58
	gapX    = 28
	gapY    = 56
	padding = 16
)

// graphNode is a step placed in the picture.
type graphNode struct {
	Step   *runview.Step
	Index  int // position in the run's steps: the anchor of its details
	X, Y   int
	Layer  int
	Label  string // the name, shortened to fit
	Status string // phase and duration
	Style  phaseStyle
}

// graphEdge is an edge drawn as a cubic curve from the bottom of one node to
// the top of the other.
type graphEdge struct {
	Path  string
	Muted bool // into a step that did not run
}

type graph struct {
	Width, Height int
	Nodes         []graphNode
	Edges         []graphEdge
}

// layout places the steps in layers, each step one layer below its lowest
// upstream step (so edges always point down), and orders every layer by
// the mean position of its neighbours to keep crossings few.
func layout(r *runview.Run) graph {
	n := len(r.Steps)
	index := map[string]int{}
	for i, s := range r.Steps {
		index[s.ID] = i
	}
	up := make([][]int, n)
	down := make([][]int, n)
	indeg := make([]int, n)
	for _, e := range r.Edges {
		a, okA := index[e.From]
		b, okB := index[e.To]
		if !okA || !okB || a == b {
			continue
		}
		down[a] = append(down[a], b)
		up[b] = append(up[b], a)
		indeg[b]++
	}
	// Longest path from the sources, in topological order (Kahn). Steps
	// on a cycle, which a workflow cannot have, stay in layer 0 rather
	// than loop forever.
	layer := make([]int, n)
	queue := []int{}
	for i := range n {
		if indeg[i] == 0 {
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, j := range down[i] {
			layer[j] = max(layer[j], layer[i]+1)
			indeg[j]--
			if indeg[j] == 0 {
				queue = append(queue, j)
			}
		}
	}
	depth := 0
	for _, l := range layer {
		depth = max(depth, l+1)
	}
	layers := make([][]int, depth)
	for i := range n { // steps come in start order: a stable first guess
		layers[layer[i]] = append(layers[layer[i]], i)
	}
	pos := make([]float64, n)
	setPos := func() {
		for _, l := range layers {
			for k, i := range l {
				pos[i] = float64(k) - float64(len(l)-1)/2
			}
		}
	}
	setPos()
	bary := func(l []int, nbrs [][]int) {
		key := map[int]float64{}
		for _, i := range l {
			if len(nbrs[i]) == 0 {
				key[i] = pos[i]
				continue
			}
			sum := 0.0
			for _, j := range nbrs[i] {
				sum += pos[j]
			}
			key[i] = sum / float64(len(nbrs[i]))
		}
		sort.SliceStable(l, func(a, b int) bool { return key[l[a]] < key[l[b]] })
	}
	for range 4 {
		for d := 1; d < depth; d++ {
			bary(layers[d], up)
		}
		setPos()
		for d := depth - 2; d >= 0; d-- {
			bary(layers[d], down)
		}
		setPos()
	}

	widest := 0
	for _, l := range layers {
		widest = max(widest, len(l))
	}
	g := graph{
		Width:  max(2*padding+widest*nodeW+(widest-1)*gapX, 2*padding+nodeW),
		Height: 2*padding + depth*nodeH + max(depth-1, 0)*gapY,
	}
	if n == 0 {
		g.Height = 2*padding + nodeH
	}
	x := make([]int, n)
	y := make([]int, n)
	for d, l := range layers {
		rowW := len(l)*nodeW + (len(l)-1)*gapX
		left := (g.Width - rowW) / 2
		for k, i := range l {
			x[i] = left + k*(nodeW+gapX)
			y[i] = padding + d*(nodeH+gapY)
		}
	}
	for i := range r.Steps {
		s := &r.Steps[i]
		g.Nodes = append(g.Nodes, graphNode{
			Step: s, Index: i, X: x[i], Y: y[i], Layer: layer[i],
			Label:  shorten(s.Label(), 24),
			Status: statusLine(s),
			Style:  styleOf(s),
		})
	}
	for _, e := range r.Edges {
		a, okA := index[e.From]
		b, okB := index[e.To]
		if !okA || !okB || a == b {
			continue
		}
		x1, y1 := float64(x[a]+nodeW/2), float64(y[a]+nodeH)
		x2, y2 := float64(x[b]+nodeW/2), float64(y[b])
		bend := math.Max((y2-y1)/2, 20)
		g.Edges = append(g.Edges, graphEdge{
			Path:  fmt.Sprintf("M%.0f,%.0f C%.0f,%.0f %.0f,%.0f %.0f,%.0f", x1, y1, x1, y1+bend, x2, y2-bend, x2, y2-6),
			Muted: r.Steps[b].Skipped(),
		})
	}
	return g
}

// shorten cuts s to n runes, marking the cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func statusLine(s *runview.Step) string {
	if s.DurationSeconds > 0 {
		return s.Phase + " · " + formatSeconds(s.DurationSeconds)
	}
	return s.Phase
}

// formatSeconds prints a duration the way people read run times.
func formatSeconds(sec float64) string {
	switch {
	case sec < 60:
		return fmt.Sprintf("%gs", math.Round(sec*10)/10)
	case sec < 3600:
		return fmt.Sprintf("%dm%02ds", int(sec)/60, int(sec)%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(sec)/3600, int(sec)%3600/60)
	}
}
