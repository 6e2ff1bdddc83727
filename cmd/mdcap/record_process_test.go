package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mdcap/mdcap/capture/capturetest"
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/sim"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// mdcapBinary builds cmd/mdcap once per test process.
func mdcapBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mdcap-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "mdcap")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return binPath
}

// runMdcap runs the binary to completion and returns its exit code and stderr.
func runMdcap(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(mdcapBinary(t), args...)
	cmd.Env = cleanEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stderr.String()
}

// cleanEnv is the test's environment without MDCAP_* variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MDCAP_") {
			env = append(env, kv)
		}
	}
	return env
}

func TestRecordProcess_SIGTERMLeavesCompleteFilesAndExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, signals := range []int{1, 2} {
		t.Run(map[int]string{1: "one signal", 2: "two signals"}[signals], func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "data")
			cmd := exec.Command(mdcapBinary(t), "record", "--sim", "--out", out, "--status-interval", "100ms",
				"--roll-interval", "300ms", "--log-format", "json")
			cmd.Env = cleanEnv()
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait for a status line that shows rows written and a finished file.
			sc := bufio.NewScanner(stderr)
			var logs []string
			ready := false
			for sc.Scan() {
				line := sc.Text()
				logs = append(logs, line)
				var l struct {
					Message string `json:"message"`
					Quotes  int    `json:"quotes"`
				}
				if json.Unmarshal([]byte(line), &l) == nil && l.Message == "status" && l.Quotes > 20 {
					ready = true
					break
				}
			}
			if !ready {
				_ = cmd.Process.Kill()
				t.Fatalf("recorder never reported rows:\n%s", strings.Join(logs, "\n"))
			}
			for i := 0; i < signals; i++ {
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			}
			go func() { // drain the rest of the log
				for sc.Scan() {
				}
			}()
			if err := cmd.Wait(); err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, strings.Join(logs, "\n"))
			}
			d, err := capturetest.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.TempFiles) != 0 {
				t.Errorf("temporary files left: %v", d.TempFiles)
			}
			if err := d.CheckSeq(); err != nil {
				t.Error(err)
			}
			for _, sym := range simDefaultSymbols {
				if len(d.Quotes[sym]) == 0 || len(d.DOMs[sym]) == 0 {
					t.Errorf("%s: %d quotes, %d dom rows", sym, len(d.Quotes[sym]), len(d.DOMs[sym]))
				}
				stops := d.Kind(sym, schema.KindStop)
				if len(stops) != 1 || stops[0].Reason != schema.ReasonUserStop {
					t.Errorf("%s: stop rows %+v", sym, stops)
				}
			}
		})
	}
}

func TestRecordProcess_BadUsageExitsTwo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"record", "--no-such-flag"}, "no-such-flag"},
		{[]string{"record", "--sim", "--buffer", "0"}, "--buffer"},
		{[]string{"record", "--symbols", "ESZ6"}, "--username"},
		{[]string{"record", "--sim", "--heartbeat", "soon"}, "heartbeat"},
	} {
		code, stderr := runMdcap(t, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d mentioning %s", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
}

func TestRecordProcess_BadCredentialsExitOneWithoutTheSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	srv, err := sim.Start(sim.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const password = "Wr0ng-pa55word-do-not-print"
	const sec = "s3c-do-not-print"
	code, stderr := runMdcap(t, "record", "--symbols", "ESZ6", "--out", t.TempDir(),
		"--md-url", srv.WSURL(), "--auth-url", srv.RESTURL(),
		"--username", sim.DefaultUsername, "--password", password, "--app-id", sim.DefaultAppID,
		"--cid", sim.DefaultCID, "--sec", sec, "--duration", "20s")
	if code != exitFatal {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFatal, stderr)
	}
	last := stderr[strings.LastIndex(strings.TrimRight(stderr, "\n"), "\n")+1:]
	if !strings.Contains(last, "mdcap:") || !strings.Contains(last, "rejected") {
		t.Errorf("last line %q does not explain the failure", last)
	}
	if strings.Contains(stderr, password) || strings.Contains(stderr, sec) {
		t.Errorf("a secret reached stderr:\n%s", stderr)
	}
}

func TestRecordProcess_UnwritableOutputExitsOne(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	file := filepath.Join(t.TempDir(), "not-a-folder")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stderr := runMdcap(t, "record", "--sim", "--out", filepath.Join(file, "data"), "--duration", "5s")
	if code != exitFatal || !strings.Contains(stderr, "open dataset") {
		t.Errorf("exit %d, stderr %q; want %d and the reason", code, stderr, exitFatal)
	}
}

