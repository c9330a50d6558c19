package translator

import (
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// The KFP SDK compiles kubernetes.CreatePVC and DeletePVC into container
// executors with these placeholder images and no command; KFP's driver
// does the work itself. kfpargo makes them Argo resource templates, so no
// step pod of ours runs (Argo's executor applies the manifest) and the
// workflow's service account needs create/delete on persistentvolumeclaims.
const (
	imageCreatePVC = "argostub/createpvc"
	imageDeletePVC = "argostub/deletepvc"
)

func isPVCStub(image string) bool { return image == imageCreatePVC || image == imageDeletePVC }

// pvcTemplate translates a CreatePVC or DeletePVC component. The inputs
// are the component's, bound by each task as usual; the manifest reads
// them with Argo expressions, which Argo evaluates when the step starts.
func (t *translation) pvcTemplate(name, compName string, comp *ir.ComponentSpec, c *ir.ContainerSpec) {
	at := "components." + compName
	tmpl := wfv1.Template{
		Name:     name,
		Metadata: wfv1.Metadata{Labels: map[string]string{LabelComponent: dnsName(strings.TrimPrefix(compName, "comp-"))}},
		Inputs:   wfv1.Inputs{Parameters: []wfv1.Parameter{{Name: step.TaskParam}}},
	}
	declared := map[string]bool{}
	if in := comp.InputDefinitions; in != nil {
		for _, p := range sortedKeys(in.Parameters) {
			declared[p] = true
			param := wfv1.Parameter{Name: p}
			if v, ok, err := defaultValue(in.Parameters[p]); err != nil {
				t.fail(at+".inputDefinitions.parameters."+p+".defaultValue", "%v", err)
			} else if ok {
				param.Default = wfv1.AnyStringPtr(v)
			}
			tmpl.Inputs.Parameters = append(tmpl.Inputs.Parameters, param)
		}
	}
	need := func(names ...string) bool {
		for _, n := range names {
			if !declared[n] {
				t.fail(at+".inputDefinitions.parameters", "a %s component needs input %q", c.Image, n)
				return false
			}
		}
		return true
	}
	switch c.Image {
	case imageCreatePVC:
		if !need("access_modes", "size") {
			return
		}
		tmpl.Resource = &wfv1.ResourceTemplate{Action: "create", Manifest: createPVCManifest(declared)}
		tmpl.Outputs.Parameters = []wfv1.Parameter{{Name: "name", ValueFrom: &wfv1.ValueFrom{JSONPath: "{.metadata.name}"}}}
	case imageDeletePVC:
		if !need("pvc_name") {
			return
		}
		tmpl.Resource = &wfv1.ResourceTemplate{
			Action:   "delete",
			Manifest: "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: '{{inputs.parameters.pvc_name}}'\n",
		}
	}
	t.templates = append(t.templates, tmpl)
}

// createPVCManifest writes the claim as YAML whose run-time values are
// expression tags yielding JSON (which is YAML). Optional
// inputs left unset hold step.AbsentValue and leave their field out:
//   - name: pvc_name; else the step's pod name followed by pvc_name_suffix
//     (KFP puts a UUID before the suffix: the pod name is as unique and
//     says which run made the claim); else the pod name alone;
//   - storageClassName: omitted when unset, so the cluster default applies
//     as the SDK documents (KFP's driver substitutes "standard"); an empty
//     string is kept: no dynamic provisioning;
//   - annotations, volumeName and dataSource: omitted when unset.
func createPVCManifest(declared map[string]bool) string {
	in := func(n string) string { return "inputs.parameters[" + exprString(n) + "]" }
	absent := exprString(step.AbsentValue)
	set := func(n string) string { return "!(" + in(n) + " in [" + absent + `, ""])` }
	tag := func(code string) string { return "{{=toJson(" + code + ")}}" }
	optional := func(n, code string) string {
		if !declared[n] {
			return "null"
		}
		return tag(in(n) + " == " + absent + " ? nil : " + code)
	}

	name := "pod.name"
	if declared["pvc_name_suffix"] {
		name = "(" + set("pvc_name_suffix") + " ? pod.name + " + in("pvc_name_suffix") + " : pod.name)"
	}
	if declared["pvc_name"] {
		name = "(" + set("pvc_name") + " ? " + in("pvc_name") + " : " + name + ")"
	}
	volumeName := "null"
	if declared["volume_name"] {
		volumeName = tag(set("volume_name") + " ? " + in("volume_name") + " : nil")
	}
	return "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n" +
		"  name: " + tag(name) + "\n" +
		"  annotations: " + optional("annotations", "fromJSON("+in("annotations")+")") + "\n" +
		"spec:\n" +
		"  accessModes: {{inputs.parameters.access_modes}}\n" +
		"  resources:\n    requests:\n      storage: '{{inputs.parameters.size}}'\n" +
		"  storageClassName: " + optional("storage_class_name", in("storage_class_name")) + "\n" +
		"  volumeName: " + volumeName + "\n" +
		"  dataSource: " + optional("data_source", "fromJSON("+in("data_source")+")") + "\n"
}
