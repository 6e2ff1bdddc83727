package journal

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/capture/capturetest"
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

func TestCodec_RoundTripKeepsNullsAndLists(t *testing.T) {
	q := schema.Quote{RecvTS: -5, TS: 1 << 60, ContractID: 9, ConnID: 2, Seq: 77, BidPrice: f64(6000.25), BidSize: f64(3),
		AskPrice: f64(0.1 + 0.2), AskSize: f64(1e300), TradePrice: f64(-1.0845), TotalVolume: f64(1 << 60),
		SettlementPrice: f64(math.Copysign(0, -1))}
	d := schema.DOM{RecvTS: 10, TS: 11, ContractID: 9, ConnID: 1, Seq: 3,
		BidPrices: []*float64{f64(1), nil, f64(3)}, BidSizes: []*float64{}, AskPrices: nil, AskSizes: []*float64{nil}}
	gs, ge := int64(4), int64(8)
	e := schema.Event{RecvTS: 12, RunID: "r", Kind: "gap", GapStart: &gs, GapEnd: &ge, Reason: "eof", ConnID: 3, Detail: `{"a":1}`}
	k := schema.Tick{RecvTS: 13, TS: 14, ContractID: 9, ConnID: 1, TickID: 99, Price: 6000.25, Size: 2, AskSize: f64(4), Source: "live"}
	var en encoder
	en.quote("ESZ6", &q)
	en.dom("NQ/Z6", &d)
	en.event("ESZ6", &e)
	en.tick("ESZ6", &k)
	b := en.b
	dec := decoder{b: b}
	var got []Record
	for {
		r, ok := dec.next()
		if !ok {
			break
		}
		got = append(got, r)
	}
	if dec.err != nil || len(got) != 4 {
		t.Fatalf("decoded %d records, err %v", len(got), dec.err)
	}
	if !reflect.DeepEqual(*got[0].Quote, q) || got[0].Symbol != "ESZ6" {
		t.Errorf("quote: %+v", *got[0].Quote)
	}
	for i, p := range []*float64{got[0].Quote.AskPrice, got[0].Quote.AskSize, got[0].Quote.TradePrice, got[0].Quote.TotalVolume} {
		want := []float64{0.1 + 0.2, 1e300, -1.0845, 1 << 60}[i]
		if math.Float64bits(*p) != math.Float64bits(want) {
			t.Errorf("value %d: %v, want exactly %v", i, *p, want)
		}
	}
	if !math.Signbit(*got[0].Quote.SettlementPrice) {
		t.Error("-0 came back as +0")
	}
	if !reflect.DeepEqual(*got[1].DOM, d) || got[1].Symbol != "NQ/Z6" {
		t.Errorf("dom: %+v", *got[1].DOM)
	}
	if !reflect.DeepEqual(*got[2].Event, e) {
		t.Errorf("event: %+v", *got[2].Event)
	}
	if !reflect.DeepEqual(*got[3].Tick, k) {
		t.Errorf("tick: %+v", *got[3].Tick)
	}
	// Many symbols in one block (the table switches to a map past 16).
	var many encoder
	for i := 0; i < 100; i++ {
		q := schema.Quote{RecvTS: int64(i), Seq: int64(i)}
		many.quote(fmt.Sprintf("S%d", i%40), &q)
	}
	md := decoder{b: many.b}
	for i := 0; i < 100; i++ {
		r, ok := md.next()
		if !ok || r.Symbol != fmt.Sprintf("S%d", i%40) || r.Quote.RecvTS != int64(i) {
			t.Fatalf("record %d: %+v %v %v", i, r, ok, md.err)
		}
	}
	// Every truncation of a record is an error, never a panic.
	for i := 1; i < len(b); i++ {
		dec := decoder{b: b[:i]}
		for {
			if _, ok := dec.next(); !ok {
				break
			}
		}
	}
}

