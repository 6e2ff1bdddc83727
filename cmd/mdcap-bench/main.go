// Command mdcap-bench measures mdcap against the wire limit on one blast
// of the simulator (see internal/bench and docs/PERFORMANCE.md). Run it
// through scripts/bench, which builds both binaries.
//
//	mdcap-bench [flags]            run the benchmark, print the table
//	mdcap-bench client -mode M …   one client run (used by the benchmark)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/mdcap/mdcap/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "client" {
		err = client(ctx, os.Args[2:])
	} else {
		err = run(ctx, os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mdcap-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mdcap-bench", flag.ContinueOnError)
	mdcap := fs.String("mdcap", "mdcap", "the mdcap binary")
	updates := fs.Int64("updates", 3_000_000, "md updates per blast")
	symbols := fs.Int("symbols", 4, "generated contracts (SY0001…)")
	perFrame := fs.Int("per-frame", 1, "updates per frame")
	domShare := fs.Float64("dom-share", 0.2, "fraction of frames that carry a 10-level DOM")
	rounds := fs.Int("rounds", 3, "rounds; each runs every mode once, interleaved")
	modes := fs.String("modes", "discard,decode,record", "modes in round order: discard, decode, record")
	work := fs.String("work", "", "folder for datasets and logs (default: a new temporary folder)")
	keep := fs.Bool("keep", false, "keep the datasets")
	recordFlags := fs.String("record-flags", "", "extra flags for mdcap record, space-separated (e.g. --buffer=131072)")
	profile := fs.Bool("profile", false, "record runs write cpu.pprof and mem.pprof, decode and discard runs cpu.pprof, into their folder under -work")
	timeout := fs.Duration("timeout", 5*time.Minute, "limit of one run")
	jsonOut := fs.String("json", "", "also write every run as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	if *work == "" {
		if *work, err = os.MkdirTemp("", "mdcap-bench-"); err != nil {
			return fmt.Errorf("make work folder: %w", err)
		}
	}
	cfg := bench.Config{
		Mdcap: *mdcap, Self: self, Updates: *updates, Symbols: *symbols, PerFrame: *perFrame,
		DOMShare: *domShare, Rounds: *rounds, WorkDir: *work, Keep: *keep,
		Record: strings.Fields(*recordFlags), Profile: *profile, Timeout: *timeout, Progress: os.Stderr,
	}
	for _, m := range strings.Split(*modes, ",") {
		cfg.Modes = append(cfg.Modes, bench.Mode(strings.TrimSpace(m)))
	}
	host, _ := os.Hostname()
	fmt.Printf("mdcap-bench: %d updates per blast, %d symbols, %d update(s)/frame, %.0f%% DOM frames (10 levels), %d rounds; %s, %d CPUs\n",
		*updates, *symbols, *perFrame, *domShare*100, *rounds, host, runtime.NumCPU())
	fmt.Printf("work folder %s\n\n", *work)
	rs := bench.Run(ctx, cfg)
	fmt.Println()
	bench.WriteRuns(os.Stdout, rs)
	fmt.Println()
	bench.WriteTable(os.Stdout, bench.Summarise(rs))
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rs, "", " ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", *jsonOut, err)
		}
	}
	for _, r := range rs {
		if r.Err != nil {
			return fmt.Errorf("%d run(s) failed; logs under %s", countFailed(rs), filepath.Clean(*work))
		}
	}
	return nil
}

func countFailed(rs []bench.Result) int {
	n := 0
	for _, r := range rs {
		if r.Err != nil {
			n++
		}
	}
	return n
}

func client(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mdcap-bench client", flag.ContinueOnError)
	mode := fs.String("mode", "discard", "discard or decode")
	authURL := fs.String("auth-url", "", "REST base")
	mdURL := fs.String("md-url", "", "market-data WebSocket")
	symbols := fs.String("symbols", "", "comma-separated symbols")
	want := fs.Int64("want", 0, "updates expected (decode mode stops there)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("create cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	syms := strings.Split(*symbols, ",")
	var (
		res bench.ClientResult
		err error
	)
	switch bench.Mode(*mode) {
	case bench.ModeDiscard:
		res, err = bench.Discard(ctx, *authURL, *mdURL, syms)
	case bench.ModeDecode:
		res, err = bench.Decode(ctx, *authURL, *mdURL, syms, *want)
	default:
		return fmt.Errorf("unknown client mode %q", *mode)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
