package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mdcap/mdcap/sim"
)

// simEnv is the environment variable a sim flag reads (MDCAP_<FLAG>).
func simEnv(name string) []string {
	return []string{"MDCAP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
}

const simHelp = `Runs a Tradovate-compatible market-data server: REST under /v1
(auth/accesstokenrequest, auth/renewaccesstoken, contract/find, contract/item)
and the market-data WebSocket on /v1/websocket (o, h, a[...], c[...];
authorize, md/subscribeQuote, md/unsubscribeQuote, md/subscribeDOM,
md/unsubscribeDOM, contract/find, contract/item). It prints its URLs and
the credentials it accepts, and runs until SIGINT/SIGTERM.

RULES (a 0 limit turns a rule off). Each rule that ends a connection cuts
TCP with NO close frame, as users report the real server does:
  --client-timeout       no client frame (request or []) for this long
  --authorize-timeout    no successful authorize this long after the upgrade
  --cut-duplicate-id     a request id reused on one connection
  --max-requests-per-second  more requests than this within one second
  --max-conn-age         a connection older than this
  --max-frame-bytes      a client frame larger than this
  --token-expiry         keep | silent (no more data) | cut, when the token expires
Other rules:
  --heartbeat            server sends h after this much silence (2.5s)
  --max-conns-per-user   one more authorized socket: the oldest gets
                         shutdown ConnectionQuotaReached, c[3000,...], close
  --max-ips-per-user     likewise, IPQuotaReached, for one more client address
  --lockout-requests/--lockout-window/--lockout-for
                         too many requests: every request answered 429 for a while
  --max-sessions         a further token request revokes the oldest session
  --auth-penalty-after   failed logins before p-ticket/p-time (+ --penalty-captcha)

FAULTS (each runs every --X-every and/or at --X-at offsets from start,
e.g. --drop-at 30s,90s):
  drop           cut every TCP connection, no close frame
  stall          half-open for --stall-for: stop reading and writing, keep TCP
  close          send c[--close-code,"--close-reason"], WebSocket close, TCP close
  shutdown       shutdown event (--shutdown-reason Maintenance|ConnectionQuotaReached|
                 IPQuotaReached), then c[3000,"Go away!"] and close
  malformed      one malformed frame (--malformed-kind json|letter|truncated)
  expire-tokens  every token expires now; sockets follow --token-expiry
  penalty        the next --penalty-count md/subscribe requests are answered
                 {"p-ticket":…,"p-time":--penalty-wait}; the retry carrying
                 "p-ticket" after the wait is served

BLAST (benchmarks): --blast N pre-generates --blast-frames distinct frames
(--blast-updates-per-frame updates each; --blast-dom-share of them DOM frames,
the rest quotes) and sends N updates as fast as the client reads to the first
connection subscribed to the quotes and DOM of every contract; then
c[1000,"Blast complete"] and a WebSocket close. When the client has closed its
end, one line "blast {json}" reports the times and counts on stdout. Later
connections get no data. --blast-symbols N serves N generated contracts
SY0001… instead of the defaults. No ground truth is written for a blast.

GROUND TRUTH: --ground-truth FILE appends one JSON line per md update
actually written to a socket and one per connection end with its cause.

Every flag also reads MDCAP_<FLAG> (e.g. --drop-every from MDCAP_DROP_EVERY).`

// simFaultFlag ties a scheduled fault to its flag prefix.
type simFaultFlag struct {
	prefix string
	kind   sim.FaultKind
}

// simFaults lists the scheduled faults and their flag prefixes.
func simFaults() []simFaultFlag {
	return []simFaultFlag{
		{"drop", sim.FaultDrop},
		{"stall", sim.FaultStall},
		{"close", sim.FaultClose},
		{"shutdown", sim.FaultShutdown},
		{"malformed", sim.FaultMalformed},
		{"expire-tokens", sim.FaultExpireToken},
		{"penalty", sim.FaultPenalty},
	}
}

// simCommand is `mdcap sim`.
func simCommand() *cli.Command {
	d := sim.DefaultConfig()
	r := d.Rules
	flags := []cli.Flag{
		&cli.StringFlag{Name: "addr", Value: "127.0.0.1:0", Usage: "listen address (loopback only unless --allow-remote)"},
		&cli.BoolFlag{Name: "allow-remote", Usage: "allow a non-loopback --addr"},
		&cli.Int64Flag{Name: "seed", Value: d.Seed, Usage: "random seed: the same seed gives the same market data"},
		&cli.StringSliceFlag{Name: "contract", Usage: "contract NAME:ID:TICK:PRICE[:RATE] (repeatable; default ESZ6, NQZ6, CLZ6, GCZ6)"},
		&cli.Float64Flag{Name: "rate", Value: d.Rate, Usage: "updates per second per contract"},
		&cli.StringSliceFlag{Name: "rate-for", Usage: "SYMBOL=RATE: updates per second for one contract (repeatable)"},
		&cli.IntFlag{Name: "updates-per-frame", Value: d.UpdatesPerFrame, Usage: "md updates batched into one a[...] frame at most"},
		&cli.IntFlag{Name: "send-queue", Value: d.SendQueue, Usage: "pending md updates per connection before conflation"},
		&cli.IntFlag{Name: "socket-buffer", Usage: "kernel send buffer per connection in bytes, so slow readers hit conflation sooner (0: OS default)"},
		&cli.IntFlag{Name: "dom-levels", Value: d.DOMLevels, Usage: "DOM levels per side"},
		&cli.DurationFlag{Name: "token-lifetime", Value: d.TokenLifetime, Usage: "access-token lifetime"},
		&cli.IntFlag{Name: "max-sessions", Value: d.MaxSessions, Usage: "token sessions per user"},
		&cli.IntFlag{Name: "auth-penalty-after", Usage: "failed token requests in a row before a p-ticket (0: never)"},
		&cli.DurationFlag{Name: "penalty-wait", Value: d.PenaltyWait, Usage: "p-time of a p-ticket"},
		&cli.BoolFlag{Name: "penalty-captcha", Usage: "p-tickets carry p-captcha:true"},
		&cli.DurationFlag{Name: "heartbeat", Value: r.Heartbeat, Usage: "server h after this much silence"},
		&cli.DurationFlag{Name: "client-timeout", Value: r.ClientTimeout, Usage: "cut after no client frame for this long (0: off)"},
		&cli.DurationFlag{Name: "authorize-timeout", Value: r.AuthorizeTimeout, Usage: "cut when not authorized this long after upgrade (0: off)"},
		&cli.BoolFlag{Name: "cut-duplicate-id", Value: r.CutDuplicateID, Usage: "cut on a request id reused on one connection"},
		&cli.IntFlag{Name: "max-requests-per-second", Value: r.MaxRequestsPerSecond, Usage: "cut above this many requests in one second (0: off)"},
		&cli.DurationFlag{Name: "max-conn-age", Value: r.MaxConnAge, Usage: "cut connections older than this (0: off)"},
		&cli.IntFlag{Name: "max-conns-per-user", Value: r.MaxConnsPerUser, Usage: "authorized sockets per user before the oldest is shut down (0: off)"},
		&cli.IntFlag{Name: "max-ips-per-user", Value: r.MaxIPsPerUser, Usage: "client addresses per user before the oldest socket is shut down (0: off)"},
		&cli.IntFlag{Name: "lockout-requests", Usage: "requests per --lockout-window before a 429 lockout (0: off)"},
		&cli.DurationFlag{Name: "lockout-window", Value: time.Minute, Usage: "window of --lockout-requests"},
		&cli.DurationFlag{Name: "lockout-for", Value: time.Minute, Usage: "lockout length; requests during it extend it"},
		&cli.StringFlag{Name: "token-expiry", Value: string(r.TokenExpiry), Usage: "socket behaviour when its token expires: keep, silent or cut"},
		&cli.Int64Flag{Name: "max-frame-bytes", Value: r.MaxFrameBytes, Usage: "cut on a client frame larger than this"},
		&cli.DurationFlag{Name: "stall-for", Value: 30 * time.Second, Usage: "length of a stall fault"},
		&cli.IntFlag{Name: "close-code", Value: sim.CloseCode, Usage: "code of the close fault's c[code,reason]"},
		&cli.StringFlag{Name: "close-reason", Value: "Go away!", Usage: "reason of the close fault"},
		&cli.StringFlag{Name: "shutdown-reason", Value: sim.ShutdownMaintenance, Usage: "reasonCode of the shutdown fault"},
		&cli.StringFlag{Name: "malformed-kind", Value: sim.MalformedJSON, Usage: "malformed fault frame: json, letter or truncated"},
		&cli.IntFlag{Name: "penalty-count", Value: 1, Usage: "md/subscribe requests answered with a p-ticket by each penalty fault"},
		&cli.StringFlag{Name: "ground-truth", Usage: "append ground-truth JSONL to this file"},
		&cli.Int64Flag{Name: "blast", Usage: "blast mode: send this many md updates as fast as the client reads (0: off)"},
		&cli.IntFlag{Name: "blast-updates-per-frame", Value: 1, Usage: "md updates in each blast frame"},
		&cli.Float64Flag{Name: "blast-dom-share", Value: 0.2, Usage: "fraction of blast frames that carry DOMs (0: none)"},
		&cli.IntFlag{Name: "blast-frames", Value: 65536, Usage: "distinct frames pre-generated for a blast"},
		&cli.IntFlag{Name: "blast-symbols", Usage: "serve this many generated contracts SY0001… (0: --contract or the defaults)"},
		&cli.StringFlag{Name: "log-format", Usage: "json or console (default: console on a TTY)"},
		&cli.StringFlag{Name: "config", Usage: "YAML file whose keys are these flag names (flag > env > file > default)"},
	}
	for _, f := range simFaults() {
		flags = append(flags,
			&cli.DurationFlag{Name: f.prefix + "-every", Usage: "inject the " + f.prefix + " fault this often"},
			&cli.StringFlag{Name: f.prefix + "-at", Usage: "inject the " + f.prefix + " fault at these offsets from start (comma-separated durations)"},
		)
	}
	for _, f := range flags {
		switch f := f.(type) {
		case *cli.StringFlag:
			f.EnvVars = simEnv(f.Name)
		case *cli.BoolFlag:
			f.EnvVars = simEnv(f.Name)
		case *cli.Int64Flag:
			f.EnvVars = simEnv(f.Name)
		case *cli.IntFlag:
			f.EnvVars = simEnv(f.Name)
		case *cli.Float64Flag:
			f.EnvVars = simEnv(f.Name)
		case *cli.DurationFlag:
			f.EnvVars = simEnv(f.Name)
		case *cli.StringSliceFlag:
			f.EnvVars = simEnv(f.Name)
		}
	}
	return &cli.Command{
		Name:        "sim",
		Usage:       "run the built-in Tradovate-compatible market-data simulator on loopback",
		Description: simHelp,
		Flags:       flags,
		Action:      runSim,
	}
}

// runSim starts the simulator and serves until the context ends.
func runSim(c *cli.Context) error {
	var warnings []string
	if p := c.String("config"); p != "" {
		w, err := applyConfigFile(c, p)
		if err != nil {
			return usageError(err)
		}
		warnings = w
	}
	logger, err := newLogger(c.App.ErrWriter, c.String("log-format"))
	if err != nil {
		return err
	}
	for _, w := range warnings {
		logger.Warn().Msg(w)
	}
	cfg, err := simConfig(c)
	if err != nil {
		return usageError(err)
	}
	cfg.Logger = logger
	var gtFile *os.File
	if p := c.String("ground-truth"); p != "" {
		gtFile, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fatalError(fmt.Errorf("open ground truth: %w", err))
		}
		cfg.GroundTruth = gtFile // the simulator buffers and flushes on Close
	}
	s, err := sim.Start(cfg)
	if err != nil {
		if gtFile != nil {
			_ = gtFile.Close()
		}
		return usageError(err)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "mdcap sim listening\n  REST (--auth-url): %s\n  WebSocket (--md-url): %s\n", s.RESTURL(), s.WSURL())
	fmt.Fprintf(w, "  credentials: --username %s --password %s --app-id %s --cid %s --sec %s\n",
		sim.DefaultUsername, sim.DefaultPassword, sim.DefaultAppID, sim.DefaultCID, sim.DefaultSec)
	names := make([]string, 0, len(cfg.Contracts))
	for _, k := range cfg.Contracts {
		names = append(names, k.Name)
	}
	if len(names) > 10 {
		names = append(names[:10], fmt.Sprintf("… (%d in all)", len(cfg.Contracts)))
	}
	fmt.Fprintf(w, "  contracts: %s\n", strings.Join(names, ","))
	<-c.Context.Done()
	errClose := s.Close()
	if gtFile != nil {
		errClose = errors.Join(errClose, gtFile.Close())
	}
	if errClose != nil {
		return fatalError(fmt.Errorf("stop simulator: %w", errClose))
	}
	return nil
}