// A clean close finalises every row and removes the journal; segments are
// released while running once their rows are in finalised files.
func TestSink_CleanCloseRemovesJournalAndReleasesSegments(t *testing.T) {
	root := t.TempDir()
	r := newRig(t, root, "w-1", storage.OSFS{})
	r.event("ESZ6", schema.KindStart)
	r.quotes(300, "ESZ6", "NQZ6")
	if err := r.roll(time.Second); err != nil { // sync: the first segment
		t.Fatal(err)
	}
	if err := r.roll(10 * time.Second); err != nil { // sync + seal it (10 s old)
		t.Fatal(err)
	}
	if n := len(r.j.sealed); n != 1 {
		t.Fatalf("%d sealed segments, want 1", n)
	}
	r.quotes(300, "ESZ6", "NQZ6")
	if err := r.roll(time.Minute); err != nil { // files older than a minute finalise
		t.Fatal(err)
	}
	if st := r.j.Stats(); st.SegmentsReleased != 1 {
		t.Fatalf("released %d segments, want 1 (files finalised: %d)", st.SegmentsReleased, r.ds.Stats().FilesFinalised)
	}
	r.quotes(10, "ESZ6", "NQZ6")
	if err := r.s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.j.Dir()); !os.IsNotExist(err) {
		t.Fatalf("journal still there after a clean close: %v", err)
	}
	checkQuotes(t, root, "ESZ6", 610)
	checkQuotes(t, root, "NQZ6", 610)
	if res := recoverAll(t, root, nil, "ESZ6"); len(res.Runs) != 0 || len(res.Gaps) != 0 {
		t.Fatalf("recovery after a clean stop: %+v", res)
	}
}

// A crash after some files were finalised: the journal replays the rest,
// and nothing already finalised comes back twice.
func TestRecover_ReplaysWhatWasNotFinalisedAndNothingTwice(t *testing.T) {
	root := t.TempDir()
	r := newRig(t, root, "w-1", storage.OSFS{})
	r.event("ESZ6", schema.KindStart)
	r.event("NQZ6", schema.KindStart)
	r.quotes(500, "ESZ6", "NQZ6")
	if err := r.roll(time.Minute); err != nil { // finalises the first files
		t.Fatal(err)
	}
	last := r.quotes(400, "ESZ6", "NQZ6")
	if err := r.j.Sync(); err != nil {
		t.Fatal(err)
	}
	// kill -9: nothing more happens to the run.
	res := recoverAll(t, root, nil, "ESZ6", "NQZ6")
	if len(res.Runs) != 1 || res.Replayed != 800 || res.Duplicates == 0 {
		t.Fatalf("recovered %+v", res)
	}
	d := checkQuotes(t, root, "ESZ6", 900)
	checkQuotes(t, root, "NQZ6", 900)
	if n := len(d.Kind("ESZ6", schema.KindStart)); n != 1 {
		t.Errorf("%d start rows, want 1", n)
	}
	if len(res.Gaps) != 2 || res.Gaps[0].Start != last || res.Gaps[1].Start != last {
		t.Errorf("gaps %+v, want both from the last durable row %d", res.Gaps, last)
	}
	if _, err := os.Stat(RunDir(root, "w", "w-1")); !os.IsNotExist(err) {
		t.Errorf("replayed journal not removed: %v", err)
	}
	// A second recovery finds nothing to do.
	if res := recoverAll(t, root, nil, "ESZ6"); len(res.Runs) != 0 {
		t.Errorf("second recovery: %+v", res)
	}
}

// A recovery killed after writing its files but before removing the
// journal runs again without duplicating anything.
func TestRecover_InterruptedRecoveryRunsAgainWithoutDuplicates(t *testing.T) {
	root := t.TempDir()
	r := newRig(t, root, "w-1", storage.OSFS{})
	r.quotes(700, "ESZ6")
	if err := r.j.Sync(); err != nil {
		t.Fatal(err)
	}
	// Keep a copy of the journal, recover, put the journal back.
	dir := RunDir(root, "w", "w-1")
	saved := t.TempDir()
	copyDir(t, dir, saved)
	recoverAll(t, root, nil, "ESZ6")
	copyDir(t, saved, dir)
	res := recoverAll(t, root, nil, "ESZ6")
	if res.Replayed != 0 || res.Duplicates != 700 {
		t.Fatalf("second replay: %+v", res)
	}
	checkQuotes(t, root, "ESZ6", 700)
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	des, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(from, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, de.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// segments returns the run's segment paths.
func segments(t *testing.T, root, run string) []string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(RunDir(root, "w", run), "*"+segExt))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segments: %v", err)
	}
	return segs
}

