package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"

	"github.com/mdcap/mdcap/verify"
)

// verifyGapsEnv is the environment variable of a verify-gaps flag.
func verifyGapsEnv(flag string) []string {
	return []string{"MDCAP_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
}

// verifyGapsCommand is `mdcap verify-gaps DIR`: what a dataset covers,
// its marked gaps and unmarked silences, and an exit status that says
// whether it meets the thresholds (CONTRACT.md, "verify-gaps").
func verifyGapsCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify-gaps",
		Usage:     "per symbol and date: coverage, marked gaps, unmarked silences; exit 1 when a threshold is exceeded",
		ArgsUsage: "DIR",
		Description: `Reads the dataset under DIR (quotes, dom, ticks and events tables) and prints,
per symbol and UTC date: rows per table, first and last recv_ts, marked gaps
(count, total, longest, reasons), healed gaps, and unmarked silences.

A marked gap is the union of the overlapping gap rows of a symbol, from every
run and recorder. An unmarked silence is a stretch longer than --silence with
no data row of the symbol (quotes, dom or ticks), while a recorder was running
(from a start row to its stop row), and not covered by a marked gap.

Exit status: 0 when no marked gap is longer than --max-gap and no unmarked
silence is longer than --silence; 1 when one is; 2 on bad input (missing
folder, not a dataset, unreadable or truncated file; --skip-bad reports and
skips bad files instead).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "YAML file whose keys are flag names (flag > env > file > default)", EnvVars: verifyGapsEnv("config")},
			&cli.DurationFlag{Name: "max-gap", Value: verify.DefaultMaxGap, Usage: "fail when a marked gap is longer than this", EnvVars: verifyGapsEnv("max-gap")},
			&cli.DurationFlag{Name: "silence", Value: verify.DefaultSilence, Usage: "fail when data is silent this long without a gap row", EnvVars: verifyGapsEnv("silence")},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON (version 1, see README)", EnvVars: verifyGapsEnv("json")},
			&cli.StringFlag{Name: "html", Usage: "also write a self-contained HTML coverage timeline to `FILE`", EnvVars: verifyGapsEnv("html")},
			&cli.StringSliceFlag{Name: "symbol", Usage: "only this symbol (repeatable, or comma-separated)", EnvVars: verifyGapsEnv("symbol")},
			&cli.StringFlag{Name: "from", Usage: "only data at or after `T` (RFC 3339, or YYYY-MM-DD for that date's 00:00 UTC)", EnvVars: verifyGapsEnv("from")},
			&cli.StringFlag{Name: "to", Usage: "only data before `T` (RFC 3339, or YYYY-MM-DD to include that whole date)", EnvVars: verifyGapsEnv("to")},
			&cli.BoolFlag{Name: "skip-bad", Usage: "report unreadable files and skip them instead of exiting 2", EnvVars: verifyGapsEnv("skip-bad")},
			&cli.StringFlag{Name: "log-format", Usage: "json or console (default: console on a TTY, json otherwise)", EnvVars: verifyGapsEnv("log-format")},
		},
		Action: runVerifyGaps,
	}
}

func runVerifyGaps(c *cli.Context) error {
	dir, err := applyTrailingFlags(c)
	if err != nil {
		return err
	}
	if err := applyVerifyGapsConfigFile(c); err != nil {
		return err
	}
	stderr := c.App.ErrWriter
	logger, err := newLogger(stderr, c.String("log-format"))
	if err != nil {
		return err
	}
	cfg := verify.Config{
		Root:    dir,
		MaxGap:  c.Duration("max-gap"),
		Silence: c.Duration("silence"),
		SkipBad: c.Bool("skip-bad"),
		Logger:  logger.With().Str("cmd", "verify-gaps").Logger().Level(zerolog.WarnLevel),
	}
	for _, s := range c.StringSlice("symbol") {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				cfg.Symbols = append(cfg.Symbols, p)
			}
		}
	}
	if cfg.From, err = parseVerifyTime(c.String("from"), false); err != nil {
		return usageError(fmt.Errorf("verify-gaps: --from: %w", err))
	}
	if cfg.To, err = parseVerifyTime(c.String("to"), true); err != nil {
		return usageError(fmt.Errorf("verify-gaps: --to: %w", err))
	}
	if err := cfg.Validate(); err != nil {
		return usageError(fmt.Errorf("verify-gaps: %w", err))
	}
	bar := newProgressBar(stderr)
	if bar != nil {
		cfg.Progress = bar.update
	}
	rep, err := verify.Run(c.Context, cfg)
	if bar != nil {
		bar.done()
	}
	if err != nil {
		var bad *verify.BadInputError
		if errors.As(err, &bad) {
			return usageError(fmt.Errorf("verify-gaps: bad input: %w", err))
		}
		return fatalError(fmt.Errorf("verify-gaps: %w", err))
	}
	if path := c.String("html"); path != "" {
		if err := writeVerifyHTML(path, rep); err != nil {
			return usageError(fmt.Errorf("verify-gaps: %w", err))
		}
	}
	out := c.App.Writer
	if c.Bool("json") {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fatalError(fmt.Errorf("verify-gaps: write json: %w", err))
		}
	} else if err := verify.WriteText(out, rep); err != nil {
		return fatalError(fmt.Errorf("verify-gaps: %w", err))
	}
	if !rep.OK {
		return fatalError(fmt.Errorf("verify-gaps: thresholds not met: %d marked gaps longer than --max-gap %s, %d unmarked silences longer than --silence %s",
			rep.GapsOverMax, time.Duration(rep.MaxGapNS), rep.Silences, time.Duration(rep.SilenceNS)))
	}
	return nil
}

// applyTrailingFlags applies the flags written after DIR (urfave/cli
// stops parsing flags at the first argument, and the contract's usage is
// `verify-gaps DIR [flags]`) and returns DIR.
func applyTrailingFlags(c *cli.Context) (string, error) {
	args := c.Args().Slice()
	isBool := map[string]bool{}
	for _, f := range c.Command.Flags {
		if _, ok := f.(*cli.BoolFlag); ok {
			for _, n := range f.Names() {
				isBool[n] = true
			}
		}
	}
	var dirs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			dirs = append(dirs, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			dirs = append(dirs, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasValue {
			if isBool[name] {
				value = "true"
			} else if i+1 < len(args) {
				i++
				value = args[i]
			} else {
				return "", usageError(fmt.Errorf("verify-gaps: flag needs an argument: %s", a))
			}
		}
		if err := c.Set(name, value); err != nil {
			return "", usageError(fmt.Errorf("verify-gaps: %s: %w", a, err))
		}
	}
	if len(dirs) != 1 {
		return "", usageError(errors.New("verify-gaps: want exactly one DIR (the dataset root)"))
	}
	return dirs[0], nil
}

// writeVerifyHTML writes the HTML page next to its final name and renames
// it, so that a reader never sees half a page.
func writeVerifyHTML(path string, rep *verify.Report) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("create html: %w", err)
	}
	if err := verify.WriteHTML(f, rep); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close html: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename html: %w", err)
	}
	return nil
}

// parseVerifyTime reads --from/--to: RFC 3339 (fractional seconds
// allowed), "YYYY-MM-DDTHH:MM[:SS]" or "YYYY-MM-DD HH:MM[:SS]" in UTC, or
// a bare date, which means that date's 00:00 UTC, or for --to
// (endOfDate) the next date's 00:00 so that the date is included.
func parseVerifyTime(s string, endOfDate bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if endOfDate {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor YYYY-MM-DD[THH:MM[:SS]] (UTC)", s)
}

// applyVerifyGapsConfigFile fills the flags that neither the command line
// nor the environment set from the YAML file named by --config.
func applyVerifyGapsConfigFile(c *cli.Context) error {
	path := c.String("config")
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return usageError(fmt.Errorf("verify-gaps: read --config: %w", err))
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return usageError(fmt.Errorf("verify-gaps: parse --config %s: %w", path, err))
	}
	known := map[string]bool{}
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			known[n] = true
		}
	}
	for k, v := range m {
		if !known[k] || k == "config" || c.IsSet(k) {
			continue // other subcommands' keys may share the file
		}
		vals := []any{v}
		if list, ok := v.([]any); ok {
			vals = list
		}
		for _, x := range vals {
			if err := c.Set(k, fmt.Sprint(x)); err != nil {
				return usageError(fmt.Errorf("verify-gaps: --config %s: %s: %w", path, k, err))
			}
		}
	}
	return nil
}

// progressBar draws scan progress on a terminal, at most five times a
// second; it is only used when stderr is a TTY.
type progressBar struct {
	w    io.Writer
	last time.Time
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return nil
	}
	return &progressBar{w: w}
}

func (b *progressBar) update(p verify.Progress) {
	now := time.Now()
	if now.Sub(b.last) < 200*time.Millisecond && p.Files < p.TotalFiles {
		return
	}
	b.last = now
	frac := 1.0
	if p.TotalBytes > 0 {
		frac = float64(p.Bytes) / float64(p.TotalBytes)
	}
	const width = 30
	n := int(frac * width)
	fmt.Fprintf(b.w, "\r[%s%s] %3.0f%%  %d/%d files  %.1f/%.1f MiB ", strings.Repeat("#", n), strings.Repeat(".", width-n),
		frac*100, p.Files, p.TotalFiles, float64(p.Bytes)/(1<<20), float64(p.TotalBytes)/(1<<20))
}

func (b *progressBar) done() { fmt.Fprint(b.w, "\r\033[K") }