// simConfig maps the flags onto a sim.Config.
func simConfig(c *cli.Context) (sim.Config, error) {
	cfg := sim.DefaultConfig()
	cfg.Addr = c.String("addr")
	cfg.AllowRemote = c.Bool("allow-remote")
	cfg.Seed = c.Int64("seed")
	if specs := c.StringSlice("contract"); len(specs) > 0 {
		cfg.Contracts = nil
		for _, spec := range specs {
			k, err := parseSimContract(spec)
			if err != nil {
				return cfg, err
			}
			cfg.Contracts = append(cfg.Contracts, k)
		}
	}
	cfg.Rate = c.Float64("rate")
	for _, spec := range c.StringSlice("rate-for") {
		name, val, ok := strings.Cut(spec, "=")
		rate, err := strconv.ParseFloat(val, 64)
		if !ok || err != nil || rate <= 0 {
			return cfg, fmt.Errorf("--rate-for %q: want SYMBOL=RATE with RATE > 0", spec)
		}
		found := false
		for i := range cfg.Contracts {
			if strings.EqualFold(cfg.Contracts[i].Name, name) {
				cfg.Contracts[i].Rate, found = rate, true
			}
		}
		if !found {
			return cfg, fmt.Errorf("--rate-for %q: unknown contract", spec)
		}
	}
	if n := c.Int("blast-symbols"); n > 0 {
		if n > 100000 {
			return cfg, fmt.Errorf("--blast-symbols %d: at most 100000", n)
		}
		cfg.Contracts = sim.GeneratedContracts(n)
	}
	if n := c.Int64("blast"); n != 0 {
		share := c.Float64("blast-dom-share")
		if share == 0 {
			share = -1 // none (0 means the default in sim.Blast)
		}
		cfg.Blast = sim.Blast{
			Updates: n, UpdatesPerFrame: c.Int("blast-updates-per-frame"), DOMShare: share,
			Frames: c.Int("blast-frames"), OnDone: printBlastReport(c.App.Writer),
		}
	}
	cfg.UpdatesPerFrame = c.Int("updates-per-frame")
	cfg.SendQueue = c.Int("send-queue")
	cfg.DOMLevels = c.Int("dom-levels")
	cfg.SocketBuffer = c.Int("socket-buffer")
	cfg.TokenLifetime = c.Duration("token-lifetime")
	cfg.MaxSessions = c.Int("max-sessions")
	cfg.AuthPenaltyAfter = c.Int("auth-penalty-after")
	cfg.PenaltyWait = c.Duration("penalty-wait")
	cfg.PenaltyCaptcha = c.Bool("penalty-captcha")
	cfg.Rules = sim.Rules{
		Heartbeat:            c.Duration("heartbeat"),
		ClientTimeout:        c.Duration("client-timeout"),
		AuthorizeTimeout:     c.Duration("authorize-timeout"),
		CutDuplicateID:       c.Bool("cut-duplicate-id"),
		MaxRequestsPerSecond: c.Int("max-requests-per-second"),
		MaxConnAge:           c.Duration("max-conn-age"),
		MaxConnsPerUser:      c.Int("max-conns-per-user"),
		MaxIPsPerUser:        c.Int("max-ips-per-user"),
		LockoutRequests:      c.Int("lockout-requests"),
		LockoutWindow:        c.Duration("lockout-window"),
		LockoutFor:           c.Duration("lockout-for"),
		TokenExpiry:          sim.TokenExpiryPolicy(c.String("token-expiry")),
		MaxFrameBytes:        c.Int64("max-frame-bytes"),
	}
	for _, f := range simFaults() {
		fault := sim.Fault{Kind: f.kind, Every: c.Duration(f.prefix + "-every")}
		if at := c.String(f.prefix + "-at"); at != "" {
			for _, s := range strings.Split(at, ",") {
				d, err := time.ParseDuration(strings.TrimSpace(s))
				if err != nil || d < 0 {
					return cfg, fmt.Errorf("--%s-at %q: want comma-separated durations ≥ 0", f.prefix, at)
				}
				fault.At = append(fault.At, d)
			}
		}
		if fault.Every < 0 {
			return cfg, fmt.Errorf("--%s-every: negative duration", f.prefix)
		}
		if fault.Every == 0 && len(fault.At) == 0 {
			continue
		}
		switch f.kind {
		case sim.FaultStall:
			fault.Duration = c.Duration("stall-for")
		case sim.FaultClose:
			fault.Code, fault.Reason = c.Int("close-code"), c.String("close-reason")
		case sim.FaultShutdown:
			fault.Reason = c.String("shutdown-reason")
		case sim.FaultMalformed:
			fault.Reason = c.String("malformed-kind")
		case sim.FaultPenalty:
			fault.Code = c.Int("penalty-count")
		}
		cfg.Faults = append(cfg.Faults, fault)
	}
	return cfg, nil
}

