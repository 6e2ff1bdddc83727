package soak

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mdcap/mdcap/capture/capturetest"
	"github.com/mdcap/mdcap/sim"
)

// Config is one soak run.
type Config struct {
	Mdcap       string        // the mdcap binary
	Work        string        // folder for the dataset, logs, ground truth and samples
	Duration    time.Duration // how long record runs
	FaultEvery  time.Duration // base period of the simulator's faults
	SampleEvery time.Duration // sampling period
	Symbols     []string      // default ESZ6,NQZ6,CLZ6,GCZ6
	Rate        float64       // updates per second per contract (0: the simulator's default)
	RollEvery   time.Duration // record --roll-interval (0: a tenth of Duration, within 5s..1m)
	Tolerances  map[string]Tolerance
	Log         io.Writer // progress lines (one per tenth of the run)
}

// Report is the outcome of a soak run.
type Report struct {
	Samples    []Sample
	Growth     []Growth
	Truth      capturetest.Tally
	SimFaults  string // the simulator's fault flags
	RecordExit int
	Problems   []string // anything that fails the run
}

// Failed reports whether the run failed.
func (r *Report) Failed() bool { return len(r.Problems) > 0 }

// Summary is the report printed at the end of a run.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %d samples over %s; faults: %s\n", len(r.Samples), lastAt(r.Samples).Round(time.Second), r.SimFaults)
	fmt.Fprintf(&b, "curve (median per tenth):\n  %8s %10s %5s %10s\n", "t", "rss", "fds", "goroutines")
	for _, s := range Curve(r.Samples, 10) {
		fmt.Fprintf(&b, "  %8s %9.1fM %5d %10d\n", s.At.Round(time.Second), float64(s.RSS)/(1<<20), s.FDs, s.Goroutines)
	}
	for _, g := range r.Growth {
		fmt.Fprintf(&b, "%s\n", g)
	}
	fmt.Fprintf(&b, "ground truth: %s; record exit %d\n", r.Truth, r.RecordExit)
	if r.Failed() {
		fmt.Fprintf(&b, "FAIL:\n")
		for i, p := range r.Problems {
			if i == 20 {
				fmt.Fprintf(&b, "  … %d more\n", len(r.Problems)-20)
				break
			}
			fmt.Fprintf(&b, "  %s\n", p)
		}
	} else {
		fmt.Fprintf(&b, "PASS\n")
	}
	return b.String()
}

func lastAt(ss []Sample) time.Duration {
	if len(ss) == 0 {
		return 0
	}
	return ss[len(ss)-1].At
}

// faultFlags are the simulator's fault schedule for a base period: each
// fault on its own period, so their combinations vary over the run.
func faultFlags(every, staleAfter time.Duration) []string {
	p := func(f float64) string { return (time.Duration(float64(every) * f)).Round(time.Millisecond).String() }
	return []string{
		"--drop-every", p(1),
		"--close-every", p(1.7),
		"--stall-every", p(2.9), "--stall-for", (staleAfter * 8 / 5).String(),
		"--shutdown-every", p(5.3),
		"--malformed-every", p(0.8),
		"--penalty-every", p(4.1),
	}
}

