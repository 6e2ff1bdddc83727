package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/mdcap/mdcap/storage"
)

// loadWith runs `record` with args, capturing the resolved configuration.
func loadWith(t *testing.T, args ...string) (recordConfig, error) {
	t.Helper()
	var cfg recordConfig
	var loadErr error
	app := &cli.App{
		Name:           "mdcap",
		Writer:         &strings.Builder{},
		ErrWriter:      &strings.Builder{},
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{{
			Name:  "record",
			Flags: recordFlags(),
			Action: func(c *cli.Context) error {
				cfg, loadErr = loadRecordConfig(c)
				return nil
			},
		}},
	}
	if err := app.Run(append([]string{"mdcap", "record"}, args...)); err != nil {
		return cfg, err
	}
	return cfg, loadErr
}

func writeFile(t *testing.T, text string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mdcap.yaml")
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// clearEnv makes sure no MDCAP_* variable of the test machine leaks in.
func clearEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "MDCAP_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

func TestRecordConfig_Precedence(t *testing.T) {
	file := "symbols: [ESZ6, NQZ6]\nout: /from/file\nbuffer: 111\nheartbeat: 1s\ndom: true\nroll-size: 1MiB\n"
	cases := []struct {
		name    string
		file    bool
		env     map[string]string
		args    []string
		out     string
		buffer  int
		hb      time.Duration
		dom     bool
		rollSz  int64
		symbols string
	}{
		{name: "defaults", args: []string{"--symbols", "ESZ6", "--access-token", "x"},
			out: "./data", buffer: 65536, hb: 2500 * time.Millisecond, rollSz: 128 << 20, symbols: "ESZ6"},
		{name: "file over default", file: true, args: []string{"--access-token", "x"},
			out: "/from/file", buffer: 111, hb: time.Second, dom: true, rollSz: 1 << 20, symbols: "ESZ6,NQZ6"},
		{name: "env over file", file: true, env: map[string]string{"MDCAP_OUT": "/from/env", "MDCAP_BUFFER": "222", "MDCAP_DOM": "false", "MDCAP_ACCESS_TOKEN": "x", "MDCAP_SYMBOLS": "CLZ6"},
			out: "/from/env", buffer: 222, hb: time.Second, dom: false, rollSz: 1 << 20, symbols: "CLZ6"},
		{name: "flag over env over file", file: true, env: map[string]string{"MDCAP_OUT": "/from/env", "MDCAP_BUFFER": "222", "MDCAP_HEARTBEAT": "2s"},
			args: []string{"--out", "/from/flag", "--buffer", "333", "--access-token", "x", "--roll-size", "4096"},
			out:  "/from/flag", buffer: 333, hb: 2 * time.Second, dom: true, rollSz: 4096, symbols: "ESZ6,NQZ6"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := tc.args
			if tc.file {
				args = append([]string{"--config", writeFile(t, file, 0o600)}, args...)
			}
			cfg, err := loadWith(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Out != tc.out || cfg.Buffer != tc.buffer || cfg.Heartbeat != tc.hb || cfg.DOM != tc.dom ||
				cfg.RollSize != tc.rollSz || strings.Join(cfg.Symbols, ",") != tc.symbols {
				t.Errorf("got out=%s buffer=%d heartbeat=%s dom=%v roll-size=%d symbols=%v", cfg.Out, cfg.Buffer, cfg.Heartbeat,
					cfg.DOM, cfg.RollSize, cfg.Symbols)
			}
		})
	}
}

// TestRecordConfig_MaxBuffered: --max-buffered takes sizes with units from
// its flag, the environment or the config file, and defaults to the
// storage default.
func TestRecordConfig_MaxBuffered(t *testing.T) {
	cases := []struct {
		name string
		file string
		env  string
		args []string
		want int64
	}{
		{name: "default", want: storage.DefaultMaxBuffered},
		{name: "flag", args: []string{"--max-buffered", "256MiB"}, want: 256 << 20},
		{name: "env", env: "1GiB", want: 1 << 30},
		{name: "file", file: "max-buffered: 100MB\n", want: 100_000_000},
		{name: "flag over env and file", file: "max-buffered: 100MB\n", env: "1GiB", args: []string{"--max-buffered", "2097152"}, want: 2 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			if tc.env != "" {
				t.Setenv("MDCAP_MAX_BUFFERED", tc.env)
			}
			args := append([]string{"--sim"}, tc.args...)
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, tc.file, 0o600)}, args...)
			}
			cfg, err := loadWith(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MaxBuffered != tc.want {
				t.Errorf("MaxBuffered = %d, want %d", cfg.MaxBuffered, tc.want)
			}
		})
	}
}

