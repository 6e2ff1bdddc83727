package feed

import "fmt"

// Secret holds a password, an API secret or an access token. Every way of
// printing it (String, fmt verbs, JSON, zerolog) yields a redacted marker,
// so a Secret cannot reach a log line, an error string or an events row by
// accident. Reveal returns the value for the one place that must send it.
type Secret string

const redacted = "[REDACTED]"

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString redacts the secret for %#v.
func (s Secret) GoString() string { return s.String() }

// Format redacts the secret for every fmt verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalJSON redacts the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText redacts the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret's value. Call it only where the value is sent
// to the server.
func (s Secret) Reveal() string { return string(s) }
