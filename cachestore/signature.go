package cachestore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrSignature is wrapped by Get for an entry whose signature is missing
// or made with none of the installation's keys: whoever wrote it could
// write to Redis but did not hold the key, so it is never served.
var ErrSignature = errors.New("cache entry signature does not verify")

// MinKeyBytes is the shortest HMAC key accepted. kfpargo install makes
// keys of 64 hex digits (32 random bytes).
const MinKeyBytes = 32

// signatureDomain separates entry MACs from any other use of the key.
const signatureDomain = "kfpargo cache entry v1\n"

// Keyring holds an installation's HMAC keys. The first signs; any of them
// verifies, so a new key can roll out while entries signed with the old
// one are still served.
type Keyring struct {
	keys [][]byte
}

// ParseKeyring reads keys separated by white space or commas, as they are
// in the HMAC_KEY value of a Secret (one key, or "new old" during a
// rotation). Errors name the key by position, never by value.
func ParseKeyring(text string) (*Keyring, error) {
	fields := strings.FieldsFunc(text, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if len(fields) == 0 {
		return nil, errors.New("no HMAC key")
	}
	k := &Keyring{}
	for i, f := range fields {
		if len(f) < MinKeyBytes {
			return nil, fmt.Errorf("HMAC key %d of %d: %d bytes, want at least %d", i+1, len(fields), len(f), MinKeyBytes)
		}
		k.keys = append(k.keys, []byte(f))
	}
	return k, nil
}

// scopeDomain separates scope keys from entry MACs.
const scopeDomain = "kfpargo cache scope key v1\n"

// ForScope derives the keys of one scope: HMAC-SHA256(key, scope) of each
// key, as hex text like an installation's key. A namespace's launchers
// hold only their scope's keys, so whoever reads one namespace's Secret
// can sign entries for that namespace and no other.
func (k *Keyring) ForScope(scope Scope) *Keyring {
	out := &Keyring{keys: make([][]byte, len(k.keys))}
	for i, key := range k.keys {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(scopeDomain))
		h.Write([]byte(scope))
		out.keys[i] = []byte(hex.EncodeToString(h.Sum(nil)))
	}
	return out
}

// ScopeKeys derives from an installation's keys (ParseKeyring's text) the
// keys of one scope, as text for HMAC_KEY in the Secret of the launchers
// that write that scope's entries.
func ScopeKeys(text string, scope Scope) (string, error) {
	k, err := ParseKeyring(text)
	if err != nil {
		return "", err
	}
	if err := scope.Validate(); err != nil {
		return "", err
	}
	d := k.ForScope(scope)
	parts := make([]string, len(d.keys))
	for i, key := range d.keys {
		parts[i] = string(key)
	}
	return strings.Join(parts, " "), nil
}

// String and GoString keep the keys out of logs and error messages.
func (k *Keyring) String() string   { return fmt.Sprintf("Keyring{%d keys}", len(k.keys)) }
func (k *Keyring) GoString() string { return k.String() }

// canonical is what a signature covers: the entry's JSON with the
// signature left out. encoding/json writes struct fields in order and map
// keys sorted, so the signer and a verifier that decoded the entry produce
// the same bytes.
func canonical(e *Entry) ([]byte, error) {
	unsigned := *e
	unsigned.Signature = ""
	b, err := json.Marshal(&unsigned)
	if err != nil {
		return nil, fmt.Errorf("encode cache entry for its signature: %w", err)
	}
	return b, nil
}

func mac(key, canon []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(signatureDomain))
	h.Write(canon)
	return h.Sum(nil)
}

// Sign sets e.Signature with the first key.
func (k *Keyring) Sign(e *Entry) error {
	canon, err := canonical(e)
	if err != nil {
		return err
	}
	e.Signature = hex.EncodeToString(mac(k.keys[0], canon))
	return nil
}

// Verify checks e.Signature against every key; the error wraps
// ErrSignature.
func (k *Keyring) Verify(e *Entry) error {
	if e.Signature == "" {
		return fmt.Errorf("%w: the entry is not signed", ErrSignature)
	}
	got, err := hex.DecodeString(e.Signature)
	if err != nil {
		return fmt.Errorf("%w: the signature is not hex", ErrSignature)
	}
	// Encoded once, whatever the number of keys.
	canon, err := canonical(e)
	if err != nil {
		return err
	}
	for _, key := range k.keys {
		if hmac.Equal(got, mac(key, canon)) {
			return nil
		}
	}
	return fmt.Errorf("%w: made with none of the %d keys", ErrSignature, len(k.keys))
}