// Run runs one soak. The error is for a run that could not be carried
// out; a run that found a leak or lost data returns a Report that Failed.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Symbols == nil {
		cfg.Symbols = []string{"ESZ6", "NQZ6", "CLZ6", "GCZ6"}
	}
	if cfg.Tolerances == nil {
		cfg.Tolerances = DefaultTolerances()
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.RollEvery == 0 {
		cfg.RollEvery = min(max(cfg.Duration/10, 5*time.Second), time.Minute)
	}
	const staleAfter = 5 * time.Second
	if err := os.MkdirAll(cfg.Work, 0o755); err != nil {
		return nil, fmt.Errorf("create work folder: %w", err)
	}
	out := filepath.Join(cfg.Work, "data")
	truthPath := filepath.Join(cfg.Work, "truth.jsonl")
	rep := &Report{}

	// The simulator, in its own process.
	faults := faultFlags(cfg.FaultEvery, staleAfter)
	rep.SimFaults = strings.Join(faults, " ")
	simArgs := append([]string{"sim", "--addr", "127.0.0.1:0", "--ground-truth", truthPath, "--log-format", "json"}, faults...)
	if cfg.Rate > 0 {
		simArgs = append(simArgs, "--rate", fmt.Sprint(cfg.Rate))
	}
	simLog, err := os.Create(filepath.Join(cfg.Work, "sim.log"))
	if err != nil {
		return nil, fmt.Errorf("create sim log: %w", err)
	}
	defer simLog.Close()
	simCmd := exec.Command(cfg.Mdcap, simArgs...)
	simCmd.Stderr = simLog
	simOut, err := simCmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("pipe sim stdout: %w", err)
	}
	if err := simCmd.Start(); err != nil {
		return nil, fmt.Errorf("start sim: %w", err)
	}
	simDone := make(chan error, 1)
	urls := make(chan [2]string, 1)
	go func() {
		var rest, ws string
		sc := bufio.NewScanner(simOut)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(simLog, line)
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "REST (--auth-url): "); ok {
				rest = v
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "WebSocket (--md-url): "); ok {
				ws = v
			}
			if rest != "" && ws != "" {
				urls <- [2]string{rest, ws}
				rest, ws = "", "x" // once
			}
		}
		simDone <- simCmd.Wait()
	}()
	stopSim := func() {
		_ = simCmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-simDone:
		case <-time.After(30 * time.Second):
			_ = simCmd.Process.Kill()
			<-simDone
		}
	}
	var u [2]string
	select {
	case u = <-urls:
	case err := <-simDone:
		return nil, fmt.Errorf("sim ended before listening: %v (see %s)", err, simLog.Name())
	case <-time.After(30 * time.Second):
		stopSim()
		return nil, errors.New("sim did not print its URLs within 30s")
	}

	// The recorder, in its own process; credentials through the environment.
	recLog, err := os.Create(filepath.Join(cfg.Work, "record.log"))
	if err != nil {
		stopSim()
		return nil, fmt.Errorf("create record log: %w", err)
	}
	defer recLog.Close()
	recCmd := exec.Command(cfg.Mdcap, "record",
		"--md-url", u[1], "--auth-url", u[0], "--symbols", strings.Join(cfg.Symbols, ","), "--dom",
		"--out", out, "--writer-id", "soak", "--metrics", "127.0.0.1:0", "--log-format", "json",
		"--roll-interval", cfg.RollEvery.String(), "--stale-after", staleAfter.String(),
		"--heartbeat", "1s", "--request-timeout", "5s", "--status-interval", "0")
	recCmd.Env = append(os.Environ(),
		"MDCAP_USERNAME="+sim.DefaultUsername, "MDCAP_PASSWORD="+sim.DefaultPassword,
		"MDCAP_APP_ID="+sim.DefaultAppID, "MDCAP_APP_VERSION=soak",
		"MDCAP_CID="+sim.DefaultCID, "MDCAP_SEC="+sim.DefaultSec, "MDCAP_DEVICE_ID=soak")
	recCmd.Stdout = recLog
	recErr, err := recCmd.StderrPipe()
	if err != nil {
		stopSim()
		return nil, fmt.Errorf("pipe record stderr: %w", err)
	}
	started := time.Now()
	if err := recCmd.Start(); err != nil {
		stopSim()
		return nil, fmt.Errorf("start record: %w", err)
	}
	recDone := make(chan error, 1)
	metricsAddr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(recErr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		sent := false
		for sc.Scan() {
			line := sc.Bytes()
			recLog.Write(append(line, '\n'))
			if !sent {
				var l struct {
					Msg  string `json:"message"`
					Addr string `json:"addr"`
				}
				if json.Unmarshal(line, &l) == nil && strings.HasPrefix(l.Msg, "serving metrics") && l.Addr != "" {
					metricsAddr <- l.Addr
					sent = true
				}
			}
		}
		recDone <- recCmd.Wait()
	}()
	pid := recCmd.Process.Pid

	var murl string
	select {
	case a := <-metricsAddr:
		murl = "http://" + a + "/metrics"
	case err := <-recDone:
		stopSim()
		return nil, fmt.Errorf("record ended before serving metrics: %v (see %s)", err, recLog.Name())
	case <-time.After(30 * time.Second):
		_ = recCmd.Process.Kill()
		<-recDone
		stopSim()
		return nil, errors.New("record did not serve metrics within 30s")
	}

	// Sample until the duration has passed (or the recorder ends).
	samplesFile, err := os.Create(filepath.Join(cfg.Work, "samples.csv"))
	if err != nil {
		_ = recCmd.Process.Kill()
		<-recDone
		stopSim()
		return nil, fmt.Errorf("create samples file: %w", err)
	}
	defer samplesFile.Close()
	fmt.Fprintln(samplesFile, "seconds,rss_bytes,fds,goroutines")
	hc := &http.Client{Timeout: 5 * time.Second}
	tick := time.NewTicker(cfg.SampleEvery)
	defer tick.Stop()
	deadline := time.NewTimer(cfg.Duration)
	defer deadline.Stop()
	progressEvery := max(cfg.Duration/10, cfg.SampleEvery)
	nextProgress := progressEvery
	var recErrEarly error
	ended := false
