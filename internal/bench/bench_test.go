package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/mdcap/mdcap/sim"
)

// startBlast starts an in-process simulator that blasts updates over
// symbols generated contracts and returns it with its report channel.
func startBlast(t *testing.T, updates int64, symbols int) (*sim.Server, <-chan sim.BlastReport) {
	t.Helper()
	done := make(chan sim.BlastReport, 1)
	cfg := sim.DefaultConfig()
	cfg.Contracts = sim.GeneratedContracts(symbols)
	cfg.Rules.MaxRequestsPerSecond = 0
	cfg.Blast = sim.Blast{Updates: updates, Frames: 512, OnDone: func(r sim.BlastReport) { done <- r }}
	s, err := sim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, done
}

func report(t *testing.T, done <-chan sim.BlastReport) sim.BlastReport {
	t.Helper()
	select {
	case r := <-done:
		if !r.Complete {
			t.Fatalf("blast not complete: %+v", r)
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no blast report")
	}
	return sim.BlastReport{}
}

func TestDiscardReadsTheWholeBlast(t *testing.T) {
	const updates = 20000
	s, done := startBlast(t, updates, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := Discard(ctx, s.RESTURL(), s.WSURL(), SymbolNames(3))
	if err != nil {
		t.Fatal(err)
	}
	r := report(t, done)
	// Every data frame, plus o, the responses and c[...].
	if res.Frames < r.Frames+2 || res.Bytes < r.Bytes-4*r.Frames {
		t.Fatalf("read %d frames, %d bytes; the server sent %d data frames, %d bytes", res.Frames, res.Bytes, r.Frames, r.Bytes)
	}
}

func TestDecodeCountsEveryUpdate(t *testing.T) {
	const updates = 20000
	s, done := startBlast(t, updates, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Decode(ctx, s.RESTURL(), s.WSURL(), SymbolNames(3), updates)
	if err != nil {
		t.Fatal(err)
	}
	r := report(t, done)
	if res.Updates != updates || res.Quotes != r.Quotes || res.DOMs != r.DOMs {
		t.Fatalf("decoded %+v; the server sent %d quotes and %d DOMs", res, r.Quotes, r.DOMs)
	}
}

func TestSummariseTakesMediansAndPerRoundRatios(t *testing.T) {
	run := func(m Mode, round int, secs float64, cpu time.Duration) Result {
		return Result{Mode: m, Round: round, Updates: 1_000_000, Elapsed: time.Duration(secs * float64(time.Second)), ClientCPU: cpu}
	}
	rs := []Result{
		run(ModeDiscard, 1, 0.25, time.Second), run(ModeRecord, 1, 1, 3*time.Second),
		run(ModeDiscard, 2, 0.5, time.Second), run(ModeRecord, 2, 1, 2*time.Second),
		run(ModeDiscard, 3, 0.5, time.Second), run(ModeRecord, 3, 4, time.Second),
	}
	rs = append(rs, Result{Mode: ModeRecord, Round: 4, Err: context.DeadlineExceeded})
	ss := Summarise(rs)
	if len(ss) != 2 || ss[0].Mode != ModeDiscard || ss[1].Mode != ModeRecord {
		t.Fatalf("summaries %+v", ss)
	}
	rec := ss[1]
	if rec.Runs != 4 || rec.Failed != 1 {
		t.Fatalf("runs %d failed %d, want 4 and 1", rec.Runs, rec.Failed)
	}
	if rec.Rate != 1e6 || rec.ClientCPUPerM != 2 {
		t.Fatalf("median rate %g, CPU %g; want 1e6 and 2", rec.Rate, rec.ClientCPUPerM)
	}
	// Ratios per round: 0.25, 0.5, 0.125 → median 0.25.
	if rec.Ratio != 0.25 {
		t.Fatalf("median ratio %g, want 0.25", rec.Ratio)
	}
}

func TestProcReadsItself(t *testing.T) {
	pid := os.Getpid()
	cpu, err := procCPU(pid)
	if err != nil || cpu < 0 {
		t.Fatalf("procCPU: %v %v", cpu, err)
	}
	hwm, err := procHWM(pid)
	if err != nil || hwm < 1<<20 {
		t.Fatalf("procHWM: %d %v", hwm, err)
	}
}
