package translator

import (
	"encoding/json"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argotemplate "github.com/argoproj/argo-workflows/v3/util/template"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kfpargo/kfpargo/step"
)

// renderManifest substitutes a resource template's inputs with Argo's own
// code and parses the manifest it would apply.
func renderManifest(t *testing.T, tmpl *wfv1.Template, inputs map[string]string) *corev1.PersistentVolumeClaim {
	t.Helper()
	raw, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"pod.name": "run-1-createpvc-42"}
	for _, p := range tmpl.Inputs.Parameters {
		if p.Default != nil {
			vars["inputs.parameters."+p.Name] = p.Default.String()
		}
	}
	for k, v := range inputs {
		vars["inputs.parameters."+k] = v
	}
	out, err := argotemplate.Replace(string(raw), vars, false)
	if err != nil {
		t.Fatalf("Argo substitution: %v", err)
	}
	var resolved wfv1.Template
	if err := json.Unmarshal([]byte(out), &resolved); err != nil {
		t.Fatal(err)
	}
	var pvc corev1.PersistentVolumeClaim
	if err := yaml.UnmarshalStrict([]byte(resolved.Resource.Manifest), &pvc); err != nil {
		t.Fatalf("manifest does not parse: %v\n%s", err, resolved.Resource.Manifest)
	}
	return &pvc
}

func TestCreatePVC(t *testing.T) {
	path := corpusDir + "/valid/pipeline_with_volume_no_cache.yaml"
	wf, err := Translate(load(t, path), Options{})
	if err != nil {
		t.Fatal(err)
	}
	argoValidate(t, wf)
	create, del := templateNamed(wf, "createpvc"), templateNamed(wf, "deletepvc")
	if create.Resource == nil || create.Resource.Action != "create" || create.Container != nil || del.Resource == nil || del.Resource.Action != "delete" {
		t.Fatalf("not resource templates: %s %s", jsonOf(create), jsonOf(del))
	}
	if got := jsonOf(create.Outputs.Parameters); got != `[{"name":"name","valueFrom":{"jsonPath":"{.metadata.name}"}}]` {
		t.Errorf("output %s", got)
	}
	for _, task := range []string{"producer", "consumer"} {
		if got := taskArg(wf, task, "k8s-pvc-0"); got != "{{tasks.createpvc.outputs.parameters.name}}" {
			t.Errorf("%s mounts %s", task, got)
		}
	}
	for _, tc := range []struct {
		name   string
		inputs map[string]string
		want   string
	}{
		{"suffix after the pod name", map[string]string{"access_modes": `["ReadWriteOnce"]`, "pvc_name_suffix": "-my-pvc", "size": "5Mi", "storage_class_name": "standard"},
			`{"kind":"PersistentVolumeClaim","apiVersion":"v1","metadata":{"name":"run-1-createpvc-42-my-pvc","creationTimestamp":null},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"5Mi"}},"storageClassName":"standard"},"status":{}}`},
		{"fixed name, annotations, data source, volume", map[string]string{"access_modes": `["ReadWriteMany","ReadOnlyMany"]`, "pvc_name": "mine", "size": "1Gi",
			"annotations": `{"a":"b"}`, "data_source": `{"kind":"VolumeSnapshot","name":"snap","apiGroup":"snapshot.storage.k8s.io"}`, "volume_name": "pv-1"},
			`{"kind":"PersistentVolumeClaim","apiVersion":"v1","metadata":{"name":"mine","creationTimestamp":null,"annotations":{"a":"b"}},"spec":{"accessModes":["ReadWriteMany","ReadOnlyMany"],"resources":{"requests":{"storage":"1Gi"}},"volumeName":"pv-1","storageClassName":"","dataSource":{"apiGroup":"snapshot.storage.k8s.io","kind":"VolumeSnapshot","name":"snap"}},"status":{}}`},
		{"no name, no class: pod name and cluster default", map[string]string{"access_modes": `["ReadWriteOnce"]`, "size": "1Gi", "storage_class_name": step.AbsentValue},
			`{"kind":"PersistentVolumeClaim","apiVersion":"v1","metadata":{"name":"run-1-createpvc-42","creationTimestamp":null},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}},"status":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := jsonOf(renderManifest(t, create, tc.inputs)); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	if got := jsonOf(renderManifest(t, del, map[string]string{"pvc_name": "run-1-createpvc-42-my-pvc"}).ObjectMeta); got != `{"name":"run-1-createpvc-42-my-pvc","creationTimestamp":null}` {
		t.Errorf("delete manifest names %s", got)
	}
}