sampling:
	for {
		select {
		case <-ctx.Done():
			break sampling
		case <-deadline.C:
			break sampling
		case recErrEarly = <-recDone:
			ended = true
			rep.Problems = append(rep.Problems, fmt.Sprintf("record ended on its own after %s: %v (see %s)",
				time.Since(started).Round(time.Second), recErrEarly, recLog.Name()))
			break sampling
		case <-tick.C:
			s := Sample{At: time.Since(started)}
			var errs []error
			var err error
			if s.RSS, err = procRSS(pid); err != nil {
				errs = append(errs, err)
			}
			if s.FDs, err = procFDs(pid); err != nil {
				errs = append(errs, err)
			}
			if s.Goroutines, err = scrapeGoroutines(ctx, hc, murl); err != nil {
				errs = append(errs, err)
			}
			if len(errs) > 0 {
				fmt.Fprintf(cfg.Log, "soak: sample at %s skipped: %v\n", s.At.Round(time.Second), errors.Join(errs...))
				continue
			}
			rep.Samples = append(rep.Samples, s)
			fmt.Fprintf(samplesFile, "%.1f,%d,%d,%d\n", s.At.Seconds(), s.RSS, s.FDs, s.Goroutines)
			if s.At >= nextProgress {
				nextProgress += progressEvery
				fmt.Fprintf(cfg.Log, "soak: %s rss %.1fMiB fds %d goroutines %d\n",
					s.At.Round(time.Second), float64(s.RSS)/(1<<20), s.FDs, s.Goroutines)
			}
		}
	}

	// A clean stop: SIGINT, then the recorder must exit 0 within a minute.
	if !ended {
		_ = recCmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-recDone:
			if err != nil {
				rep.Problems = append(rep.Problems, fmt.Sprintf("record after SIGINT: %v (see %s)", err, recLog.Name()))
			}
		case <-time.After(time.Minute):
			_ = recCmd.Process.Kill()
			<-recDone
			rep.Problems = append(rep.Problems, "record did not stop within a minute of SIGINT")
		}
	}
	rep.RecordExit = recCmd.ProcessState.ExitCode()
	stopSim()

	rep.Growth = Judge(rep.Samples, cfg.Tolerances)
	for _, g := range rep.Growth {
		if g.Leaking {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s keeps growing: %s", g.Metric, g))
		}
	}

	// The dataset against the ground truth.
	d, err := capturetest.Read(out)
	if err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("read dataset: %v", err))
		return rep, nil
	}
	tf, err := os.Open(truthPath)
	if err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("open ground truth: %v", err))
		return rep, nil
	}
	defer tf.Close()
	tr, err := capturetest.ReadTruth(tf)
	if err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("read ground truth: %v", err))
		return rep, nil
	}
	// Gap bounds are receive times, truth times send times; on a shared
	// machine a frame can take a while from one to the other.
	rep.Truth = capturetest.TallyInFlight(d, tr, time.Second)
	rep.Problems = append(rep.Problems, rep.Truth.Problems...)
	if rep.Truth.Missing+rep.Truth.Duplicates+rep.Truth.Phantoms > len(rep.Truth.Problems) {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d missing, %d duplicates, %d phantoms in all",
			rep.Truth.Missing, rep.Truth.Duplicates, rep.Truth.Phantoms))
	}
	if len(d.TempFiles) != 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("temporary files left: %v", d.TempFiles))
	}
	if err := d.CheckSeq(); err != nil {
		rep.Problems = append(rep.Problems, err.Error())
	}
	if rep.Truth.Sent == 0 || rep.Truth.Recorded == 0 {
		rep.Problems = append(rep.Problems, "nothing recorded")
	}
	return rep, nil
}
