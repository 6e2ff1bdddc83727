package verify

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mdcap/mdcap/schema"
)

// screenshotOut keeps the Chromium screenshot: go test ./verify -run Chromium -args -screenshot=/tmp/shot.png
var screenshotOut = flag.String("screenshot", "", "where TestHTML_Chromium keeps its screenshot")

// weekDataset builds nsym symbols over ndays dates, one quote every 30 s,
// each symbol with a few marked gaps of different reasons and one
// unmarked silence on its last date.
func weekDataset(t *testing.T, nsym, ndays int) *fixture {
	f := newFixture(t)
	rng := rand.New(rand.NewPCG(7, 9))
	reasons := []string{schema.ReasonEOF, schema.ReasonStale, schema.ReasonServerClose, schema.ReasonCrashRecovery, schema.ReasonRequestTimeout}
	start := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	for s := 0; s < nsym; s++ {
		sym := fmt.Sprintf("S%02dZ6", s)
		type hole struct{ a, b time.Time }
		var holes []hole
		var evs []schema.Event
		for d := 0; d < ndays; d++ {
			day0 := start.AddDate(0, 0, d)
			// 08:00–22:00 each day; a gap somewhere, and on the last
			// day an unmarked silence.
			run := fmt.Sprintf("w1-%s", day0.Format("20060102"))
			open, close := day0.Add(8*time.Hour), day0.Add(22*time.Hour)
			evs = append(evs, ev(schema.KindStart, run, open.UnixNano()))
			ga := open.Add(time.Duration(1+rng.IntN(12)) * time.Hour)
			gb := ga.Add(time.Duration(30+rng.IntN(600)) * time.Second)
			holes = append(holes, hole{ga, gb})
			evs = append(evs, gapEv(run, reasons[(s+d)%len(reasons)], gb.UnixNano(), ga.UnixNano(), gb.UnixNano(), `{"tables":["quotes"]}`))
			if d == ndays-1 {
				sa := open.Add(30 * time.Minute)
				holes = append(holes, hole{sa, sa.Add(20 * time.Minute)})
			}
			evs = append(evs, ev(schema.KindStop, run, close.UnixNano()))
			var recv []int64
			for t := open; !t.After(close); t = t.Add(2 * time.Minute) {
				in := false
				for _, h := range holes {
					if t.After(h.a) && t.Before(h.b) {
						in = true
					}
				}
				if !in {
					recv = append(recv, t.UnixNano())
				}
			}
			f.quotes(sym, recv...)
			f.events(sym, evs...)
			evs = evs[:0]
		}
	}
	return f
}

func TestWriteHTML_SelfContained(t *testing.T) {
	f := weekDataset(t, 3, 2)
	cfg := testConfig(f.root)
	cfg.Silence = 5 * time.Minute
	rep := mustRun(t, cfg)
	var b bytes.Buffer
	if err := WriteHTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(page, `<tr class="symbol-row`); n != 3 {
		t.Errorf("%d symbol rows, want 3", n)
	}
	for _, bad := range []string{"<script", "http://", "https://", "src=", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q: not self-contained", bad)
		}
	}
	if n := strings.Count(page, `class="gap"`); n != 6 {
		t.Errorf("%d gap marks, want 6", n)
	}
	if n := strings.Count(page, `class="silence"`); n != 3 {
		t.Errorf("%d silence marks, want 3", n)
	}
	if !regexp.MustCompile(`<title>marked gap 2026-11-2\d [0-9:.]+ → 2026-11-2\d [0-9:.]+ \([^)]+\)&#10;reasons: \w+×1`).MatchString(page) {
		t.Errorf("no gap details on hover")
	}
	if !strings.Contains(page, "<title>unmarked silence 2026-11-24 08:30:00.000 → 2026-11-24 08:50:00.000 (20m0s)") {
		t.Errorf("no silence details on hover")
	}
}

