package storage

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A trailer claiming a footer longer than the file must be refused before
// the reader allocates it (found by FuzzInspect: a 6 KB file made it ask
// for 3.9 GB and the process died out of memory).
func TestOpenParquet_HugeFooterLengthRefused(t *testing.T) {
	b := goodFile(t)
	for _, n := range []uint32{0xffffffff, 0xe8030392, uint32(len(b))} {
		c := append([]byte(nil), b...)
		binary.LittleEndian.PutUint32(c[len(c)-8:], n)
		p := filepath.Join(t.TempDir(), "f.parquet")
		if err := os.WriteFile(p, c, 0o644); err != nil {
			t.Fatal(err)
		}
		pf, err := OpenParquet(p)
		if err == nil {
			pf.Close()
			t.Fatalf("footer length %d in a %d-byte file: opened", n, len(c))
		}
		if !strings.Contains(err.Error(), "footer length") || !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not name the file and the footer length", err)
		}
	}
}
