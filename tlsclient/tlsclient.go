package tlsclient

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// Config returns a client configuration that trusts the system's roots
// and the CA certificates in caPEM (none when empty). serverName, when
// set, is the name the server's certificate must carry instead of the
// host of the address dialled: for a server reached by an IP address or
// through a tunnel.
func Config(caPEM []byte, serverName string) (*tls.Config, error) {
	roots, err := x509.SystemCertPool()
	if err != nil {
		// A minimal image may have no system roots; a private CA can
		// still be trusted.
		roots = x509.NewCertPool()
	}
	if len(caPEM) > 0 {
		// AppendCertsFromPEM cannot say what is wrong; parse block by block
		// so that a key pasted instead of a certificate is named.
		n := 0
		for rest := caPEM; ; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				return nil, fmt.Errorf("CA: PEM block %d is a %q, want CERTIFICATE", n+1, block.Type)
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("CA: certificate %d: %w", n+1, err)
			}
			roots.AddCert(c)
			n++
		}
		if n == 0 {
			return nil, errors.New("CA: no PEM certificate found (want -----BEGIN CERTIFICATE-----)")
		}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, ServerName: serverName}, nil
}

// ReadCAFile reads the CA certificates of a file option. A file that does
// not exist is no CA (nil, nil), as when an optional Secret or Secret key
// is absent: the system's roots alone then decide, so a missing file can
// make a connection fail but never trust more.
func ReadCAFile(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// IsVerification reports whether err is a failed TLS handshake or
// certificate check, or a server that speaks no TLS: retrying cannot help,
// so callers should stop and report it.
func IsVerification(err error) bool {
	var (
		verr   *tls.CertificateVerificationError
		record tls.RecordHeaderError
		alert  tls.AlertError
		unk    x509.UnknownAuthorityError
		host   x509.HostnameError
		inv    x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &record) || errors.As(err, &alert) ||
		errors.As(err, &unk) || errors.As(err, &host) || errors.As(err, &inv)
}