// parseSimContract parses NAME:ID:TICK:PRICE[:RATE].
func parseSimContract(spec string) (sim.Contract, error) {
	p := strings.Split(spec, ":")
	bad := fmt.Errorf("--contract %q: want NAME:ID:TICK:PRICE[:RATE]", spec)
	if len(p) < 4 || len(p) > 5 || p[0] == "" {
		return sim.Contract{}, bad
	}
	id, err1 := strconv.ParseInt(p[1], 10, 64)
	tick, err2 := strconv.ParseFloat(p[2], 64)
	price, err3 := strconv.ParseFloat(p[3], 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return sim.Contract{}, bad
	}
	k := sim.Contract{ID: id, Name: p[0], TickSize: tick, Price: price}
	if len(p) == 5 {
		rate, err := strconv.ParseFloat(p[4], 64)
		if err != nil || rate <= 0 {
			return sim.Contract{}, bad
		}
		k.Rate = rate
	}
	return k, nil
}

// blastJSON is the line `mdcap sim --blast` prints when a blast has ended.
type blastJSON struct {
	StartNS   int64  `json:"start_ns"`   // first frame written, Unix ns
	WrittenNS int64  `json:"written_ns"` // last frame written
	EndNS     int64  `json:"end_ns"`     // the client closed its end
	Updates   int64  `json:"updates"`
	Quotes    int64  `json:"quotes"`
	DOMs      int64  `json:"doms"`
	Frames    int64  `json:"frames"`
	Bytes     int64  `json:"bytes"`
	Complete  bool   `json:"complete"`
	Cause     string `json:"cause"`
}

// printBlastReport returns the OnDone of a blast: one "blast {json}" line.
func printBlastReport(w io.Writer) func(sim.BlastReport) {
	return func(r sim.BlastReport) {
		j := blastJSON{
			StartNS: r.Start.UnixNano(), EndNS: r.End.UnixNano(),
			Updates: r.Updates, Quotes: r.Quotes, DOMs: r.DOMs, Frames: r.Frames, Bytes: r.Bytes,
			Complete: r.Complete, Cause: r.Cause,
		}
		if !r.Written.IsZero() {
			j.WrittenNS = r.Written.UnixNano()
		}
		b, _ := json.Marshal(j)
		fmt.Fprintf(w, "blast %s\n", b)
	}
}
