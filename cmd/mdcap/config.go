package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"

	"github.com/mdcap/mdcap/capture"
	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/storage"
)

// Endpoints used when no --md-url / --auth-url is given.
const (
	defaultMDURL   = "wss://md.tradovateapi.com/v1/websocket"
	defaultAuthURL = "https://live.tradovateapi.com/v1"
)

// minMaxBuffered is the smallest --max-buffered accepted: less would
// write row groups of a handful of rows.
const minMaxBuffered = 1 << 20

// Symbols recorded by `record --sim` when none are configured.
var simDefaultSymbols = []string{"ESZ6", "NQZ6"}

// recordConfig is the resolved configuration of `mdcap record`: flags,
// MDCAP_* environment variables and the --config file, in that order of
// precedence, over the defaults.
type recordConfig struct {
	ConfigFile string

	Out     string
	Symbols []string
	DOM     bool
	Ticks   bool
	Sim     bool

	MDURL, AuthURL                             string
	Username, AppID, AppVersion, CID, DeviceID string
	Password, Sec, AccessToken                 secretString
	ReplayFrom, ReplayTo                       string
	ReplaySpeed                                int
	WriterID                                   string
	SyncInterval, Duration                     time.Duration
	Heartbeat, StaleAfter, RequestTimeout      time.Duration
	MaxConnAge, RollInterval, StatusInterval   time.Duration
	RollSize                                   int64
	MaxBuffered                                int64 // --max-buffered: storage.Config.MaxBufferedBytes
	Buffer                                     int
	FullWait                                   time.Duration
	Metrics                                    string
	LogFormat                                  string
	CAFile                                     string
	tls                                        *tls.Config // from CAFile; nil: the system's roots
	warnings                                   []string
	hooks                                      recordHooks
}

// recordHooks let tests tune what no flag sets and watch the feed's output.
type recordHooks struct {
	feed    func(*feed.Config)              // adjust the feed's configuration
	handler func(feed.Handler) feed.Handler // wrap the pipeline as the feed sees it
	sink    func(capture.Sink) capture.Sink // wrap the dataset as the writer sees it
	fs      storage.FS                      // the dataset's and journal's file system (nil: the OS's)
}

// secretString is a credential held by the CLI; it never prints.
type secretString string

func (s secretString) String() string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

// envName is the environment variable of a flag: MDCAP_<FLAG_IN_UPPER_SNAKE>.
func envName(flag string) string {
	return "MDCAP_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func env(flag string) []string { return []string{envName(flag)} }

// secretKeys are the settings that hold credentials.
var secretKeys = map[string]bool{"password": true, "sec": true, "access-token": true}

// recordFlags are the flags of `mdcap record` (CONTRACT.md, "record flags").
func recordFlags() []cli.Flag {
	str := func(name, value, usage string) cli.Flag {
		return &cli.StringFlag{Name: name, Value: value, Usage: usage, EnvVars: env(name)}
	}
	dur := func(name string, value time.Duration, usage string) cli.Flag {
		return &cli.DurationFlag{Name: name, Value: value, Usage: usage, EnvVars: env(name)}
	}
	boolean := func(name, usage string) cli.Flag {
		return &cli.BoolFlag{Name: name, Usage: usage, EnvVars: env(name)}
	}
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "YAML file whose keys are flag names (flag > env > file > default)", EnvVars: env("config")},
		str("out", "./data", "dataset root"),
		str("symbols", "", "contract symbols to capture, comma-separated, e.g. ESZ6,NQZ6 (required unless in the config file or with --sim)"),
		boolean("dom", "also capture depth of market"),
		boolean("ticks", "also capture trade ticks (not supported by this build)"),
		boolean("sim", "start the embedded simulator on an ephemeral loopback port and record from it (no --symbols: ESZ6,NQZ6 with DOM)"),
		str("md-url", defaultMDURL, "market-data WebSocket endpoint"),
		str("ca-file", "", "PEM file of CA certificates to trust, besides the system's, for wss:// and https:// (verification is never turned off)"),
		str("auth-url", defaultAuthURL, "REST base of auth/accesstokenrequest and contract/find"),
		str("username", "", "account name (prefer MDCAP_USERNAME)"),
		str("password", "", "account password (prefer MDCAP_PASSWORD; never logged)"),
		str("app-id", "", "application id"),
		str("app-version", "", "application version"),
		str("cid", "", "client id"),
		str("sec", "", "client secret (prefer MDCAP_SEC; never logged)"),
		str("device-id", "", "device id"),
		str("access-token", "", "use this access token instead of requesting one (never logged)"),
		str("replay-from", "", "record a past period through the replay server (not supported by this build)"),
		str("replay-to", "", "end of the replayed period (not supported by this build)"),
		&cli.IntFlag{Name: "replay-speed", Usage: "replay speed in percent (not supported by this build)", EnvVars: env("replay-speed")},
		str("writer-id", "", "distinguishes recorders sharing one --out (default: host name)"),
		dur("sync-interval", time.Second, "how often the crash journal is made durable (fsync)"),
		dur("duration", 0, "stop cleanly after this long (0: run until stopped)"),
		dur("heartbeat", 2500*time.Millisecond, "client heartbeat period"),
		dur("stale-after", 10*time.Second, "no frame and no pong for this long: the connection is dead"),
		dur("request-timeout", 10*time.Second, "a request without its response after this long fails"),
		dur("max-conn-age", 23*time.Hour, "rotate the connection (make-before-break) after this long"),
		dur("roll-interval", 5*time.Minute, "finalise each open Parquet file at least this often"),
		str("roll-size", "128MiB", "…or when it reaches this size (bytes; KiB, MiB, GiB, KB, MB, GB suffixes)"),
		str("max-buffered", "64MiB", "memory for rows not yet written, over all open Parquet files; more buys longer row groups with many symbols (bytes; size suffixes as --roll-size)"),
		&cli.IntFlag{Name: "buffer", Value: 65536, Usage: "capacity (records) of the buffer between the feed and the writer", EnvVars: env("buffer")},
		&cli.DurationFlag{Name: "full-wait", Hidden: true, EnvVars: env("full-wait"),
			Usage: "benchmarks: wait this long for room in a full buffer before dropping (0: drop at once; see docs/PERFORMANCE.md)"},
		str("metrics", "", "serve Prometheus metrics at http://ADDR/metrics"),
		str("log-format", "", "json or console (default: console on a TTY, json otherwise)"),
		dur("status-interval", 30*time.Second, "period of the one-line status log (0: off)"),
	}
}

