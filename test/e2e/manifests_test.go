package e2e

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kfpargo/kfpargo/install"
)

// manifestObjects renders a kustomization under manifests/ as kubectl
// apply -k would.
func manifestObjects(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := install.Kustomize(dir)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// installClient reaches the stack's apiserver the way kfpargo install does.
func installClient(t *testing.T) *install.Client {
	t.Helper()
	c, err := install.NewClient(stack.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// applyOne server-side applies one object; dryRun leaves the cluster
// unchanged.
func applyOne(ctx context.Context, c *install.Client, obj *unstructured.Unstructured, dryRun bool) error {
	_, err := c.Apply(ctx, []*unstructured.Unstructured{obj}, install.ApplyOptions{DryRun: dryRun})
	return err
}
