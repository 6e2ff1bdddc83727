package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/sim"
	"github.com/mdcap/mdcap/verify"
)

// TestVerifyGaps_RecordedWithFaults records from the simulator while it
// cuts every connection (no close frame) every 3 s and stalls it every 4 s, and checks
// that verify-gaps finds both drops as marked gaps with their reasons and
// no unmarked silence.
func TestVerifyGaps_RecordedWithFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("records for 8 s")
	}
	cfg := sim.DefaultConfig()
	cfg.Rate = 50
	cfg.Logger = zerolog.Nop()
	cfg.Faults = []sim.Fault{
		// Repeated, so that a slow first connect still sees both.
		{Kind: sim.FaultDrop, Every: 3 * time.Second},
		{Kind: sim.FaultStall, Every: 4 * time.Second, Duration: 1500 * time.Millisecond},
	}
	srv, err := sim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	out := t.TempDir()
	code, stdout, stderr := runVerifyCLI(t, "record", "--out", out, "--symbols", "ESZ6,NQZ6", "--dom",
		"--md-url", srv.WSURL(), "--auth-url", srv.RESTURL(),
		"--username", sim.DefaultUsername, "--password", sim.DefaultPassword, "--app-id", sim.DefaultAppID,
		"--cid", fmt.Sprint(sim.DefaultCID), "--sec", sim.DefaultSec,
		"--heartbeat", "250ms", "--stale-after", "700ms", "--duration", "8s", "--roll-interval", "1s", "--writer-id", "e2e")
	if code != exitOK {
		t.Fatalf("record: exit %d\n%s\n%s", code, stdout, stderr)
	}

	code, stdout, stderr = runVerifyCLI(t, "verify-gaps", out, "--json", "--silence", "1s", "--max-gap", "10s")
	var rep verify.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("verify-gaps: exit %d, %v\n%s\n%s", code, err, stdout, stderr)
	}
	if code != exitOK || !rep.OK {
		t.Fatalf("verify-gaps: exit %d ok %v\n%s", code, rep.OK, stdout)
	}
	if len(rep.Symbols) != 2 {
		t.Fatalf("symbols = %d", len(rep.Symbols))
	}
	for _, s := range rep.Symbols {
		reasons := map[string]int{}
		for _, g := range s.Gaps {
			for r, n := range g.Reasons {
				reasons[r] += n
			}
		}
		if reasons["eof"] < 1 || reasons["stale"] < 1 {
			t.Errorf("%s: gap reasons %v, want eof and stale", s.Symbol, reasons)
		}
		if len(s.Silences) != 0 || s.Runs != 1 {
			t.Errorf("%s: silences %v runs %d", s.Symbol, s.Silences, s.Runs)
		}
		var quotes, dom int64
		for _, d := range s.Days {
			quotes += d.Tables["quotes"].Rows
			dom += d.Tables["dom"].Rows
		}
		if quotes == 0 || dom == 0 {
			t.Errorf("%s: %d quotes, %d dom rows", s.Symbol, quotes, dom)
		}
	}
	// The same dataset with a silence threshold below the gaps' length
	// still passes (gaps are marked), and with --max-gap below it fails.
	if code, _, _ := runVerifyCLI(t, "verify-gaps", out, "--silence", "1s", "--max-gap", "1ms"); code != exitFatal {
		t.Errorf("--max-gap 1ms: exit %d, want 1", code)
	}
}
