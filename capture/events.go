package capture

import (
	"encoding/json"
	"sort"

	"github.com/mdcap/mdcap/schema"
)

// Table bits, for the "tables" list of gap rows.
const (
	bitQuotes uint8 = 1 << iota
	bitDOM
)

func tableNames(bits uint8) []string {
	names := make([]string, 0, 2)
	if bits&bitQuotes != 0 {
		names = append(names, schema.TableQuotes.String())
	}
	if bits&bitDOM != 0 {
		names = append(names, schema.TableDOM.String())
	}
	return names
}

// detailJSON encodes an events row's detail: base merged with extra (extra
// wins). Keys are sorted by encoding/json; values that cannot be encoded are
// replaced by their fmt form so that a detail is never lost.
func detailJSON(base map[string]any, extra map[string]any) string {
	if len(base) == 0 && len(extra) == 0 {
		return "{}"
	}
	m := make(map[string]any, len(base)+len(extra))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		safe := make(map[string]string, len(m))
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			safe[k] = stringify(m[k])
		}
		b, _ = json.Marshal(safe)
	}
	return string(b)
}

func stringify(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "unencodable"
	}
	return string(b)
}

func ptr(v int64) *int64 { return &v }

// merge returns a copy of a with b's entries added (b wins).
func merge(a, b map[string]any) map[string]any {
	if len(a) == 0 {
		return b
	}
	m := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}
