package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/capture/capturetest"
	"github.com/mdcap/mdcap/internal/readers"
	"github.com/mdcap/mdcap/journal"
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/sim"
)

// crashSyncInterval is the recorder's --sync-interval in the kill tests.
const crashSyncInterval = 200 * time.Millisecond

// TestRecord_Kill9RoundsAgainstGroundTruth kills the real binary with
// SIGKILL at a random moment of its capture, restarts it on the same root,
// again and again, then stops it cleanly and checks the dataset against
// the simulator's ground truth: every file readable (parquet-go and
// DuckDB), no temporary file left, no update stored twice or lost outside
// a gap, a crash_recovery gap over every kill, and every update a
// kill lost sent at most --sync-interval plus a margin for in-flight
// frames before the kill.
//
// Rounds: 3; MDCAP_CRASH_ROUNDS=N for more (e.g. 50 for a soak).
// MDCAP_CRASH_RATE sets the simulator's updates/s (100).
func TestRecord_Kill9RoundsAgainstGroundTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	rounds := 3
	if s := os.Getenv("MDCAP_CRASH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("MDCAP_CRASH_ROUNDS=%q", s)
		}
		rounds = n
	}
	rate := 100.0 // updates/s: most rows reach the journal from the files' tails
	if s := os.Getenv("MDCAP_CRASH_RATE"); s != "" {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r <= 0 {
			t.Fatalf("MDCAP_CRASH_RATE=%q", s)
		}
		rate = r // e.g. 30000: pages are cut between syncs too
	}
	bin := mdcapBinary(t)
	truth := &syncBuffer{}
	scfg := sim.DefaultConfig()
	scfg.Rate = rate
	scfg.GroundTruth = truth
	scfg.Logger = zerolog.Nop()
	srv, err := sim.Start(scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	root := t.TempDir()
	args := []string{"record", "--out", root, "--symbols", "ESZ6,NQZ6", "--dom", "--writer-id", "crash",
		"--md-url", srv.WSURL(), "--auth-url", srv.RESTURL(),
		"--username", sim.DefaultUsername, "--password", sim.DefaultPassword, "--app-id", sim.DefaultAppID,
		"--cid", sim.DefaultCID, "--sec", sim.DefaultSec, "--roll-interval", "3s",
		"--sync-interval", crashSyncInterval.String(), "--status-interval", "100ms", "--log-format", "json"}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var kills []time.Time
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(bin, args...)
		cmd.Env = cleanEnv()
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Await the first rows written (a status line with quotes), then
		// kill at a random moment of the next 0–1.5 s.
		if !awaitRows(stderr) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("round %d: the recorder never wrote rows", round)
		}
		go func() { // keep the pipe drained
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
			}
		}()
		time.Sleep(time.Duration(rng.Int64N(int64(1500 * time.Millisecond)))) // the random moment itself
		kills = append(kills, time.Now())
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
	}
	// The last start recovers the last kill and stops cleanly.
	if code, stderr := runMdcap(t, append(args, "--duration", "1500ms")...); code != 0 {
		t.Fatalf("final run: exit %d\n%s", code, stderr)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	runs, err := journal.Runs(nil, root, "")
	if err != nil || len(runs) != 0 {
		t.Errorf("journals left after a clean stop: %+v %v", runs, err)
	}

	d, err := capturetest.Read(root)
	if err != nil {
		t.Fatalf("read dataset: %v", err)
	}
	if len(d.TempFiles) != 0 {
		t.Errorf("temporary files left: %v", d.TempFiles)
	}
	tr, err := capturetest.ReadTruth(strings.NewReader(truth.String()))
	if err != nil {
		t.Fatal(err)
	}
	// A gap starts at a receive time, the truth has send times: an update
	// sent shortly before the last durable row was received may still
	// have been in flight at the kill. The slack is the longest delivery
	// seen in the stored rows (receive minus send), so a loaded machine
	// does not turn in-flight updates into false losses.
	lag := deliveryLag(d, tr)
	rep := capturetest.Compare(d, tr, lag+50*time.Millisecond)
	for i, p := range rep.Problems {
		if i == 20 {
			t.Errorf("… %d more problems", len(rep.Problems)-20)
			break
		}
		t.Error(p)
	}
	// One crash_recovery gap per kill and symbol; what each kill lost was
	// sent shortly before it.
	margin := 800 * time.Millisecond // in-flight frames, the fsync itself, a loaded machine
	var worst time.Duration
	for _, sym := range []string{"ESZ6", "NQZ6"} {
		var crash []schema.Event
		for _, g := range d.Kind(sym, schema.KindGap) {
			if g.Reason == schema.ReasonCrashRecovery {
				crash = append(crash, g)
			}
		}
		// A run killed before it stored anything of a symbol passes its
		// inherited gap on: then one gap covers two kills.
		if len(crash) == 0 || len(crash) > rounds {
			t.Errorf("%s: %d crash_recovery gaps for %d kills", sym, len(crash), rounds)
		}
		for i, k := range kills {
			kill := k.UnixNano()
			var cover *schema.Event
			for j := range crash {
				if *crash[j].GapStart <= kill && kill <= *crash[j].GapEnd {
					cover = &crash[j]
				}
			}
			if cover == nil {
				t.Errorf("%s: no crash_recovery gap covers kill %d at %s", sym, i, ts(kill))
				continue
			}
			from := *cover.GapStart
			if i > 0 {
				from = max(from, kills[i-1].UnixNano()) // what the killed run itself lost
			}
			for _, lost := range lostIn(d, tr, sym, from, kill) {
				if ago := time.Duration(kill - lost); ago > worst {
					worst = ago
				}
			}
		}
	}
	t.Logf("%d kills: sent %d updates, stored %d rows, %d inside gaps; the oldest update a kill lost was sent %v before it (--sync-interval %v); longest delivery %v",
		rounds, rep.Sent, rep.Stored, rep.Covered, worst, crashSyncInterval, lag)
	if worst > crashSyncInterval+margin {
		t.Errorf("a kill lost an update sent %v before it: more than --sync-interval %v + %v", worst, crashSyncInterval, margin)
	}
	// Every file of every table, read by DuckDB: the same rows.
	if ok, why := readers.Available(); ok {
		q := func(table string) string {
			return fmt.Sprintf("SELECT '%s' AS t, symbol, count(*) AS n FROM read_parquet('%s/%s/**/*.parquet', hive_partitioning = true) GROUP BY symbol",
				table, root, table)
		}
		rows := readers.DuckDB(t, q("quotes")+" UNION ALL "+q("dom")+" UNION ALL "+q("events"))
		if len(rows) != 6 {
			t.Errorf("DuckDB: %d (table, symbol) groups, want 6: %v", len(rows), rows)
		}
		for _, r := range rows {
			sym := fmt.Sprint(r["symbol"])
			want := map[string]int{"quotes": len(d.Quotes[sym]), "dom": len(d.DOMs[sym]), "events": len(d.Events[sym])}[fmt.Sprint(r["t"])]
			if fmt.Sprint(r["n"]) != fmt.Sprint(want) {
				t.Errorf("DuckDB reads %v %v rows of %s, parquet-go %d", r["n"], r["t"], sym, want)
			}
		}
	} else {
		t.Logf("DuckDB check skipped: %s", why)
	}
}

