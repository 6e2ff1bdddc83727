package storage

import "testing"

func TestFileNames(t *testing.T) {
	for _, c := range []struct{ writer, run string }{
		{"w1", "w1-20261125T210000Z"}, {"host.example_1", "a_b~c"}, {"日本", ".."}, {"x", ""},
	} {
		final := fileName(c.writer, c.run, 42)
		for _, name := range []string{final, tempName(final)} {
			w, r, n, temp, ok := ParseFileName(name)
			if !ok || w != c.writer || r != c.run || n != 42 || temp != (name != final) {
				t.Errorf("ParseFileName(%q) = %q %q %d %v %v", name, w, r, n, temp, ok)
			}
		}
		if final[0] == '.' || IsTempName(final) || !IsTempName(tempName(final)) {
			t.Errorf("%q: temporary/final confusion", final)
		}
		if !tempOfWriter(tempName(final), c.writer) || tempOfWriter(tempName(final), c.writer+"x") {
			t.Errorf("%q: writer match", final)
		}
	}
	for _, bad := range []string{"x.parquet", "a_b.parquet", "a_b_c.parquet", "a_b_1.csv", ".a_b_1.parquet", "a~G1_b_1.parquet", "_b_1.parquet"} {
		if _, _, _, _, ok := ParseFileName(bad); ok {
			t.Errorf("ParseFileName(%q) accepted", bad)
		}
	}
}
