package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mdcap/mdcap/sim"
)

// Mode is what a run puts against the blast.
type Mode string

// The modes, in the order of a round.
const (
	ModeDiscard Mode = "discard" // (a) read and discard: the wire limit
	ModeDecode  Mode = "decode"  // (b) the feed's reader and decoder, no writing
	ModeRecord  Mode = "record"  // (c) the whole `mdcap record`, writing the dataset
)

// Config configures a benchmark.
type Config struct {
	Mdcap    string // the mdcap binary
	Self     string // the mdcap-bench binary (its `client` subcommand runs modes a and b)
	Updates  int64  // md updates per blast
	Symbols  int    // generated contracts
	PerFrame int    // updates per frame
	DOMShare float64
	Rounds   int
	Modes    []Mode
	WorkDir  string   // datasets and logs go here, one folder per run
	Keep     bool     // keep each run's dataset
	Record   []string // extra `mdcap record` flags
	Profile  bool     // record runs write cpu.pprof and mem.pprof, client runs cpu.pprof, into their folder
	Timeout  time.Duration
	Progress io.Writer
}

// Result is one run.
type Result struct {
	Mode       Mode
	Round      int
	Updates    int64         // sent by the server
	Quotes     int64         // of which quotes
	DOMs       int64         // of which DOMs
	Elapsed    time.Duration // first frame sent → client process ended
	ClientCPU  time.Duration // whole client process
	ServerCPU  time.Duration // server process during the run (after its start-up)
	ClientRSS  int64         // peak resident set, bytes
	ServerRSS  int64
	Load1      float64 // 1-minute load average when the run started
	Client     ClientResult
	Dataset    *DatasetStats // ModeRecord
	Lost       int64         // ModeRecord: updates sent but not found as rows
	Err        error
	ClientExit string
}

// Rate is the run's updates per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Updates) / r.Elapsed.Seconds()
}

// SymbolNames are the names of the generated contracts of a blast.
func SymbolNames(n int) []string {
	out := make([]string, 0, n)
	for _, k := range sim.GeneratedContracts(n) {
		out = append(out, k.Name)
	}
	return out
}

// Run runs every round and returns every run's result.
func Run(ctx context.Context, cfg Config) []Result {
	var out []Result
	for round := 1; round <= cfg.Rounds; round++ {
		for _, m := range cfg.Modes {
			if ctx.Err() != nil {
				return out
			}
			r := runOne(ctx, cfg, m, round)
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "round %d %-8s %s\n", round, m, r.summary())
			}
			out = append(out, r)
		}
	}
	return out
}

func (r Result) summary() string {
	if r.Err != nil {
		return "error: " + r.Err.Error()
	}
	s := fmt.Sprintf("%.3f M updates/s, client %.2f CPU-s/M, server %.2f CPU-s/M, client RSS %.0f MB, load %.2f",
		r.Rate()/1e6, perM(r.ClientCPU, r.Updates), perM(r.ServerCPU, r.Updates), float64(r.ClientRSS)/1e6, r.Load1)
	if r.Dataset != nil {
		s += fmt.Sprintf(", lost %d, %.2f B/quote, %.2f B/DOM", r.Lost, r.bytesPer("quotes"), r.bytesPer("dom"))
	}
	return s
}

func perM(d time.Duration, updates int64) float64 {
	if updates == 0 {
		return 0
	}
	return d.Seconds() / (float64(updates) / 1e6)
}

func (r Result) bytesPer(table string) float64 {
	if r.Dataset == nil || r.Dataset.Rows[table] == 0 {
		return 0
	}
	return float64(r.Dataset.Bytes[table]) / float64(r.Dataset.Rows[table])
}

// simLine is what the simulator's stdout tells the runner.
type simLine struct {
	restURL, wsURL string
	blast          *blastLine
}

// blastLine is the simulator's blast report (cmd/mdcap sim.go blastJSON).
type blastLine struct {
	StartNS   int64  `json:"start_ns"`
	WrittenNS int64  `json:"written_ns"`
	EndNS     int64  `json:"end_ns"`
	Updates   int64  `json:"updates"`
	Quotes    int64  `json:"quotes"`
	DOMs      int64  `json:"doms"`
	Frames    int64  `json:"frames"`
	Bytes     int64  `json:"bytes"`
	Complete  bool   `json:"complete"`
	Cause     string `json:"cause"`
}

