// Command mdcap records Tradovate market data into Hive-partitioned
// Parquet datasets and proves what they cover.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

// Exit statuses of every subcommand (CONTRACT.md).
const (
	exitOK    = 0
	exitFatal = 1 // an error retrying cannot fix; for verify-gaps: thresholds not met
	exitUsage = 2 // bad usage or bad input
)

// exitError carries the exit status an error maps to. Only main calls
// os.Exit.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as bad usage (exit 2).
func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

// fatalError marks err as permanent (exit 1).
func fatalError(err error) error { return &exitError{code: exitFatal, err: err} }

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes the CLI and maps its outcome to an exit status.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signalContext()
	defer stop()
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, args)
	return exitCode(err, stderr)
}

func newApp(stdout, stderr io.Writer) *cli.App {
	prof := &profiler{}
	return &cli.App{
		Name:                 "mdcap",
		Usage:                "record Tradovate market data into Parquet and prove what it covers",
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {}, // exit codes are decided in run
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError(err)
		},
		Flags:  profileFlags(),
		Before: prof.start,
		After:  prof.stop,
		Commands: []*cli.Command{
			recordCommand(),
			inspectCommand(),
			verifyGapsCommand(),
			simCommand(),
		},
	}
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "mdcap: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	// urfave/cli reports unknown flags and commands as plain errors.
	return exitUsage
}

// signalContext is cancelled by the first SIGINT/SIGTERM. A second signal
// is delivered to the channel returned by hurry (see record).
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// newLogger builds the process logger: JSON when stderr is not a TTY or
// format is "json", console otherwise.
func newLogger(w io.Writer, format string) (zerolog.Logger, error) {
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "console"
		}
	}
	switch format {
	case "json":
		return zerolog.New(w).With().Timestamp().Logger(), nil
	case "console":
		return zerolog.New(zerolog.ConsoleWriter{Out: w}).With().Timestamp().Logger(), nil
	}
	return zerolog.Nop(), usageError(fmt.Errorf("--log-format: %q is neither json nor console", format))
}