// A torn last frame (the crash hit in the middle of a write) is cut off
// and kept in quarantine; everything before it is recovered, and the gap
// starts at the last row that survived.
func TestRecover_TornTailIsQuarantinedAndTheRestReplayed(t *testing.T) {
	root := t.TempDir()
	r := newRig(t, root, "w-1", storage.OSFS{})
	r.quotes(200, "ESZ6")
	if err := r.j.Sync(); err != nil { // frame 1
		t.Fatal(err)
	}
	lastDurable := r.recv
	r.quotes(100, "ESZ6")
	if err := r.j.Sync(); err != nil { // frame 2, torn below
		t.Fatal(err)
	}
	seg := segments(t, root, "w-1")[0]
	st, _ := os.Stat(seg)
	if err := os.Truncate(seg, st.Size()-7); err != nil {
		t.Fatal(err)
	}
	res := recoverAll(t, root, nil, "ESZ6")
	if res.Replayed != 200 || len(res.Quarantined) != 1 {
		t.Fatalf("recovered %+v", res)
	}
	checkQuotes(t, root, "ESZ6", 200)
	if len(res.Gaps) != 1 || res.Gaps[0].Start != lastDurable {
		t.Errorf("gap %+v, want from %d", res.Gaps, lastDurable)
	}
	q, err := Quarantined(root)
	if err != nil || len(q) != 1 || q[0].Bytes == 0 {
		t.Fatalf("quarantine %+v, %v", q, err)
	}
}

