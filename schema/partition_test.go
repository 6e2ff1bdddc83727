package schema

import (
	"path"
	"path/filepath"
	"strings"
	"testing"
)

func TestEncodeSymbol(t *testing.T) {
	cases := []struct{ in, want string }{
		{"ESZ6", "ESZ6"},
		{"es-z6_x.y~", "es-z6_x.y~"},
		{"a/b", "a%2Fb"},
		{"../x", "..%2Fx"},
		{".", "%2E"},
		{"..", "%2E%2E"},
		{"...", "%2E%2E%2E"},
		{"a b", "a%20b"},
		{"a%b", "a%25b"},
		{"a\x00b", "a%00b"},
		{"\n\t\x7f", "%0A%09%7F"},
		{`a\b`, "a%5Cb"},
		{"é", "%C3%A9"},
		{"a=b", "a%3Db"},
	}
	for _, c := range cases {
		if got := EncodeSymbol(c.in); got != c.want {
			t.Errorf("EncodeSymbol(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func hostileSymbols() []string {
	return []string{
		"ESZ6", "NQZ6", "../x", "..", ".", "...", "a/b", "a\\b", "/abs", "a\x00b",
		"\x01\x02\x1f", "tab\there", "new\nline", strings.Repeat("Z", 300),
		"日本語", "é", "a b", "a%2Fb", "a%b", "%", "%%", "%zz", "~", "-", "_",
		"date=2026-01-01", "symbol=x", ".hidden", "x.", ".x.", "\xff\xfe",
	}
}

func TestPartitionDirHostile(t *testing.T) {
	root := t.TempDir()
	seen := map[string]string{}
	for _, sym := range hostileSymbols() {
		dir := PartitionDir(TableQuotes, "2026-11-25", sym)
		if dir == "" {
			t.Fatalf("PartitionDir(%q) = empty", sym)
		}
		// Stays inside its date folder: exactly three clean segments.
		if path.Clean(dir) != dir {
			t.Errorf("%q: dir %q is not clean", sym, dir)
		}
		parts := strings.Split(dir, "/")
		if len(parts) != 3 || parts[0] != "quotes" || parts[1] != "date=2026-11-25" || !strings.HasPrefix(parts[2], "symbol=") {
			t.Errorf("%q: dir %q escapes its partition", sym, dir)
		}
		full := filepath.Join(root, filepath.FromSlash(dir))
		rel, err := filepath.Rel(filepath.Join(root, "quotes", "date=2026-11-25"), full)
		if err != nil || strings.Contains(rel, string(filepath.Separator)) || strings.HasPrefix(rel, "..") {
			t.Errorf("%q: %q resolves outside the date folder (rel %q)", sym, full, rel)
		}
		enc := strings.TrimPrefix(parts[2], "symbol=")
		for i := 0; i < len(enc); i++ {
			if enc[i] < 0x20 || enc[i] >= 0x7f || enc[i] == '/' || enc[i] == '\\' {
				t.Errorf("%q: encoded %q has byte %#x", sym, enc, enc[i])
			}
		}
		if onlyDots(enc) {
			t.Errorf("%q: encoded to dots only: %q", sym, enc)
		}
		if prev, ok := seen[dir]; ok {
			t.Errorf("%q and %q collide in %q", prev, sym, dir)
		}
		seen[dir] = sym
		back, err := DecodeSymbol(enc)
		if err != nil || back != sym {
			t.Errorf("DecodeSymbol(%q) = %q, %v; want %q", enc, back, err, sym)
		}
		tb, date, sym2, err := ParsePartitionDir(dir)
		if err != nil || tb != TableQuotes || date != "2026-11-25" || sym2 != sym {
			t.Errorf("ParsePartitionDir(%q) = %v %q %q %v", dir, tb, date, sym2, err)
		}
	}
}

func TestPartitionDirBadInput(t *testing.T) {
	for _, c := range []struct {
		tb   Table
		date string
		sym  string
	}{
		{TableQuotes, "2026-11-25", ""},
		{TableQuotes, "2026-11-2", "X"},
		{TableQuotes, "../../../x", "X"},
		{TableQuotes, "2026/11/25", "X"},
		{NumTables, "2026-11-25", "X"},
	} {
		if got := PartitionDir(c.tb, c.date, c.sym); got != "" {
			t.Errorf("PartitionDir(%v, %q, %q) = %q, want empty", c.tb, c.date, c.sym, got)
		}
	}
}

func TestDecodeSymbolErrors(t *testing.T) {
	for _, seg := range []string{"%", "%2", "a%G0", "%zz"} {
		if _, err := DecodeSymbol(seg); err == nil {
			t.Errorf("DecodeSymbol(%q) succeeded", seg)
		}
	}
	if got, err := DecodeSymbol("a%2fb"); err != nil || got != "a/b" {
		t.Errorf("lower-case hex: %q %v", got, err)
	}
}

func FuzzSymbolRoundTrip(f *testing.F) {
	for _, s := range hostileSymbols() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := EncodeSymbol(s)
		back, err := DecodeSymbol(enc)
		if err != nil || back != s {
			t.Fatalf("round trip %q -> %q -> %q, %v", s, enc, back, err)
		}
		if s != "" && (strings.ContainsAny(enc, "/\\\x00") || onlyDots(enc)) {
			t.Fatalf("unsafe encoding %q of %q", enc, s)
		}
	})
}

func TestCheckSymbol(t *testing.T) {
	if err := CheckSymbol("ESZ6"); err != nil {
		t.Fatal(err)
	}
	if err := CheckSymbol(strings.Repeat("Y", MaxEncodedSymbol)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"", strings.Repeat("Y", 300), strings.Repeat("/", 90)} {
		if err := CheckSymbol(s); err == nil {
			t.Errorf("CheckSymbol(%.10q) accepted", s)
		}
	}
}
