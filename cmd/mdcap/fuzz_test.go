package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mdcap/mdcap/verify/verifytest"
)

// FuzzConfigFile loads arbitrary bytes as the --config YAML file of
// record: the result is a usage error or a configuration that validates,
// never a panic.
func FuzzConfigFile(f *testing.F) {
	for _, seed := range []string{
		"symbols: ESZ6,NQZ6\nout: /tmp/x\n",
		"symbols: [ESZ6, NQZ6]\ndom: true\nroll-size: 64MiB\n",
		"sim: true\nduration: 5s\nbuffer: 1024\n",
		"symbols: ESZ6\nheartbeat: -1s\n",
		"symbols: ESZ6\nbuffer: 99999999999999999999\n",
		"symbols: ESZ6\nroll-size: 1e400\n",
		"symbols: {a: b}\n",
		"password: hunter2\nsymbols: ESZ6\n",
		"config: other.yaml\n",
		"? [a]\n: b\n",
		"a: &x [*x]\n",
		"symbols: !!binary aGVsbG8=\n",
		"- just\n- a list\n",
		"\xff\xfe",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "mdcap.yaml")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadWith(t, "--config", p)
		if err == nil {
			if verr := cfg.validate(); verr != nil {
				t.Fatalf("loaded a configuration that does not validate: %v", verr)
			}
		}
	})
}

// FuzzInspect describes arbitrary bytes as a Parquet file of a dataset:
// an error or a description, never a panic.
func FuzzInspect(f *testing.F) {
	f.Add([]byte("PAR1PAR1"))
	f.Add([]byte("PAR1\x00\x00\x00\x00\x04\x00\x00\x00PAR1"))
	f.Add([]byte("PAR1\x15\x04\x15\x00PAR1"))
	f.Add([]byte{})
	good := verifytest.New(f)
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, p := range []string{
		good.Quotes("ESZ6", verifytest.Every(t0, 0, time.Minute, time.Second)...),
		good.Events("ESZ6", verifytest.Gap("w1-1", "eof", t0.UnixNano(), t0.UnixNano(), t0.Add(time.Second).UnixNano(), "{}")),
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add(b[len(b)/2:])
	}
	dir := filepath.Join(f.TempDir(), "quotes", "date=2026-11-25", "symbol=ESZ6")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "w1.parquet")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err := inspectPaths([]string{p}, 3)
		if err == nil && (rep == nil || rep.Summary.Files != 1) {
			t.Fatalf("no error and no description: %+v", rep)
		}
	})
}
