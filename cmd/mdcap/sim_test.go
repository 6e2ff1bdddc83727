package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mdcap/mdcap/sim"
)

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestSimCommandServesUntilCancelled(t *testing.T) {
	gt := filepath.Join(t.TempDir(), "truth.jsonl")
	var out, errOut lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- newApp(&out, &errOut).RunContext(ctx, []string{"mdcap", "sim", "--ground-truth", gt, "--log-format", "json"})
	}()
	re := regexp.MustCompile(`REST \(--auth-url\): (http://127\.0\.0\.1:\d+/v1)`)
	var rest string
	deadline := time.Now().Add(5 * time.Second)
	for rest == "" {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			rest = m[1]
		} else if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no URL printed; stdout %q stderr %q", out.String(), errOut.String())
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	for _, want := range []string{"ws://127.0.0.1:", sim.DefaultUsername, sim.DefaultPassword, "ESZ6"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("start banner lacks %q: %s", want, out.String())
		}
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Post(rest+"/auth/accesstokenrequest", "application/json", strings.NewReader(
		`{"name":"`+sim.DefaultUsername+`","password":"`+sim.DefaultPassword+`","appId":"`+sim.DefaultAppID+`","cid":`+sim.DefaultCID+`,"sec":"`+sim.DefaultSec+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("token request: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sim returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop")
	}
	if _, err := os.Stat(gt); err != nil {
		t.Fatalf("ground truth file: %v", err)
	}
}

func TestSimRefusesNonLoopback(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"mdcap", "sim", "--addr", "0.0.0.0:0"}, &out, &errOut)
	if code != exitUsage || !strings.Contains(errOut.String(), "loopback") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestSimHelpDocumentsRulesAndFaults(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"mdcap", "sim", "--help"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	help := out.String()
	for _, want := range []string{
		"--client-timeout", "--authorize-timeout", "--cut-duplicate-id", "--max-requests-per-second",
		"--max-conn-age", "--max-conns-per-user", "--lockout-requests", "--token-expiry", "--max-frame-bytes",
		"--auth-penalty-after", "--max-sessions", "--heartbeat",
		"--drop-every", "--drop-at", "--stall-every", "--stall-for", "--close-every", "--close-code",
		"--shutdown-every", "--shutdown-reason", "--malformed-every", "--malformed-kind",
		"--expire-tokens-every", "--penalty-every", "--penalty-count", "--ground-truth", "NO close frame", "MDCAP_",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestSimConfigFromFlagsAndEnv(t *testing.T) {
	t.Setenv("MDCAP_SEED", "7")
	t.Setenv("MDCAP_DROP_EVERY", "90s")
	var cfg sim.Config
	cmd := simCommand()
	cmd.Action = func(c *cli.Context) error {
		var err error
		cfg, err = simConfig(c)
		return err
	}
	app := &cli.App{Commands: []*cli.Command{cmd}, Writer: &bytes.Buffer{}, ErrWriter: &bytes.Buffer{}}
	err := app.Run([]string{"mdcap", "sim", "--contract", "ESZ6:1:0.25:5000:20", "--contract", "CLZ6:2:0.01:60",
		"--rate-for", "CLZ6=5", "--stall-at", "1s,2s", "--stall-for", "3s", "--token-expiry", "silent", "--seed", "9"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Seed != 9 { // flag beats env
		t.Errorf("seed %d", cfg.Seed)
	}
	if len(cfg.Contracts) != 2 || cfg.Contracts[0].Rate != 20 || cfg.Contracts[1].Rate != 5 || cfg.Contracts[1].TickSize != 0.01 {
		t.Errorf("contracts %+v", cfg.Contracts)
	}
	if cfg.Rules.TokenExpiry != sim.TokenSilent {
		t.Errorf("token expiry %q", cfg.Rules.TokenExpiry)
	}
	var drop, stall bool
	for _, f := range cfg.Faults {
		switch f.Kind {
		case sim.FaultDrop:
			drop = f.Every == 90*time.Second
		case sim.FaultStall:
			stall = len(f.At) == 2 && f.At[1] == 2*time.Second && f.Duration == 3*time.Second
		}
	}
	if !drop || !stall {
		t.Errorf("faults %+v", cfg.Faults)
	}
	// A YAML file fills what neither flag nor env set.
	yml := filepath.Join(t.TempDir(), "sim.yaml")
	if err := os.WriteFile(yml, []byte("rate: 33\nseed: 5\nclient-timeout: 4s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Action = func(c *cli.Context) error {
		if _, err := applyConfigFile(c, c.String("config")); err != nil {
			return err
		}
		var err error
		cfg, err = simConfig(c)
		return err
	}
	if err := app.Run([]string{"mdcap", "sim", "--config", yml}); err != nil {
		t.Fatal(err)
	}
	if cfg.Rate != 33 || cfg.Seed != 7 || cfg.Rules.ClientTimeout != 4*time.Second { // env beats file
		t.Errorf("from file: rate %v seed %d client timeout %v", cfg.Rate, cfg.Seed, cfg.Rules.ClientTimeout)
	}
	for _, bad := range [][]string{
		{"--contract", "ESZ6:x:0.25:1"},
		{"--rate-for", "NOPE=3"},
		{"--drop-at", "soon"},
	} {
		err := app.Run(append([]string{"mdcap", "sim"}, bad...))
		if err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
