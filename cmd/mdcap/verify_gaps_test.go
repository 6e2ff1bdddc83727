package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/verify"
	"github.com/mdcap/mdcap/verify/verifytest"
)

var verifyBase = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func vat(d time.Duration) int64 { return verifyBase.Add(d).UnixNano() }

// verifyDataset has, for ESZ6, a 2-minute marked gap (eof) and a 90 s
// unmarked silence, and for NQZ6 clean data.
func verifyDataset(t *testing.T) string {
	d := verifytest.New(t)
	var recv []int64
	for s := time.Duration(0); s <= 30*time.Minute; s += time.Second {
		if (s > 5*time.Minute && s < 7*time.Minute) || (s > 20*time.Minute && s < 21*time.Minute+30*time.Second) {
			continue
		}
		recv = append(recv, vat(s))
	}
	d.Quotes("ESZ6", recv...)
	d.Events("ESZ6", verifytest.Ev(schema.KindStart, "r1", vat(0)),
		verifytest.Gap("r1", schema.ReasonEOF, vat(7*time.Minute), vat(5*time.Minute), vat(7*time.Minute), `{"tables":["quotes"]}`),
		verifytest.Ev(schema.KindStop, "r1", vat(30*time.Minute)))
	d.Quotes("NQZ6", verifytest.Every(verifyBase, 0, 30*time.Minute, time.Second)...)
	d.Events("NQZ6", verifytest.Ev(schema.KindStart, "r1", vat(0)), verifytest.Ev(schema.KindStop, "r1", vat(30*time.Minute)))
	return d.Root
}

func runVerifyCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"mdcap"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestVerifyGaps_ExitStatus(t *testing.T) {
	root := verifyDataset(t)
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"defaults: 2m gap over 1m", []string{root}, exitFatal},
		{"both thresholds met", []string{root, "--max-gap", "3m", "--silence", "2m"}, exitOK},
		{"flags before DIR", []string{"--max-gap=3m", "--silence=2m", root}, exitOK},
		{"silence over threshold", []string{root, "--max-gap", "3m", "--silence", "1m"}, exitFatal},
		{"gap over threshold", []string{root, "--max-gap", "90s", "--silence", "2m"}, exitFatal},
		{"clean symbol only", []string{root, "--symbol", "NQZ6", "--max-gap", "1s", "--silence", "2s"}, exitOK},
		{"window before the silence", []string{root, "--max-gap", "3m", "--silence", "1m", "--to", "2026-11-25T10:15:00Z"}, exitOK},
		{"missing folder", []string{filepath.Join(root, "nope")}, exitUsage},
		{"not a dataset", []string{t.TempDir()}, exitUsage},
		{"no DIR", nil, exitUsage},
		{"bad --from", []string{root, "--from", "yesterday"}, exitUsage},
		{"bad --silence", []string{root, "--silence", "0s"}, exitUsage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runVerifyCLI(t, append([]string{"verify-gaps"}, tc.args...)...)
			if code != tc.want {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.want, out, errs)
			}
		})
	}
}