// startRecorder starts the binary and waits for a status line showing
// rows written (and, with roll, files finalised).
func startRecorder(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(mdcapBinary(t), args...)
	cmd.Env = cleanEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var logs []string
	for sc.Scan() {
		line := sc.Text()
		logs = append(logs, line)
		var l struct {
			Message string `json:"message"`
			Quotes  int    `json:"quotes"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == "status" && l.Quotes > 40 {
			go func() {
				for sc.Scan() {
				}
			}()
			return cmd
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	t.Fatalf("recorder never reported rows:\n%s", strings.Join(logs, "\n"))
	return nil
}

// A recorder killed with SIGKILL leaves no stop rows; the next start on the
// same root writes a crash_recovery gap per symbol from the dead run's last
// durable row to its own first new row, and sweeps the temporary files.
func TestRecordProcess_KilledRunIsRecoveredAsGap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	out := filepath.Join(t.TempDir(), "data")
	args := []string{"record", "--sim", "--out", out, "--writer-id", "w1", "--status-interval", "100ms",
		"--roll-interval", "200ms", "--log-format", "json"}
	cmd := startRecorder(t, args...)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	dead, err := capturetest.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	lastDurable := map[string]int64{}
	for sym, rows := range dead.Quotes {
		for _, r := range rows {
			lastDurable[sym] = max(lastDurable[sym], r.RecvTS)
		}
	}
	for sym, rows := range dead.DOMs {
		for _, r := range rows {
			lastDurable[sym] = max(lastDurable[sym], r.RecvTS)
		}
	}
	for sym, rows := range dead.Events {
		for _, r := range rows {
			lastDurable[sym] = max(lastDurable[sym], r.RecvTS)
		}
	}
	code, stderr := runMdcap(t, append(args, "--duration", "1500ms")...)
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, stderr)
	}
	d, err := capturetest.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.TempFiles) != 0 {
		t.Errorf("temporary files left: %v", d.TempFiles)
	}
	for _, sym := range simDefaultSymbols {
		var gaps []schema.Event
		for _, g := range d.Kind(sym, schema.KindGap) {
			if g.Reason == schema.ReasonCrashRecovery {
				gaps = append(gaps, g)
			}
		}
		if len(gaps) != 1 {
			t.Fatalf("%s: crash_recovery gaps %+v", sym, gaps)
		}
		g := gaps[0]
		if lastDurable[sym] == 0 || *g.GapStart != lastDurable[sym] {
			t.Errorf("%s: gap starts at %d, the dead run's last durable row is at %d", sym, *g.GapStart, lastDurable[sym])
		}
		// The gap ends at the new run's first row of the symbol.
		first := int64(0)
		for _, r := range d.Quotes[sym] {
			if r.RecvTS > lastDurable[sym] && (first == 0 || r.RecvTS < first) {
				first = r.RecvTS
			}
		}
		for _, r := range d.DOMs[sym] {
			if r.RecvTS > lastDurable[sym] && (first == 0 || r.RecvTS < first) {
				first = r.RecvTS
			}
		}
		if *g.GapEnd != first {
			t.Errorf("%s: gap ends at %d, the first new row is at %d", sym, *g.GapEnd, first)
		}
		if n := len(d.Kind(sym, schema.KindStart)); n != 2 {
			t.Errorf("%s: %d start rows, want 2", sym, n)
		}
	}
	// A clean stop is not mistaken for a crash.
	if code, stderr := runMdcap(t, append(args, "--duration", "500ms")...); code != 0 {
		t.Fatalf("third run: exit %d\n%s", code, stderr)
	}
	d, _ = capturetest.Read(out)
	for _, sym := range simDefaultSymbols {
		n := 0
		for _, g := range d.Kind(sym, schema.KindGap) {
			if g.Reason == schema.ReasonCrashRecovery {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d crash_recovery gaps after a clean run, want still 1", sym, n)
		}
	}
}

func TestRecordProcess_UnknownSymbolExitsOne(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	code, stderr := runMdcap(t, "record", "--sim", "--symbols", "ESZ6,ZZZ9", "--out", t.TempDir(), "--duration", "20s")
	if code != exitFatal || !strings.Contains(stderr, "ZZZ9") {
		t.Errorf("exit %d, want %d naming the symbol; stderr:\n%s", code, exitFatal, stderr)
	}
}
