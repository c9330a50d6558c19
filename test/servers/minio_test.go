package servers

import (
	"net/http"
	"testing"
)

func TestMinioTLS(t *testing.T) {
	m := StartMinioWith(t, MinioOptions{TLS: true}, "bkt")
	if ok, err := m.Client.BucketExists(t.Context(), "bkt"); err != nil || !ok {
		t.Fatalf("bucket over HTTPS: %v, %v", ok, err)
	}
	// Without the CA the certificate is refused: the server really uses it.
	resp, err := http.Get("https://" + m.Endpoint + "/minio/health/ready")
	if err == nil {
		resp.Body.Close()
		t.Fatal("a client without the test CA trusted the server")
	}
}