// A flipped byte fails its frame's checksum: that frame and the rest of
// its segment are quarantined, the frames before it replayed.
func TestRecover_BadChecksumStopsTheSegmentAtTheDamage(t *testing.T) {
	root := t.TempDir()
	r := newRig(t, root, "w-1", storage.OSFS{})
	for i := 0; i < 3; i++ {
		r.quotes(100, "ESZ6")
		if err := r.j.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	seg := segments(t, root, "w-1")[0]
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	// Find the second frame and flip a byte of its payload.
	off := len(magic)
	n1 := int(uint32(b[off]) | uint32(b[off+1])<<8 | uint32(b[off+2])<<16 | uint32(b[off+3]&0x7f)<<24)
	second := off + frameHeader + n1
	b[second+frameHeader+3] ^= 0x40
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	res := recoverAll(t, root, nil, "ESZ6")
	if res.Replayed != 100 || len(res.Quarantined) != 1 || res.QuarantinedBytes != int64(len(b)-second) {
		t.Fatalf("recovered %+v (damage at %d of %d)", res, second, len(b))
	}
	checkQuotes(t, root, "ESZ6", 100)
}

// Garbage instead of a journal (a foreign or zeroed file) never stops a
// start: it is quarantined whole.
func TestRecover_GarbageSegmentIsQuarantinedNotFatal(t *testing.T) {
	root := t.TempDir()
	r := newRig(t, root, "w-1", storage.OSFS{})
	r.quotes(10, "ESZ6")
	if err := r.j.Sync(); err != nil {
		t.Fatal(err)
	}
	seg := segments(t, root, "w-1")[0]
	if err := os.WriteFile(seg, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	res := recoverAll(t, root, nil, "ESZ6")
	if len(res.Quarantined) != 1 || res.QuarantinedBytes != 4096 || len(res.Gaps) != 1 {
		t.Fatalf("recovered %+v", res)
	}
}

// The disk refuses journal writes (ENOSPC) for a while: Roll reports it,
// the bytes wait in memory, and once the disk takes them again a crash
// loses nothing.
func TestSink_JournalENOSPCKeepsBytesUntilTheDiskTakesThem(t *testing.T) {
	root := t.TempDir()
	ffs := &faultFS{match: segExt}
	r := newRig(t, root, "w-1", ffs)
	r.quotes(100, "ESZ6")
	if err := r.roll(time.Second); err != nil {
		t.Fatal(err)
	}
	ffs.set(func(f *faultFS) { f.writeErr = syscall.ENOSPC })
	r.quotes(100, "ESZ6")
	if err := r.roll(time.Second); err == nil {
		t.Fatal("Roll hid a journal write failure")
	}
	r.quotes(100, "ESZ6")
	if err := r.roll(time.Second); err == nil {
		t.Fatal("Roll hid a journal write failure")
	}
	ffs.set(func(f *faultFS) { f.writeErr = nil })
	r.quotes(100, "ESZ6")
	if err := r.roll(time.Second); err != nil {
		t.Fatalf("the disk works again, Roll: %v", err)
	}
	if ffs.writes == 0 {
		t.Fatal("no write failed: the fault was not injected")
	}
	// crash
	res := recoverAll(t, root, nil, "ESZ6")
	if len(res.Quarantined) != 0 {
		t.Errorf("quarantined %v: a write retried after ENOSPC must continue its frame", res.Quarantined)
	}
	checkQuotes(t, root, "ESZ6", 400)
}

// A failed fsync: the segment is no longer trusted, Roll reports it, new
// rows go to a new segment, and what is synced afterwards survives a
// crash.
func TestSink_JournalFsyncFailureStartsANewSegment(t *testing.T) {
	root := t.TempDir()
	ffs := &faultFS{match: segExt}
	r := newRig(t, root, "w-1", ffs)
	r.quotes(100, "ESZ6")
	ffs.set(func(f *faultFS) { f.syncErr = syscall.EIO })
	if err := r.roll(time.Second); err == nil {
		t.Fatal("Roll hid a failed fsync")
	}
	ffs.set(func(f *faultFS) { f.syncErr = nil })
	r.quotes(100, "ESZ6")
	if err := r.roll(time.Second); err != nil {
		t.Fatal(err)
	}
	if n := len(segments(t, root, "w-1")); n != 2 {
		t.Fatalf("%d segments, want 2 (a new one after the failed fsync)", n)
	}
	res := recoverAll(t, root, nil, "ESZ6")
	// Here the page cache kept the first segment's bytes, so all is back.
	if res.Replayed != 200 {
		t.Fatalf("recovered %+v", res)
	}
	checkQuotes(t, root, "ESZ6", 200)
}

// Disk full for dataset and journal alike, then the disk recovers: the
// files that finalise are complete, nothing is half under a final name,
// and every row is there.
func TestSink_DiskFullEverywhereThenRecovered(t *testing.T) {
	root := t.TempDir()
	ffs := &faultFS{}
	r := newRig(t, root, "w-1", ffs)
	r.quotes(200, "ESZ6")
	ffs.set(func(f *faultFS) { f.writeErr = syscall.ENOSPC })
	r.quotes(200, "ESZ6")
	if err := r.roll(time.Minute); err == nil {
		t.Fatal("Roll hid a full disk")
	}
	ffs.set(func(f *faultFS) { f.writeErr = nil })
	r.quotes(200, "ESZ6")
	for i := 0; i < 2; i++ { // retries finish the pending finalises
		_ = r.roll(time.Minute)
	}
	if err := r.s.Close(); err != nil {
		t.Fatalf("close after the disk recovered: %v", err)
	}
	checkQuotes(t, root, "ESZ6", 600)
	if _, err := os.Stat(r.j.Dir()); !os.IsNotExist(err) {
		t.Fatalf("journal kept after everything was finalised: %v", err)
	}
}

// Journals of two dead runs in a row: both are replayed; the second run
// stored no data, so the gap it owes starts where the first run's data
// ended (the second never got to close the first one's gap).
func TestRecover_TwoDeadRunsCarryTheOlderGap(t *testing.T) {
	root := t.TempDir()
	r1 := newRig(t, root, "w-1", storage.OSFS{})
	last := r1.quotes(50, "ESZ6")
	if err := r1.j.Sync(); err != nil {
		t.Fatal(err)
	}
	r2 := newRig(t, root, "w-2", storage.OSFS{})
	r2.recv = last + int64(time.Hour)
	r2.event("ESZ6", schema.KindStart)
	if err := r2.j.Sync(); err != nil {
		t.Fatal(err)
	}
	res := recoverAll(t, root, nil, "ESZ6")
	if len(res.Runs) != 2 || len(res.Gaps) != 1 || res.Gaps[0].Start != last {
		t.Fatalf("recovered %+v, want one gap from %d", res, last)
	}
}

// A damaged segment followed by a good one: the hole between them is a
// crash_recovery gap of the dead run, so no loss goes unrecorded.
func TestRecover_DamageInsideTheRunBecomesAGap(t *testing.T) {
	root := t.TempDir()
	r := newRig(t, root, "w-1", storage.OSFS{})
	r.quotes(100, "ESZ6")
	if err := r.roll(time.Second); err != nil { // segment 1, frame 1
		t.Fatal(err)
	}
	before := r.recv
	r.quotes(100, "ESZ6")
	if err := r.roll(10 * time.Second); err != nil { // frame 2; segment 1 sealed
		t.Fatal(err)
	}
	r.quotes(100, "ESZ6")
	if err := r.roll(time.Second); err != nil { // segment 2
		t.Fatal(err)
	}
	segs := segments(t, root, "w-1")
	if len(segs) != 2 {
		t.Fatalf("%d segments, want 2", len(segs))
	}
	st, _ := os.Stat(segs[0])
	if err := os.Truncate(segs[0], st.Size()-5); err != nil { // frame 2 torn
		t.Fatal(err)
	}
	res := recoverAll(t, root, nil, "ESZ6")
	if res.Replayed != 201 || len(res.Quarantined) != 1 { // 200 quotes + the gap row
		t.Fatalf("recovered %+v", res)
	}
	d, err := capturetest.Read(root)
	if err != nil {
		t.Fatal(err)
	}
	var gaps []schema.Event
	for _, g := range d.Kind("ESZ6", schema.KindGap) {
		gaps = append(gaps, g)
	}
	if len(gaps) != 1 || *gaps[0].GapStart != before || gaps[0].Reason != schema.ReasonCrashRecovery {
		t.Fatalf("gaps %+v, want one from %d", gaps, before)
	}
	for _, q := range d.Quotes["ESZ6"] {
		if q.RecvTS > before && q.RecvTS < *gaps[0].GapEnd {
			t.Fatalf("row at %d inside the hole", q.RecvTS)
		}
	}
	if n := len(d.Quotes["ESZ6"]); n != 200 {
		t.Errorf("%d quotes, want 200", n)
	}
}

// A file the dataset abandons (its disk refused more than it could keep):
// its rows are still in the journal, which is therefore kept past the
// run's end, and the next start replays them.
func TestSink_AbandonedFileRowsComeBackFromTheJournal(t *testing.T) {
	root := t.TempDir()
	ffs := &faultFS{match: ".parquet"}
	clk := &clock{t: time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)}
	ds, err := storage.Open(storage.Config{Root: root, WriterID: "w", RunID: "w-1", RollInterval: time.Minute,
		RowGroupRows: 64, MaxPendingBytes: 1, FS: ffs, Now: clk.now, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	j, err := Open(Config{Root: root, WriterID: "w", RunID: "w-1", Start: clk.now(), FS: ffs, Now: clk.now, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSink(ds, j)
	refused := map[int64]bool{}
	seq := int64(0)
	write := func(n int, stopAtError bool) {
		for k := 0; k < n; k++ {
			seq++
			q := schema.Quote{RecvTS: clk.now().UnixNano() + seq*1000, TS: seq, Seq: seq,
				BidPrice: f64(6000 + float64(seq%97)*0.25), AskSize: f64(float64(seq % 13))}
			if err := s.WriteQuote("ESZ6", &q); err != nil {
				refused[seq] = true // the writer records it as a write_error gap
				if stopAtError {
					return
				}
			}
		}
	}
	ffs.set(func(f *faultFS) { f.writeErr = syscall.ENOSPC })
	write(50000, true) // until the file breaks: abandoned
	ffs.set(func(f *faultFS) { f.writeErr = nil })
	write(300, false)
	if ds.Stats().FilesAbandoned == 0 {
		t.Fatalf("no file abandoned: the fault was not injected (%+v, %d failed writes)", ds.Stats(), ffs.writes)
	}
	e := schema.Event{RecvTS: clk.now().UnixNano() + 1000, RunID: "w-1", Kind: schema.KindStop, Detail: "{}"}
	if err := s.WriteEvent("ESZ6", &e); err != nil {
		t.Fatal(err)
	}
	// The abandonment was reported by the Write that hit it; Close
	// finalises the rest.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if runs, _ := Runs(nil, root, "w"); len(runs) != 1 {
		t.Fatalf("journal not kept after an abandoned file: %+v", runs)
	}
	res := recoverAll(t, root, nil, "ESZ6")
	if len(res.Gaps) != 0 {
		t.Errorf("a run that wrote its stop row owes no crash gap: %+v", res.Gaps)
	}
	d, err := capturetest.Read(root)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]int{}
	for _, q := range d.Quotes["ESZ6"] {
		got[q.Seq]++
	}
	for i := int64(1); i <= seq; i++ {
		if refused[i] {
			continue
		}
		if got[i] != 1 {
			t.Fatalf("row %d stored %d times (refused %d rows, replayed %d)", i, got[i], len(refused), res.Replayed)
		}
	}
	t.Logf("refused %d rows, replayed %d", len(refused), res.Replayed)
}
