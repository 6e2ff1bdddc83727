package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mdcap/mdcap/capture/capturetest"
	"github.com/mdcap/mdcap/sim"
)

// Distinctive credentials: any of them in an output is a leak.
const (
	leakPassword = "Pw-Zq81-DISTINCT-xyzzy"
	leakSec      = "Sec-Lm44-DISTINCT-plugh"
	leakWrongPw  = "Wrong-Pw-DISTINCT-9931"
)

// simToken matches every token the simulator issues (access and md).
var simToken = regexp.MustCompile(`(at|md)-[0-9a-f]{48}`)

// recordRun is one run of the real binary and what it produced.
type recordRun struct {
	code           int
	stdout, stderr string
	metrics        string
}

// runRecordProcess runs the mdcap binary with args and env; when faults is
// set it waits for rows, scrapes the metrics and calls faults, then lets
// the run end by its --duration.
func runRecordProcess(t *testing.T, env, args []string, faults func()) recordRun {
	t.Helper()
	cmd := exec.Command(mdcapBinary(t), args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var r recordRun
	var stderr strings.Builder
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var metricsAddr string
	for faults != nil && sc.Scan() {
		line := sc.Text()
		stderr.WriteString(line + "\n")
		var l struct {
			Message string `json:"message"`
			Addr    string `json:"addr"`
			Quotes  int    `json:"quotes"`
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		if strings.HasPrefix(l.Message, "serving metrics") {
			metricsAddr = l.Addr
		}
		if l.Message == "status" && l.Quotes > 5 {
			if metricsAddr != "" {
				if resp, err := http.Get("http://" + metricsAddr + "/metrics"); err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					r.metrics = string(b)
				}
			}
			faults()
			break
		}
	}
	rest, _ := io.ReadAll(pr)
	stderr.Write(rest)
	err = cmd.Wait()
	r.code = cmd.ProcessState.ExitCode()
	if err != nil && r.code < 0 {
		t.Fatalf("record: %v", err)
	}
	r.stdout, r.stderr = stdout.String(), stderr.String()
	return r
}

// TestRecordProcess_SecretsNeverWritten runs the binary against the
// simulator with distinctive credentials, through token expiry, drops,
// close frames and a malformed frame, then with a given access token, then
// with a wrong password, and greps everything the runs produced: stdout,
// stderr, the metrics page, every file under --out (raw bytes: Parquet
// footers, journals, locks) and every string of every events row.
func TestRecordProcess_SecretsNeverWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	scfg := sim.DefaultConfig()
	scfg.Rate = 40
	scfg.Users = []sim.User{{ID: 7, Name: "leaktest", Password: leakPassword, AppID: sim.DefaultAppID, CID: sim.DefaultCID, Sec: leakSec}}
	scfg.PenaltyWait = 200 * time.Millisecond
	srv, err := sim.Start(scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	base := []string{"record", "--md-url", srv.WSURL(), "--auth-url", srv.RESTURL(), "--symbols", "ESZ6,NQZ6", "--dom",
		"--out", out, "--writer-id", "leak", "--log-format", "json", "--status-interval", "100ms",
		"--roll-interval", "300ms", "--metrics", "127.0.0.1:0", "--stale-after", "1s", "--heartbeat", "250ms"}
	creds := []string{"MDCAP_USERNAME=leaktest", "MDCAP_APP_ID=" + sim.DefaultAppID, "MDCAP_CID=" + sim.DefaultCID,
		"MDCAP_SEC=" + leakSec}

	var runs []recordRun
	// 1. Credentials from the environment, through faults.
	runs = append(runs, runRecordProcess(t, append(creds, "MDCAP_PASSWORD="+leakPassword),
		append(base, "--duration", "3s"), func() {
			srv.ExpireTokens()
			srv.CloseAll(4000, "go away")
			_ = srv.Malformed(sim.MalformedJSON)
			srv.DropAll()
		}))
	if runs[0].code != exitOK {
		t.Fatalf("run 1 exit %d\n%s", runs[0].code, runs[0].stderr)
	}
	// 2. A given access token, on the command line.
	body, _ := json.Marshal(map[string]any{"name": "leaktest", "password": leakPassword, "appId": sim.DefaultAppID,
		"appVersion": "t", "cid": sim.DefaultCID, "sec": leakSec, "deviceId": "t"})
	resp, err := http.Post(srv.RESTURL()+"/auth/accesstokenrequest", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken   string `json:"accessToken"`
		MDAccessToken string `json:"mdAccessToken"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" || !simToken.MatchString(tok.AccessToken) {
		t.Fatalf("token request: %v %+v", err, tok)
	}
	runs = append(runs, runRecordProcess(t, nil, append(base, "--duration", "2s", "--access-token", tok.AccessToken), func() {}))
	if runs[1].code != exitOK {
		t.Fatalf("run 2 exit %d\n%s", runs[1].code, runs[1].stderr)
	}
	// 3. A wrong password: exit 1, and the message must not echo it.
	runs = append(runs, runRecordProcess(t, append(creds, "MDCAP_PASSWORD="+leakWrongPw), append(base, "--duration", "5s"), nil))
	if runs[2].code != exitFatal {
		t.Fatalf("run 3 (wrong password) exit %d, want %d\n%s", runs[2].code, exitFatal, runs[2].stderr)
	}

	secrets := []string{leakPassword, leakSec, leakWrongPw, tok.AccessToken, tok.MDAccessToken}
	check := func(where, text string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s holds a secret (%.6s…)", where, s)
			}
		}
		if m := simToken.FindString(text); m != "" {
			t.Errorf("%s holds an access token (%.6s…)", where, m)
		}
	}
	for i, r := range runs {
		check("stdout of run "+string(rune('1'+i)), r.stdout)
		check("stderr of run "+string(rune('1'+i)), r.stderr)
		check("metrics of run "+string(rune('1'+i)), r.metrics)
	}
	if runs[0].metrics == "" {
		t.Error("the metrics page was never read")
	}
	files, dirs := filesUnder(t, out)
	if len(files) == 0 {
		t.Fatal("no files under --out")
	}
	for p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		check(p, string(b))
	}
	d, err := capturetest.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	events := 0
	for sym, rows := range d.Events {
		for _, e := range rows {
			events++
			check("events row of "+sym, e.Kind+" "+e.Reason+" "+e.RunID+" "+e.Detail)
		}
	}
	if events == 0 || len(d.Quotes["ESZ6"]) == 0 {
		t.Errorf("the runs recorded too little to prove anything: %d events, %d quotes", events, len(d.Quotes["ESZ6"]))
	}

	// Permissions: nothing writable by group or others, nothing executable
	// but folders, nothing outside --out.
	for p, m := range files {
		if m.Perm()&0o022 != 0 || m.Perm()&0o111 != 0 || !m.IsRegular() {
			t.Errorf("%s: mode %s", p, m)
		}
	}
	for p, m := range dirs {
		if m&0o022 != 0 {
			t.Errorf("%s/: mode %s", p, m)
		}
	}
	if es, err := os.ReadDir(parent); err != nil || len(es) != 1 {
		t.Errorf("the runs wrote beside --out: %v %v", es, err)
	}
	t.Logf("%d runs, %d files and %d folders under --out, %d events rows: no secret found", len(runs), len(files), len(dirs), events)
}
