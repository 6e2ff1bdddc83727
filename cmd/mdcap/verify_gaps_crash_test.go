//go:build integration

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/sim"
	"github.com/mdcap/mdcap/verify"
)

// TestVerifyGaps_AfterKill9 kills a recorder with SIGKILL, starts it again
// on the same root, and checks that verify-gaps sees the crash as one
// crash_recovery gap per symbol and no unmarked silence.
//
//	go test -tags integration -run AfterKill9 ./cmd/mdcap
func TestVerifyGaps_AfterKill9(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mdcap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := sim.DefaultConfig()
	cfg.Logger = zerolog.Nop()
	srv, err := sim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	root := t.TempDir()
	args := []string{"record", "--out", root, "--symbols", "ESZ6,NQZ6", "--writer-id", "crash",
		"--md-url", srv.WSURL(), "--auth-url", srv.RESTURL(),
		"--username", sim.DefaultUsername, "--password", sim.DefaultPassword, "--app-id", sim.DefaultAppID,
		"--cid", sim.DefaultCID, "--sec", sim.DefaultSec, "--roll-interval", "500ms", "--sync-interval", "200ms", "--log-format", "json"}

	first := exec.Command(bin, append(args, "--duration", "60s")...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Await durable quotes of both symbols, then kill -9.
	deadline := time.Now().Add(20 * time.Second)
	for {
		es, _ := filepath.Glob(filepath.Join(root, "quotes", "*", "symbol=ESZ6", "*.parquet"))
		nq, _ := filepath.Glob(filepath.Join(root, "quotes", "*", "symbol=NQZ6", "*.parquet"))
		if len(es) >= 2 && len(nq) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			first.Process.Kill()
			first.Wait()
			t.Fatal("no durable quotes after 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := first.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	// Downtime, not a wait for anything: without its crash_recovery gap
	// these 3 s would be an unmarked silence over --silence 2s.
	time.Sleep(3 * time.Second)

	if out, err := exec.Command(bin, append(args, "--duration", "3s")...).CombinedOutput(); err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	code, stdout, stderr := runVerifyCLI(t, "verify-gaps", root, "--json", "--silence", "2s", "--max-gap", "1m")
	var rep verify.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != exitOK {
		t.Fatalf("verify-gaps: exit %d, %v\n%s\n%s", code, err, stdout, stderr)
	}
	for _, s := range rep.Symbols {
		crash := 0
		for _, g := range s.Gaps {
			crash += g.Reasons["crash_recovery"]
		}
		if crash != 1 || len(s.Silences) != 0 || s.Runs != 2 {
			t.Errorf("%s: %d crash_recovery gaps, silences %v, runs %d", s.Symbol, crash, s.Silences, s.Runs)
		}
	}
}