// loadRecordConfig resolves and validates the configuration once. Errors
// are usage errors (exit 2) naming the setting at fault.
func loadRecordConfig(c *cli.Context) (recordConfig, error) {
	var cfg recordConfig
	if path := c.String("config"); path != "" {
		cfg.ConfigFile = path
		warn, err := applyConfigFile(c, path)
		if err != nil {
			return cfg, usageError(err)
		}
		cfg.warnings = append(cfg.warnings, warn...)
	}
	cfg.Out = c.String("out")
	for _, s := range strings.Split(c.String("symbols"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Symbols = append(cfg.Symbols, s)
		}
	}
	cfg.DOM, cfg.Ticks, cfg.Sim = c.Bool("dom"), c.Bool("ticks"), c.Bool("sim")
	cfg.MDURL, cfg.AuthURL = c.String("md-url"), c.String("auth-url")
	if cfg.CAFile = c.String("ca-file"); cfg.CAFile != "" {
		tc, err := clientTLS(cfg.CAFile)
		if err != nil {
			return cfg, usageError(fmt.Errorf("--ca-file: %w", err))
		}
		cfg.tls = tc
	}
	cfg.Username, cfg.AppID, cfg.AppVersion = c.String("username"), c.String("app-id"), c.String("app-version")
	cfg.CID, cfg.DeviceID = c.String("cid"), c.String("device-id")
	cfg.Password, cfg.Sec = secretString(c.String("password")), secretString(c.String("sec"))
	cfg.AccessToken = secretString(c.String("access-token"))
	cfg.ReplayFrom, cfg.ReplayTo, cfg.ReplaySpeed = c.String("replay-from"), c.String("replay-to"), c.Int("replay-speed")
	cfg.WriterID = c.String("writer-id")
	cfg.SyncInterval, cfg.Duration = c.Duration("sync-interval"), c.Duration("duration")
	cfg.Heartbeat, cfg.StaleAfter = c.Duration("heartbeat"), c.Duration("stale-after")
	cfg.RequestTimeout, cfg.MaxConnAge = c.Duration("request-timeout"), c.Duration("max-conn-age")
	cfg.RollInterval, cfg.StatusInterval = c.Duration("roll-interval"), c.Duration("status-interval")
	cfg.Buffer, cfg.Metrics, cfg.LogFormat = c.Int("buffer"), c.String("metrics"), c.String("log-format")
	cfg.FullWait = c.Duration("full-wait")
	size, err := parseBytes(c.String("roll-size"))
	if err != nil {
		return cfg, usageError(fmt.Errorf("--roll-size: %w", err))
	}
	cfg.RollSize = size
	if cfg.MaxBuffered, err = parseBytes(c.String("max-buffered")); err != nil {
		return cfg, usageError(fmt.Errorf("--max-buffered: %w", err))
	}
	if cfg.Sim && len(cfg.Symbols) == 0 {
		cfg.Symbols = append([]string(nil), simDefaultSymbols...)
		if !c.IsSet("dom") {
			cfg.DOM = true
		}
	}
	if cfg.WriterID == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "mdcap"
		}
		cfg.WriterID = host
	}
	if err := cfg.validate(); err != nil {
		return cfg, usageError(err)
	}
	return cfg, nil
}