func ts(ns int64) string { return time.Unix(0, ns).UTC().Format("15:04:05.000000") }

// awaitRows reads the recorder's log until a status line counts quotes.
func awaitRows(stderr interface{ Read([]byte) (int, error) }) bool {
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		var l struct {
			Message string `json:"message"`
			Quotes  int    `json:"quotes"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Message == "status" && l.Quotes > 0 {
			return true
		}
	}
	return false
}

// lostIn returns the send times of the updates of sym sent between from
// and to that the dataset does not hold.
func lostIn(d *capturetest.Dataset, tr *capturetest.Truth, sym string, from, to int64) []int64 {
	stored := map[string]bool{}
	for i := range d.Quotes[sym] {
		stored[capturetest.QuoteKey(&d.Quotes[sym][i])] = true
	}
	for i := range d.DOMs[sym] {
		stored[capturetest.DOMKey(&d.DOMs[sym][i])] = true
	}
	var out []int64
	for _, u := range tr.Updates {
		if u.Symbol == sym && u.T >= from && u.T <= to && !stored[u.Key] {
			out = append(out, u.T)
		}
	}
	return out
}

// TestRecord_WriterLock: a second recorder with the same writer id on the
// same root exits 1 and says why; one with another id shares the root.
func TestRecord_WriterLock(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	root := t.TempDir()
	first := exec.Command(mdcapBinary(t), "record", "--sim", "--out", root, "--writer-id", "one",
		"--status-interval", "100ms", "--log-format", "json")
	first.Env = cleanEnv()
	stderr, err := first.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = first.Process.Signal(syscall.SIGTERM)
		_ = first.Wait()
	}()
	if !awaitRows(stderr) {
		t.Fatal("the first recorder never wrote rows")
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
		}
	}()
	code, out := runMdcap(t, "record", "--sim", "--out", root, "--writer-id", "one", "--duration", "2s")
	if code != exitFatal || !strings.Contains(out, "another recorder with this writer id") {
		t.Errorf("same writer id: exit %d, stderr %q", code, out)
	}
	if code, out := runMdcap(t, "record", "--sim", "--out", root, "--writer-id", "two", "--duration", "1s"); code != exitOK {
		t.Errorf("another writer id: exit %d\n%s", code, out)
	}
	// The refused recorder touched nothing of the first one's: its journal
	// is still there.
	runs, err := journal.Runs(nil, root, "one")
	if err != nil || len(runs) != 1 {
		t.Errorf("journals of writer one: %+v %v", runs, err)
	}
}

// deliveryLag is the longest time from the simulator sending an update to
// the recorder receiving it, over the quotes stored.
func deliveryLag(d *capturetest.Dataset, tr *capturetest.Truth) time.Duration {
	sent := map[string]int64{}
	for _, u := range tr.Updates {
		if u.Table == "quotes" {
			k := u.Symbol + "|" + u.Key
			if t, ok := sent[k]; !ok || u.T < t {
				sent[k] = u.T
			}
		}
	}
	var lag int64
	for sym, rows := range d.Quotes {
		for i := range rows {
			if t, ok := sent[sym+"|"+capturetest.QuoteKey(&rows[i])]; ok {
				lag = max(lag, rows[i].RecvTS-t)
			}
		}
	}
	return time.Duration(lag)
}
