//go:build tools

package kfpargo

import (
	_ "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	_ "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	_ "github.com/argoproj/argo-workflows/v3/workflow/validate"
	_ "github.com/minio/minio-go/v7"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/spf13/cobra"
	_ "go.uber.org/zap"
	_ "k8s.io/client-go/kubernetes"
	_ "sigs.k8s.io/yaml"
)