// runOne runs one blast against one mode.
func runOne(ctx context.Context, cfg Config, m Mode, round int) (r Result) {
	r = Result{Mode: m, Round: round, Load1: loadAvg()}
	dir := filepath.Join(cfg.WorkDir, fmt.Sprintf("r%d-%s", round, m))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.Err = fmt.Errorf("make run folder: %w", err)
		return r
	}
	if !cfg.Keep {
		defer os.RemoveAll(filepath.Join(dir, "data"))
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	// The server, in its own process.
	simLog, err := os.Create(filepath.Join(dir, "sim.log"))
	if err != nil {
		r.Err = fmt.Errorf("create sim log: %w", err)
		return r
	}
	defer simLog.Close()
	srv := exec.Command(cfg.Mdcap, "sim", "--log-format", "json",
		"--blast", strconv.FormatInt(cfg.Updates, 10),
		"--blast-symbols", strconv.Itoa(cfg.Symbols),
		"--blast-updates-per-frame", strconv.Itoa(cfg.PerFrame),
		"--blast-dom-share", strconv.FormatFloat(cfg.DOMShare, 'g', -1, 64),
		"--max-requests-per-second", "0", "--client-timeout", "30s")
	srv.Stderr = simLog
	out, err := srv.StdoutPipe()
	if err != nil {
		r.Err = fmt.Errorf("pipe sim output: %w", err)
		return r
	}
	if err := srv.Start(); err != nil {
		r.Err = fmt.Errorf("start sim: %w", err)
		return r
	}
	defer func() {
		if srv.ProcessState == nil {
			_ = srv.Process.Kill()
			_ = srv.Wait()
		}
	}()
	lines := make(chan simLine, 4)
	go scanSim(out, lines)
	var urls simLine
	select {
	case urls = <-lines:
	case <-ctx.Done():
		r.Err = errors.New("the simulator did not start")
		return r
	}
	cpu0, err := procCPU(srv.Process.Pid)
	if err != nil {
		r.Err = err
		return r
	}

	// The client, in its own process.
	names := SymbolNames(cfg.Symbols)
	var cli *exec.Cmd
	switch m {
	case ModeDiscard, ModeDecode:
		args := []string{"client", "-mode", string(m), "-auth-url", urls.restURL, "-md-url", urls.wsURL,
			"-symbols", strings.Join(names, ","), "-want", strconv.FormatInt(cfg.Updates, 10)}
		if cfg.Profile {
			args = append(args, "-cpuprofile", filepath.Join(dir, "cpu.pprof"))
		}
		cli = exec.Command(cfg.Self, args...)
	case ModeRecord:
		var args []string
		if cfg.Profile {
			args = append(args, "--cpuprofile", filepath.Join(dir, "cpu.pprof"), "--memprofile", filepath.Join(dir, "mem.pprof"))
		}
		args = append(args, "record", "--out", filepath.Join(dir, "data"), "--symbols", strings.Join(names, ","), "--dom",
			"--md-url", urls.wsURL, "--auth-url", urls.restURL, "--username", sim.DefaultUsername,
			"--password", sim.DefaultPassword, "--app-id", sim.DefaultAppID, "--cid", sim.DefaultCID,
			"--sec", sim.DefaultSec, "--writer-id", "bench", "--log-format", "json",
			// The blast server sends as fast as the client reads and never
			// conflates: waiting for room turns a writer slower than the
			// reader into backpressure, so the run measures the sustainable
			// rate (any loss is still recorded and reported).
			"--full-wait", "2s")
		cli = exec.Command(cfg.Mdcap, append(args, cfg.Record...)...)
	default:
		r.Err = fmt.Errorf("unknown mode %q", m)
		return r
	}
	cliLog, err := os.Create(filepath.Join(dir, "client.log"))
	if err != nil {
		r.Err = fmt.Errorf("create client log: %w", err)
		return r
	}
	defer cliLog.Close()
	var cliOut strings.Builder
	cli.Stdout, cli.Stderr = &cliOut, cliLog
	if err := cli.Start(); err != nil {
		r.Err = fmt.Errorf("start client: %w", err)
		return r
	}
	exited := make(chan error, 1)
	go func() { exited <- cli.Wait() }()
	var ended time.Time
	var cliErr error
	finished := false

	// The blast ends when the client has closed its end.
	var bl *blastLine
	for bl == nil {
		select {
		case l := <-lines:
			bl = l.blast
		case cliErr = <-exited:
			ended, finished = time.Now(), true
			if m == ModeRecord { // the recorder must not end on its own
				r.Err = fmt.Errorf("recorder ended before the blast did: %v (see %s)", cliErr, cliLog.Name())
				return r
			}
			select { // the server reports right after the client left
			case l := <-lines:
				bl = l.blast
			case <-time.After(5 * time.Second):
				r.Err = fmt.Errorf("client ended (%v) without a blast report (see %s)", cliErr, cliLog.Name())
				return r
			case <-ctx.Done():
			}
		case <-ctx.Done():
			_ = cli.Process.Kill()
			<-exited
			r.Err = fmt.Errorf("timed out after %v (see %s)", cfg.Timeout, dir)
			return r
		}
	}
	cpu1, err := procCPU(srv.Process.Pid)
	if err != nil {
		r.Err = err
		return r
	}
	r.ServerCPU = cpu1 - cpu0
	r.ServerRSS, _ = procHWM(srv.Process.Pid)
	r.Updates, r.Quotes, r.DOMs = bl.Updates, bl.Quotes, bl.DOMs
	if !bl.Complete {
		r.Err = fmt.Errorf("blast cut short: %s", bl.Cause)
	}
	if !finished {
		if m == ModeRecord {
			_ = cli.Process.Signal(syscall.SIGTERM) // stop: drain, finalise, exit
		}
		select {
		case cliErr = <-exited:
			ended = time.Now()
		case <-ctx.Done():
			_ = cli.Process.Kill()
			<-exited
			r.Err = fmt.Errorf("client did not end after the blast (see %s)", dir)
			return r
		}
	}
	_ = srv.Process.Signal(syscall.SIGTERM)
	_ = srv.Wait()
	r.Elapsed = ended.Sub(time.Unix(0, bl.StartNS))
	u := usageOf(cli.ProcessState.SysUsage())
	r.ClientCPU, r.ClientRSS = u.cpu, u.maxRSS
	r.ClientExit = cli.ProcessState.String()
	if cliErr != nil && r.Err == nil {
		r.Err = fmt.Errorf("client: %v (see %s)", cliErr, cliLog.Name())
	}
	if m != ModeRecord {
		if err := json.Unmarshal([]byte(cliOut.String()), &r.Client); err != nil && r.Err == nil {
			r.Err = fmt.Errorf("client result %q: %w", cliOut.String(), err)
		}
		if m == ModeDecode && r.Client.Updates != r.Updates && r.Err == nil {
			r.Err = fmt.Errorf("decode client counted %d updates of %d sent", r.Client.Updates, r.Updates)
		}
		return r
	}
	ds, err := readDataset(filepath.Join(dir, "data"))
	if err != nil && r.Err == nil {
		r.Err = fmt.Errorf("read dataset: %w", err)
	}
	r.Dataset = &ds
	r.Lost = r.Updates - ds.Rows["quotes"] - ds.Rows["dom"]
	return r
}

// scanSim reads the simulator's stdout: the URLs once, then the blast line.
func scanSim(r io.Reader, out chan<- simLine) {
	sc := bufio.NewScanner(r)
	var urls simLine
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, "REST (--auth-url):"):
			urls.restURL = strings.TrimSpace(line[strings.Index(line, "):")+2:])
		case strings.Contains(line, "WebSocket (--md-url):"):
			urls.wsURL = strings.TrimSpace(line[strings.Index(line, "):")+2:])
			out <- urls
		case strings.HasPrefix(line, "blast "):
			var b blastLine
			if json.Unmarshal([]byte(line[len("blast "):]), &b) == nil {
				out <- simLine{blast: &b}
			}
		}
	}
	_, _ = io.Copy(io.Discard, r)
}