// weekReport builds, without any file (the Parquet-to-page path is
// covered by TestWriteHTML_SelfContained), the report of nsym symbols over
// ndays dates recorded 08:00–22:00, each date with a marked gap of a
// different reason and the last date with an unmarked silence.
func weekReport(nsym, ndays int) *Report {
	rng := rand.New(rand.NewPCG(7, 9))
	reasons := []string{schema.ReasonEOF, schema.ReasonStale, schema.ReasonServerClose, schema.ReasonCrashRecovery, schema.ReasonRequestTimeout}
	start := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	rep := &Report{Version: ReportVersion, Root: "/data/mdcap", MaxGapNS: int64(5 * time.Minute), SilenceNS: int64(5 * time.Minute)}
	for s := 0; s < nsym; s++ {
		sr := SymbolReport{Symbol: fmt.Sprintf("S%02dZ6", s)}
		for d := 0; d < ndays; d++ {
			day0 := start.AddDate(0, 0, d)
			open, close := day0.Add(8*time.Hour), day0.Add(22*time.Hour)
			ga := open.Add(time.Duration(1+rng.IntN(12)) * time.Hour)
			gb := ga.Add(time.Duration(30+rng.IntN(600)) * time.Second)
			g := Gap{Start: ga, End: gb, DurationNS: int64(gb.Sub(ga)), Reasons: map[string]int{reasons[(s+d)%len(reasons)]: 1},
				Tables: []string{"quotes"}, Runs: []string{"w1-" + day0.Format("20060102")}, Rows: 1, OverMax: gb.Sub(ga) > 5*time.Minute}
			sr.Gaps = append(sr.Gaps, g)
			cov := []Span{{open, ga}, {gb, close}}
			dr := DayReport{Date: day0.Format(time.DateOnly), Tables: map[string]TableReport{"quotes": {Rows: 1600, First: open, Last: close}},
				DataRows: 1600, First: &open, Last: &close, OK: !g.OverMax,
				Gaps: DayGaps{Count: 1, TotalNS: g.DurationNS, LongestNS: g.DurationNS, Reasons: g.Reasons}}
			if g.OverMax {
				dr.Gaps.OverMax = 1
				rep.GapsOverMax++
			}
			if d == ndays-1 {
				sa, sb := open.Add(30*time.Minute), open.Add(50*time.Minute)
				sr.Silences = append(sr.Silences, Silence{Start: sa, End: sb, DurationNS: int64(20 * time.Minute)})
				cov = []Span{{open, sa}, {sb, ga}, {gb, close}}
				dr.Silences = DaySilences{Count: 1, TotalNS: int64(20 * time.Minute), LongestNS: int64(20 * time.Minute)}
				dr.OK = false
				rep.Silences++
			}
			sr.Coverage = append(sr.Coverage, cov...)
			sr.Days = append(sr.Days, dr)
			rep.DataRows += dr.DataRows
		}
		rep.Symbols = append(rep.Symbols, sr)
	}
	return rep
}

// TestHTML_Chromium renders the page of a week of 20 symbols in headless
// Chromium (installed by scripts/install-chromium.sh), checks that the
// rendered DOM has one row per symbol, and takes a screenshot.
func TestHTML_Chromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (scripts/install-chromium.sh installs it): skipping the headless HTML check")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	rep := weekReport(20, 7)
	dir := t.TempDir()
	page := filepath.Join(dir, "coverage.html")
	var b bytes.Buffer
	if err := WriteHTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "shot.png")
	if *screenshotOut != "" {
		shot = *screenshotOut // keep it for a person to look at
	}
	common := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(dir, "profile"), "--window-size=1400,900"}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	dom, err := exec.CommandContext(ctx, chromium, append(common, "--dump-dom", "file://"+page)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	rows := regexp.MustCompile(`<tr class="symbol-row[^"]*" data-symbol="(S\d\dZ6)"`).FindAllStringSubmatch(string(dom), -1)
	if len(rows) != 20 {
		t.Fatalf("rendered DOM has %d symbol rows, want 20", len(rows))
	}
	for i, r := range rows {
		if want := fmt.Sprintf("S%02dZ6", i); r[1] != want {
			t.Errorf("row %d is %s, want %s", i, r[1], want)
		}
	}
	if n := strings.Count(string(dom), "<svg"); n < 21 {
		t.Errorf("rendered DOM has %d svg elements, want ≥ 21", n)
	}

	cmd := exec.CommandContext(ctx, chromium, append(common, "--screenshot="+shot, "file://"+page)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, out)
	}
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if len(png) < 10_000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot is %d bytes, not a rendered PNG", len(png))
	}
}

func TestHTMLRange(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	one := func(first, last string) *Report {
		f, l := at(first), at(last)
		return &Report{Symbols: []SymbolReport{{Days: []DayReport{{First: &f, Last: &l}}}}}
	}
	for _, tc := range []struct{ first, last, lo, hi string }{
		{"2026-11-25T23:45:03Z", "2026-11-25T23:45:22Z", "2026-11-25T23:45:00Z", "2026-11-25T23:46:00Z"},
		{"2026-11-25T09:30:00Z", "2026-11-25T16:10:00Z", "2026-11-25T09:00:00Z", "2026-11-25T17:00:00Z"},
		{"2026-11-23T08:00:00Z", "2026-11-29T22:00:00Z", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"},
	} {
		lo, hi := htmlRange(one(tc.first, tc.last))
		if ts(lo) != at(tc.lo) || ts(hi) != at(tc.hi) {
			t.Errorf("range of %s…%s = %v…%v, want %s…%s", tc.first, tc.last, ts(lo), ts(hi), tc.lo, tc.hi)
		}
	}
}
