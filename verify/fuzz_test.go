package verify

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/verify/verifytest"
)

// FuzzRunCorrupt replaces one file of a small dataset (quotes, dom or
// events, chosen by the first byte) with arbitrary bytes: Run must report
// a *BadInputError or a report, and with SkipBad a report, never panic or
// hang.
func FuzzRunCorrupt(f *testing.F) {
	d := verifytest.New(f)
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	recv := verifytest.Every(t0, 0, time.Minute, time.Second)
	files := []string{
		d.Quotes("ESZ6", recv...),
		d.DOM("ESZ6", recv...),
		d.Events("ESZ6",
			verifytest.Ev(schema.KindStart, "w1-1", recv[0]),
			verifytest.Gap("w1-1", schema.ReasonEOF, recv[10], recv[10], recv[12], `{"tables":["quotes","dom"]}`),
			verifytest.Ev(schema.KindStop, "w1-1", recv[len(recv)-1])),
	}
	orig := make([][]byte, len(files))
	for i, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		orig[i] = b
		for _, cut := range []int{0, 4, 8, len(b) / 2, len(b) - 8, len(b) - 1} {
			f.Add(byte(i), b[:cut])
		}
		f.Add(byte(i), b)
		flipped := append([]byte(nil), b...)
		flipped[len(b)/3] ^= 0xff
		f.Add(byte(i), flipped)
	}
	f.Add(byte(2), []byte("PAR1\x00\x00\x00\x00\x04\x00\x00\x00PAR1"))
	f.Fuzz(func(t *testing.T, which byte, b []byte) {
		i := int(which) % len(files)
		if err := os.WriteFile(files[i], b, 0o644); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := os.WriteFile(files[i], orig[i], 0o644); err != nil {
				t.Fatal(err)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cfg := Config{Root: d.Root, MaxGap: time.Minute, Silence: 30 * time.Second, Logger: zerolog.Nop()}
		rep, err := Run(ctx, cfg)
		var bad *BadInputError
		switch {
		case err != nil && !errors.As(err, &bad):
			t.Fatalf("Run on a corrupt file: %v (%T), want a *BadInputError", err, err)
		case err == nil && rep == nil:
			t.Fatal("Run returned neither a report nor an error")
		}
		cfg.SkipBad = true
		rep, err = Run(ctx, cfg)
		if err != nil || rep == nil {
			t.Fatalf("Run with SkipBad: %v", err)
		}
	})
}
