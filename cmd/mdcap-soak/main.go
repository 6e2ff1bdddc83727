// Command mdcap-soak runs `mdcap record` against `mdcap sim` with periodic
// faults for a long time, samples the recorder's RSS, open fds and
// goroutines, and fails on growth that does not level off or on data lost
// outside a recorded gap (see internal/soak). Run it through scripts/soak,
// which builds both binaries.
//
//	mdcap-soak -duration 2h -fault-every 30s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mdcap/mdcap/internal/soak"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("mdcap-soak", flag.ContinueOnError)
	mdcap := fs.String("mdcap", "mdcap", "the mdcap binary")
	duration := fs.Duration("duration", time.Hour, "how long record runs")
	faultEvery := fs.Duration("fault-every", 30*time.Second, "base period of the faults (drop every 1x, close 1.7x, stall 2.9x, shutdown 5.3x, malformed 0.8x, penalty 4.1x)")
	sampleEvery := fs.Duration("sample-every", 0, "sampling period (default: duration/600, within 1s..10s)")
	rate := fs.Float64("rate", 0, "updates per second per contract (0: the simulator's default)")
	work := fs.String("work", "", "folder for the dataset, logs, ground truth and samples.csv (default: a new temporary folder, removed on success)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *sampleEvery == 0 {
		*sampleEvery = min(max(*duration/600, time.Second), 10*time.Second)
	}
	dir, keep := *work, true
	if dir == "" {
		d, err := os.MkdirTemp("", "mdcap-soak-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "mdcap-soak:", err)
			return 1
		}
		dir, keep = d, false
	}
	fmt.Printf("soak: %s of record against sim, faults every %s (base), sampling every %s, work %s\n",
		*duration, *faultEvery, *sampleEvery, dir)
	rep, err := soak.Run(ctx, soak.Config{
		Mdcap: *mdcap, Work: dir, Duration: *duration, FaultEvery: *faultEvery,
		SampleEvery: *sampleEvery, Rate: *rate, Log: os.Stdout,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "mdcap-soak:", err, "(work folder kept:", dir+")")
		return 1
	}
	fmt.Print(rep.Summary())
	if rep.Failed() {
		fmt.Println("work folder kept:", dir)
		return 1
	}
	if !keep {
		os.RemoveAll(dir)
	}
	return 0
}
