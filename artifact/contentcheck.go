package artifact

import (
	"encoding/hex"
	"fmt"
	"hash"
	"regexp"
)

// contentCheck verifies the bytes of one download as they are written:
// either by hashing them with SHA-256, or, when the object's stored digest
// can be trusted, by their CRC-32C against the stored one.
type contentCheck struct {
	sha       *asyncHash  // nil when the stored digest stands in
	crc       hash.Hash32 // nil when hashing
	storedSHA string
	storedCRC string
}

var (
	sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)
	crc32Hex  = regexp.MustCompile(`^[0-9a-f]{8}$`)
)

// newContentCheck picks the check for an object with the given user
// metadata: the stored digest is used only in VerifyChecksum mode, when the
// caller allows it, when a CRC-32C was stored beside it, and when it is the
// digest the caller expects (a mismatch is left to the full hash to confirm).
func (s *Store) newContentCheck(meta map[string]string, want string, useStored bool) *contentCheck {
	sha, crc := meta[MetaSHA256], meta[MetaCRC32C]
	if s.verify == VerifyChecksum && useStored && sha256Hex.MatchString(sha) && crc32Hex.MatchString(crc) && (want == "" || want == sha) {
		return &contentCheck{crc: newCRC32C(), storedSHA: sha, storedCRC: crc}
	}
	return &contentCheck{sha: newAsyncHash()}
}

func (c *contentCheck) Write(p []byte) (int, error) {
	if c.sha != nil {
		return c.sha.Write(p)
	}
	return c.crc.Write(p)
}

// result returns the content's SHA-256, or an error when the bytes do not
// match the stored checksum.
func (c *contentCheck) result() (string, error) {
	if c.sha != nil {
		return c.sha.Sum(), nil
	}
	if got := hex.EncodeToString(c.crc.Sum(nil)); got != c.storedCRC {
		return "", fmt.Errorf("content CRC-32C %s does not match the %s stored with the object", got, c.storedCRC)
	}
	return c.storedSHA, nil
}

func (c *contentCheck) close() {
	if c.sha != nil {
		c.sha.close()
	}
}
