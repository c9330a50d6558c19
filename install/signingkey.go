package install

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfpargo/kfpargo/cachestore"
)

// NewSigningKey makes a cache signing key: 32 random bytes as 64 hex
// digits, so it travels safely in a Secret imported as an environment
// variable.
func NewSigningKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make a cache signing key: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// SigningKey reads the installed signing key; "" when there is none yet.
// Errors name the Secret, never its value.
func (c *Client) SigningKey(ctx context.Context) (string, error) {
	ref := SystemNamespace + "/" + SigningKeySecretName
	sec, err := c.kube.CoreV1().Secrets(SystemNamespace).Get(ctx, SigningKeySecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("Secret %s: %w", ref, err)
	}
	key := string(sec.Data[SigningKeyField])
	if _, err := cachestore.ParseKeyring(key); err != nil {
		return "", fmt.Errorf("Secret %s, key %s: %w", ref, SigningKeyField, err)
	}
	return key, nil
}