func TestRecordConfig_ValidationNamesTheField(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"--access-token", "x"}, want: "--symbols"},
		{args: []string{"--symbols", "ESZ6"}, want: "--username/--password"},
		{args: []string{"--symbols", "ESZ6,ESZ6", "--sim"}, want: "--symbols"},
		{args: []string{"--sim", "--buffer", "0"}, want: "--buffer"},
		{args: []string{"--sim", "--roll-size", "lots"}, want: "--roll-size"},
		{args: []string{"--sim", "--max-buffered", "lots"}, want: "--max-buffered"},
		{args: []string{"--sim", "--max-buffered", "64KiB"}, want: "--max-buffered"},
		{args: []string{"--sim", "--heartbeat", "20s"}, want: "--heartbeat"},
		{args: []string{"--sim", "--log-format", "xml"}, want: "--log-format"},
		{args: []string{"--sim", "--ticks"}, want: "--ticks"},
		{args: []string{"--sim", "--replay-from", "2026-01-01"}, want: "--replay-from"},
		{args: []string{"--sim", "--duration", "-1s"}, want: "--duration"},
		{args: []string{"--sim"}, env: map[string]string{"MDCAP_STALE_AFTER": "0s"}, want: "--stale-after"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := loadWith(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
			if exitCode(err, &strings.Builder{}) != exitUsage {
				t.Errorf("exit code of %v is not %d", err, exitUsage)
			}
		})
	}
}

func TestRecordConfig_FileErrors(t *testing.T) {
	clearEnv(t)
	_, err := loadWith(t, "--config", writeFile(t, "symbol: ESZ6\n", 0o600))
	if err == nil || !strings.Contains(err.Error(), `unknown key "symbol"`) {
		t.Errorf("unknown key: err = %v", err)
	}
	_, err = loadWith(t, "--config", writeFile(t, "symbols: [ESZ6\n", 0o600))
	if err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("bad YAML: err = %v", err)
	}
	_, err = loadWith(t, "--config", writeFile(t, "sim: true\nheartbeat: soon\n", 0o600))
	if err == nil || !strings.Contains(err.Error(), `"heartbeat"`) {
		t.Errorf("bad value: err = %v", err)
	}
	_, err = loadWith(t, "--config", filepath.Join(t.TempDir(), "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestRecordConfig_SecretsFileReadableByOthersWarns(t *testing.T) {
	clearEnv(t)
	const secret = "hunter2-very-secret"
	text := "symbols: ESZ6\nusername: u\npassword: " + secret + "\n"
	cfg, err := loadWith(t, "--config", writeFile(t, text, 0o644))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.warnings) != 1 || !strings.Contains(cfg.warnings[0], "chmod 600") || strings.Contains(cfg.warnings[0], secret) {
		t.Errorf("warnings = %q", cfg.warnings)
	}
	if string(cfg.Password) != secret || cfg.Password.String() == secret {
		t.Errorf("password not loaded or printable")
	}
	cfg, err = loadWith(t, "--config", writeFile(t, text, 0o600))
	if err != nil || len(cfg.warnings) != 0 {
		t.Errorf("mode 600: err=%v warnings=%q", err, cfg.warnings)
	}
}

func TestRecordConfig_SimDefaults(t *testing.T) {
	clearEnv(t)
	cfg, err := loadWith(t, "--sim")
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if strings.Join(cfg.Symbols, ",") != "ESZ6,NQZ6" || !cfg.DOM || cfg.Out != "./data" || cfg.WriterID != host {
		t.Errorf("sim defaults: %+v", cfg)
	}
	cfg, err = loadWith(t, "--sim", "--symbols", "CLZ6")
	if err != nil || cfg.DOM || strings.Join(cfg.Symbols, ",") != "CLZ6" {
		t.Errorf("sim with symbols: %v %+v", err, cfg)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"128MiB": 128 << 20, "4096": 4096, "1GB": 1e9, "64 KiB": 64 << 10, "2G": 2 << 30} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5MiB", "1TiB"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted", in)
		}
	}
}

// TestSetMemoryLimit: record's soft memory limit follows --max-buffered,
// is restored afterwards, and GOMEMLIMIT takes precedence.
func TestSetMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	restore := setMemoryLimit(64<<20, zerolog.Nop())
	if got := debug.SetMemoryLimit(-1); got != 160<<20 {
		t.Errorf("limit %d with the default --max-buffered, want %d", got, 160<<20)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Errorf("limit %d after restore, want %d", got, prev)
	}
	if got := recordMemoryLimit(0); got != 160<<20 {
		t.Errorf("limit %d for a zero --max-buffered (the storage default), want %d", got, 160<<20)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	setMemoryLimit(64<<20, zerolog.Nop())()
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Errorf("limit %d with GOMEMLIMIT set, want it untouched (%d)", got, prev)
	}
}
