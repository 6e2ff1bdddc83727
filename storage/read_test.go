package storage

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/mdcap/mdcap/schema"
)

// goodFile writes a small quotes file with two row groups and returns
// its bytes.
func goodFile(t testing.TB) []byte {
	t.Helper()
	cfg := testConfig(t)
	d := openDS(t, cfg)
	g := newQuoteGen(9)
	var r schema.Quote
	for i := 0; i < 150; i++ {
		g.next(&r, true)
		if err := d.WriteQuote("ESZ6", &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	files := parquetFiles(t, cfg.Root, "quotes")
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readBack runs every read helper over a file, as inspect does; it must
// return errors, never panic.
func readBack(t testing.TB, path string) error {
	pf, err := OpenParquet(path)
	if err != nil {
		return err
	}
	defer pf.Close()
	if _, err := ReadMeta(pf); err != nil {
		return err
	}
	_, err = HeadRows(pf, 1000)
	return err
}

func TestReadMetaOfGoodFile(t *testing.T) {
	b := goodFile(t)
	p := filepath.Join(t.TempDir(), "q.parquet")
	os.WriteFile(p, b, 0o644)
	pf, err := OpenParquet(p)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	m, err := ReadMeta(pf)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 150 || m.RowGroups != 2 || !m.HasRecvTS || m.MinRecvTS >= m.MaxRecvTS || len(m.Columns) != 17 {
		t.Fatalf("meta %+v", m)
	}
	if m.KeyValue["mdcap.table"] != "quotes" || m.KeyValue["mdcap.run_id"] == "" {
		t.Fatalf("key/value %v", m.KeyValue)
	}
	for _, c := range m.Columns {
		if c.Compression != "ZSTD" {
			t.Errorf("%s: %s", c.Path, c.Compression)
		}
	}
	rows, err := HeadRows(pf, 1000)
	if err != nil || len(rows) != 150 {
		t.Fatalf("head: %d rows, %v", len(rows), err)
	}
}

func TestReadCorruptFilesNeverPanics(t *testing.T) {
	b := goodFile(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "x.parquet")
	rng := rand.New(rand.NewPCG(1, 2))
	failed := 0
	for i := 0; i < 300; i++ {
		c := append([]byte(nil), b...)
		switch i % 3 {
		case 0: // truncated
			c = c[:rng.IntN(len(c))]
		case 1: // bytes flipped in the footer region
			for k := 0; k < 4; k++ {
				j := len(c) - 1 - rng.IntN(min(len(c), 600))
				c[j] ^= byte(1 + rng.IntN(255))
			}
		case 2: // bytes flipped anywhere
			for k := 0; k < 8; k++ {
				c[rng.IntN(len(c))] ^= byte(1 + rng.IntN(255))
			}
		}
		if err := os.WriteFile(p, c, 0o644); err != nil {
			t.Fatal(err)
		}
		if readBack(t, p) != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no corruption was detected: the test exercised nothing")
	}
}

func FuzzReadParquet(f *testing.F) {
	f.Add(goodFile(f))
	f.Add([]byte("PAR1PAR1"))
	f.Add([]byte("PAR1\x00\x00\x00\x00\x04\x00\x00\x00PAR1"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.parquet")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_ = readBack(t, p)
	})
}
