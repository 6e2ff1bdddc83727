package feed

import "encoding/json"

// responseText returns the text of an error response's `d`, stripping one
// extra JSON layer when the server double-encoded it ("\"Not found: …\"").
// The second result reports whether d was a JSON string at all.
func responseText(d []byte) (string, bool) {
	if len(d) == 0 || d[0] != '"' {
		return string(d), false
	}
	var s string
	if err := json.Unmarshal(d, &s); err != nil {
		return string(d), false
	}
	if len(s) > 1 && s[0] == '"' {
		var inner string
		if err := json.Unmarshal([]byte(s), &inner); err == nil {
			return inner, true
		}
	}
	return s, true
}

// responseBody returns the JSON payload of a response's `d`: when `d` is a
// string that itself holds JSON (one extra encoding layer), the inner JSON.
func responseBody(d []byte) []byte {
	if len(d) == 0 || d[0] != '"' {
		return d
	}
	var s string
	if err := json.Unmarshal(d, &s); err != nil || !json.Valid([]byte(s)) {
		return d
	}
	return []byte(s)
}