// validate checks the resolved configuration; the error names the flag.
func (cfg *recordConfig) validate() error {
	if len(cfg.Symbols) == 0 {
		return errors.New("--symbols: required (or give them in the --config file, or use --sim)")
	}
	seen := map[string]bool{}
	for _, s := range cfg.Symbols {
		if seen[s] {
			return fmt.Errorf("--symbols: %q listed twice", s)
		}
		seen[s] = true
	}
	if cfg.Ticks {
		return errors.New("--ticks: tick capture is not supported by this build")
	}
	if cfg.ReplayFrom != "" || cfg.ReplayTo != "" || cfg.ReplaySpeed != 0 {
		return errors.New("--replay-from/--replay-to/--replay-speed: market replay is not supported by this build")
	}
	if cfg.Out == "" {
		return errors.New("--out: empty")
	}
	if !cfg.Sim {
		if cfg.MDURL == "" {
			return errors.New("--md-url: empty")
		}
		if cfg.AccessToken == "" {
			if cfg.Username == "" || cfg.Password == "" {
				return errors.New("--username/--password: required to request an access token (or give --access-token, or use --sim)")
			}
			if cfg.AuthURL == "" {
				return errors.New("--auth-url: empty")
			}
		}
	}
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"--sync-interval", cfg.SyncInterval}, {"--heartbeat", cfg.Heartbeat}, {"--stale-after", cfg.StaleAfter},
		{"--request-timeout", cfg.RequestTimeout}, {"--max-conn-age", cfg.MaxConnAge}, {"--roll-interval", cfg.RollInterval},
	}
	for _, p := range positive {
		if p.d <= 0 {
			return fmt.Errorf("%s: must be positive, got %s", p.name, p.d)
		}
	}
	if cfg.Duration < 0 {
		return fmt.Errorf("--duration: negative (%s)", cfg.Duration)
	}
	if cfg.StatusInterval < 0 {
		return fmt.Errorf("--status-interval: negative (%s)", cfg.StatusInterval)
	}
	if cfg.Heartbeat >= cfg.StaleAfter {
		return fmt.Errorf("--heartbeat: %s must be shorter than --stale-after %s", cfg.Heartbeat, cfg.StaleAfter)
	}
	if cfg.RollSize <= 0 {
		return fmt.Errorf("--roll-size: must be positive, got %d", cfg.RollSize)
	}
	if cfg.MaxBuffered < minMaxBuffered {
		return fmt.Errorf("--max-buffered: must be at least %d (1MiB), got %d", minMaxBuffered, cfg.MaxBuffered)
	}
	if cfg.Buffer < 1 {
		return fmt.Errorf("--buffer: must be positive, got %d", cfg.Buffer)
	}
	switch cfg.LogFormat {
	case "", "json", "console":
	default:
		return fmt.Errorf("--log-format: %q is neither json nor console", cfg.LogFormat)
	}
	return nil
}

// applyConfigFile sets every flag that neither the command line nor the
// environment set from the YAML file at path, whose keys are flag names.
// It returns warnings (a file holding secrets that others may read).
func applyConfigFile(c *cli.Context, path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	known := map[string]bool{}
	for _, f := range c.Command.Flags {
		known[f.Names()[0]] = true
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var warnings []string
	hasSecret := false
	for _, k := range keys {
		if !known[k] || k == "config" {
			return nil, fmt.Errorf("--config %s: unknown key %q (keys are flag names, e.g. symbols, out, dom)", path, k)
		}
		if secretKeys[k] {
			hasSecret = true
		}
		if c.IsSet(k) {
			continue // flag or environment wins
		}
		v, err := yamlValue(raw[k])
		if err != nil {
			return nil, fmt.Errorf("--config %s: key %q: %w", path, k, err)
		}
		if err := c.Set(k, v); err != nil {
			return nil, fmt.Errorf("--config %s: key %q: invalid value: %w", path, k, err)
		}
	}
	if hasSecret {
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&(fs.FileMode(0o077)) != 0 {
			warnings = append(warnings, fmt.Sprintf("config file %s holds credentials and is readable by others (mode %04o); chmod 600 it",
				path, st.Mode().Perm()))
		}
	}
	return warnings, nil
}

// yamlValue renders a YAML scalar or list as the text a flag parses.
func yamlValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, err := yamlValue(e)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("unsupported value of type %T", v)
}

// parseBytes parses a size such as 134217728, 128MiB, 64KB or 1GiB.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	if n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size out of range: %q", s)
	}
	return n * mult, nil
}
