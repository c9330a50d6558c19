package step

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// MaxArgBytes is the longest command-line argument Linux passes to a
// process (MAX_ARG_STRLEN, 32 pages of 4 KiB, counting the terminating
// NUL). A pod whose main container has a longer one never starts the
// launcher: Argo's executor fails with "argument list too long"
// (argoproj/argo-workflows#15471).
const MaxArgBytes = 128<<10 - 1

// MaxParamValueBytes bounds one parameter value, input or output. A value
// reaches the step that reads it as part of one argument,
// --param NAME:TYPE=VALUE, so it must fit in MaxArgBytes with room left for
// the name and type. It also keeps a run's parameters well inside the
// Workflow object, which etcd caps at about 1.5 MiB.
const MaxParamValueBytes = 100 << 10

// CheckParamValue says why a value cannot be a parameter's: too large, or
// not UTF-8 (Argo keeps parameters in JSON, which would replace each bad
// byte, so the next step would read another value than the one written).
func CheckParamValue(v string) error {
	if len(v) > MaxParamValueBytes {
		return fmt.Errorf("value of %d bytes is larger than the %d a parameter can carry (each reaches its step as one command-line argument, which Linux caps at 128 KiB); pass large data as an artifact", len(v), MaxParamValueBytes)
	}
	return checkUTF8(v)
}

func checkUTF8(v string) error {
	if utf8.ValidString(v) {
		return nil
	}
	for i, r := range v {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(v[i:]); n == 1 {
				return fmt.Errorf("value is not UTF-8 text: byte 0x%02x at offset %d", v[i], i)
			}
		}
	}
	return nil
}

// CheckArg says why a literal argument cannot be part of a step's command.
func CheckArg(a string) error {
	if len(a) > MaxArgBytes {
		return fmt.Errorf("an argument of %d bytes, larger than the %d Linux passes to a process; pass large data as an artifact or a file in the image", len(a), MaxArgBytes)
	}
	return nil
}

// MaxNameBytes bounds the name of a parameter or artifact: it becomes a
// file name (NAME, NAME.json), which Linux caps at 255 bytes.
const MaxNameBytes = 200

// ValidName reports whether s can name a parameter or artifact: what Argo
// accepts in a parameter name (letters, digits, '_', '-'), which also keeps
// it a single path element, and at most MaxNameBytes long.
func ValidName(s string) bool {
	if s == "" || len(s) > MaxNameBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Quote quotes a value for an error message, only its start when it is
// long: values can be as large as a parameter, and an error that repeats
// one fills logs and Argo's node messages.
func Quote(s string) string {
	const head = 64
	if len(s) <= head {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:head]), len(s))
}
