package launcher

import (
	"github.com/kfpargo/kfpargo/artifact"
)

// Outputs are what a step hands on to Argo, and what a cache entry keeps:
// output parameter values as Argo holds them, artifact descriptors, and the
// metrics summary.
type Outputs struct {
	Params    map[string]string
	Artifacts map[string]*artifact.Descriptor
	// Metrics is the kfpargo-metrics parameter's value; empty for a step
	// without metrics outputs.
	Metrics string

	metricValues map[string]map[string]any // for the table at the end of the log
}

// write puts every output in the file Argo reads it from. Each file is
// written atomically; all are written only once every output is known.
func (o *Outputs) write(l Layout) error {
	files := map[string][]byte{}
	for name, v := range o.Params {
		files[l.ArgoParamFile(name)] = []byte(v)
	}
	for name, d := range o.Artifacts {
		b, err := d.JSON()
		if err != nil {
			return err
		}
		files[l.ArgoArtifactFile(name)] = b
	}
	if o.Metrics != "" {
		files[l.MetricsFile()] = []byte(o.Metrics)
	}
	for _, p := range sortedKeys(files) {
		if err := writeAtomic(p, files[p]); err != nil {
			return err
		}
	}
	return nil
}
