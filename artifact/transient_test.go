package artifact

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/url"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestTransient(t *testing.T) {
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: "https://s3:9000/b/k", Err: err} }
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"cut connection", wrap(io.ErrUnexpectedEOF), true},
		{"server error", minio.ErrorResponse{StatusCode: 503, Code: "ServiceUnavailable"}, true},
		{"throttled", minio.ErrorResponse{StatusCode: 429}, true},
		{"refused credentials", minio.ErrorResponse{StatusCode: 403, Code: "AccessDenied"}, false},
		{"cancelled", context.Canceled, false},
		{"untrusted certificate", wrap(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), false},
		{"not a TLS server", wrap(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), false},
		{"alert from the server", wrap(tls.AlertError(42)), false},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("%s: transient(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