func TestVerifyGaps_TextReport(t *testing.T) {
	root := verifyDataset(t)
	code, out, errs := runVerifyCLI(t, "verify-gaps", root)
	if code != exitFatal {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	for _, want := range []string{
		"ESZ6", "NQZ6", "2026-11-25", "FAIL",
		"marked gaps longer than --max-gap 1m0s:",
		"ESZ6  2026-11-25 10:05:00.000 → 2026-11-25 10:07:00.000  2m0s  reasons eof×1  runs r1",
		"0 unmarked silences over --silence 5m0s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "10:20:00.000 →") {
		t.Errorf("90 s silence reported at the 5 m default:\n%s", out)
	}
	if !strings.Contains(errs, "thresholds not met: 1 marked gaps") {
		t.Errorf("stderr = %q", errs)
	}
}

func TestVerifyGaps_JSON(t *testing.T) {
	root := verifyDataset(t)
	t.Setenv("MDCAP_SILENCE", "1m") // env is read like every flag
	code, out, _ := runVerifyCLI(t, "verify-gaps", root, "--json")
	if code != exitFatal {
		t.Fatalf("exit %d", code)
	}
	// Decode into a generic map: this is the shape scripts rely on.
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if rep["version"] != 1.0 || rep["ok"] != false || rep["gaps_over_max"] != 1.0 || rep["silences"] != 1.0 || rep["silence_ns"] != 6e10 {
		t.Fatalf("top level = %v", rep)
	}
	syms := rep["symbols"].([]any)
	es := syms[0].(map[string]any)
	if es["symbol"] != "ESZ6" {
		t.Fatalf("first symbol = %v", es["symbol"])
	}
	gap := es["gaps"].([]any)[0].(map[string]any)
	if gap["start"] != "2026-11-25T10:05:00Z" || gap["end"] != "2026-11-25T10:07:00Z" || gap["duration_ns"] != 1.2e11 || gap["over_max"] != true {
		t.Errorf("gap = %v", gap)
	}
	sil := es["silences"].([]any)[0].(map[string]any)
	if sil["start"] != "2026-11-25T10:20:00Z" || sil["duration_ns"] != 9e10 {
		t.Errorf("silence = %v", sil)
	}
	d := es["days"].([]any)[0].(map[string]any)
	q := d["tables"].(map[string]any)["quotes"].(map[string]any)
	if d["date"] != "2026-11-25" || q["rows"] != 1593.0 || d["first_recv_ts"] != "2026-11-25T10:00:00Z" || d["last_recv_ts"] != "2026-11-25T10:30:00Z" {
		t.Errorf("day = %v", d)
	}
	g := d["gaps"].(map[string]any)
	if g["count"] != 1.0 || g["total_ns"] != 1.2e11 || g["longest_ns"] != 1.2e11 || g["reasons"].(map[string]any)["eof"] != 1.0 {
		t.Errorf("day gaps = %v", g)
	}
}

func TestVerifyGaps_BadFile(t *testing.T) {
	root := verifyDataset(t)
	d := filepath.Join(root, "quotes", "date=2026-11-25", "symbol=ESZ6")
	bad := filepath.Join(d, "zz-truncated.parquet")
	if err := os.WriteFile(bad, []byte("PAR1\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runVerifyCLI(t, "verify-gaps", root, "--max-gap", "3m", "--silence", "2m")
	if code != exitUsage || !strings.Contains(errs, bad) {
		t.Fatalf("exit %d, stderr %q: want 2 naming %s", code, errs, bad)
	}
	code, out, _ := runVerifyCLI(t, "verify-gaps", root, "--max-gap", "3m", "--silence", "2m", "--skip-bad")
	if code != exitOK || !strings.Contains(out, "skipped (--skip-bad):") || !strings.Contains(out, bad) {
		t.Fatalf("--skip-bad: exit %d\n%s", code, out)
	}
}

func TestVerifyGaps_ConfigFile(t *testing.T) {
	root := verifyDataset(t)
	cfg := filepath.Join(t.TempDir(), "mdcap.yaml")
	os.WriteFile(cfg, []byte("max-gap: 3m\nsilence: 2m\nsymbol: [ESZ6]\nout: ignored-by-verify\n"), 0o644)
	if code, out, errs := runVerifyCLI(t, "verify-gaps", "--config", cfg, root); code != exitOK || strings.Contains(out, "NQZ6") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	// a flag beats the file
	if code, _, _ := runVerifyCLI(t, "verify-gaps", "--config", cfg, root, "--max-gap", "1m"); code != exitFatal {
		t.Fatalf("flag over file: exit %d", code)
	}
}

func TestParseVerifyTime(t *testing.T) {
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	cases := []struct {
		in    string
		end   bool
		want  time.Time
		isErr bool
	}{
		{"", false, time.Time{}, false},
		{"2026-11-25", false, utc("2026-11-25T00:00:00Z"), false},
		{"2026-11-25", true, utc("2026-11-26T00:00:00Z"), false},
		{"2026-11-25T10:30:00.5+01:00", false, utc("2026-11-25T09:30:00.5Z"), false},
		{"2026-11-25T10:30", true, utc("2026-11-25T10:30:00Z"), false},
		{"2026-11-25 10:30:15", false, utc("2026-11-25T10:30:15Z"), false},
		{"25/11/2026", false, time.Time{}, true},
	}
	for _, tc := range cases {
		got, err := parseVerifyTime(tc.in, tc.end)
		if (err != nil) != tc.isErr || !got.Equal(tc.want) {
			t.Errorf("parseVerifyTime(%q, %v) = %v, %v; want %v (error %v)", tc.in, tc.end, got, err, tc.want, tc.isErr)
		}
	}
}

func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	if newProgressBar(&b) != nil {
		t.Fatal("progress bar on a writer that is not a terminal")
	}
	bar := &progressBar{w: &b}
	bar.update(verify.Progress{Files: 1, TotalFiles: 4, Bytes: 1 << 20, TotalBytes: 4 << 20})
	bar.update(verify.Progress{Files: 2, TotalFiles: 4, Bytes: 2 << 20, TotalBytes: 4 << 20}) // throttled
	bar.update(verify.Progress{Files: 4, TotalFiles: 4, Bytes: 4 << 20, TotalBytes: 4 << 20}) // last one always drawn
	bar.done()
	out := b.String()
	if !strings.Contains(out, " 25%  1/4 files  1.0/4.0 MiB") || !strings.Contains(out, "100%  4/4 files") || strings.Contains(out, "2/4 files") {
		t.Errorf("progress output %q", out)
	}
}

func TestVerifyGaps_HTMLFile(t *testing.T) {
	root := verifyDataset(t)
	page := filepath.Join(t.TempDir(), "coverage.html")
	code, _, errs := runVerifyCLI(t, "verify-gaps", root, "--html", page, "--max-gap", "3m", "--silence", "1m")
	if code != exitFatal {
		t.Fatalf("exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	if strings.Count(html, `<tr class="symbol-row`) != 2 || !strings.Contains(html, `data-symbol="ESZ6"`) ||
		strings.Count(html, `class="gap"`) != 1 || strings.Count(html, `class="silence"`) != 1 {
		t.Errorf("page lacks its rows or marks:\n%s", html)
	}
	if _, err := os.Stat(page + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary page left behind: %v", err)
	}
	if code, _, _ := runVerifyCLI(t, "verify-gaps", root, "--html", filepath.Join(root, "no", "such", "dir", "x.html")); code != exitUsage {
		t.Errorf("unwritable --html: exit %d, want 2", code)
	}
}
