package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/mdcap/mdcap/capture"
	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/journal"
	"github.com/mdcap/mdcap/sim"
	"github.com/mdcap/mdcap/storage"
)

// version goes into the start rows.
const version = "0.1.0"

// errDurationElapsed is the cancel cause of a --duration stop.
var errDurationElapsed = errors.New("--duration elapsed")

func recordCommand() *cli.Command {
	return &cli.Command{
		Name:  "record",
		Usage: "connect, subscribe and write quotes, DOM and gaps into the dataset until stopped",
		Description: "Every flag also reads MDCAP_<FLAG_IN_UPPER_SNAKE> and may come from the YAML file given\n" +
			"with --config (keys are flag names). Precedence: flag > env > file > default.\n" +
			"SIGINT/SIGTERM or --duration stop cleanly (drain, finalise files, write stop rows, exit 0);\n" +
			"a second signal hurries the drain.",
		Flags: recordFlags(),
		Action: func(c *cli.Context) error {
			cfg, err := loadRecordConfig(c)
			if err != nil {
				return err
			}
			return record(c.Context, cfg, c.App.ErrWriter)
		},
	}
}

// record runs one recording until ctx ends, --duration elapses, or a
// permanent error.
func record(ctx context.Context, cfg recordConfig, stderr io.Writer) (err error) {
	log, err := newLogger(stderr, cfg.LogFormat)
	if err != nil {
		return err
	}
	log = log.Level(zerolog.InfoLevel)
	for _, w := range cfg.warnings {
		log.Warn().Msg(w)
	}
	started := time.Now().UTC()
	runID := newRunID(cfg.WriterID, started)

	// A second SIGINT/SIGTERM hurries the drain (the first one cancels ctx).
	hurry := make(chan struct{})
	stopSignals := watchSecondSignal(hurry)
	defer stopSignals()

	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, cfg.Duration, errDurationElapsed)
		defer cancel()
	}

	fcfg := feed.Config{
		MDURL: cfg.MDURL, AuthURL: cfg.AuthURL,
		Credentials: feed.Credentials{
			Username: cfg.Username, Password: feed.Secret(cfg.Password), AppID: cfg.AppID, AppVersion: cfg.AppVersion,
			CID: cfg.CID, Sec: feed.Secret(cfg.Sec), DeviceID: cfg.DeviceID,
		},
		AccessToken: feed.Secret(cfg.AccessToken),
		Symbols:     cfg.Symbols, DOM: cfg.DOM,
		Heartbeat: cfg.Heartbeat, StaleAfter: cfg.StaleAfter, RequestTimeout: cfg.RequestTimeout, MaxConnAge: cfg.MaxConnAge,
		Logger: log.With().Str("part", "feed").Logger(),
	}
	if cfg.Sim {
		srv, err := startSim(log)
		if err != nil {
			return fatalError(err)
		}
		defer srv.Close()
		fcfg.MDURL, fcfg.AuthURL = srv.WSURL(), srv.RESTURL()
		if cfg.AccessToken == "" && cfg.Username == "" {
			fcfg.Credentials = feed.Credentials{Username: sim.DefaultUsername, Password: sim.DefaultPassword,
				AppID: sim.DefaultAppID, AppVersion: version, CID: sim.DefaultCID, Sec: sim.DefaultSec, DeviceID: "mdcap-sim"}
		}
		log.Info().Str("md_url", srv.WSURL()).Str("auth_url", srv.RESTURL()).Msg("embedded simulator started")
	}

	// One recorder per writer id and root: the lock is held until the
	// process ends (the OS releases it even after kill -9).
	lock, err := storage.LockWriter(cfg.Out, cfg.WriterID)
	if err != nil {
		return fatalError(fmt.Errorf("open dataset %s: %w", cfg.Out, err))
	}
	defer lock.Unlock()
	defer setMemoryLimit(cfg.MaxBuffered, log)()
	scfg := storage.Config{
		Root: cfg.Out, WriterID: cfg.WriterID, RunID: runID,
		RollInterval: cfg.RollInterval, RollSize: cfg.RollSize, FS: cfg.hooks.fs,
		MaxBufferedBytes: cfg.MaxBuffered,
		MaxOpenFiles:     openFileCap(len(cfg.Symbols), cfg.DOM),
		Logger:           log.With().Str("part", "storage").Logger(),
	}
	recovered, recovery, err := recoverDeadRuns(cfg, scfg, log)
	if err != nil {
		return fatalError(fmt.Errorf("recover %s: %w", cfg.Out, err))
	}
	ds, err := storage.Open(scfg)
	if err != nil {
		return fatalError(fmt.Errorf("open dataset %s: %w", cfg.Out, err))
	}
	jnl, err := journal.Open(journal.Config{
		Root: cfg.Out, WriterID: cfg.WriterID, RunID: runID, Start: started, FS: cfg.hooks.fs,
		Owed: owed(recovered), Recovery: recovery, Logger: log.With().Str("part", "journal").Logger(),
	})
	if err != nil {
		ds.Close()
		return fatalError(err)
	}
	dsMetrics := newDatasetMetrics(cfg.MaxBuffered)
	sink := &statsSink{Sink: journal.NewSink(ds, jnl), published: dsMetrics}
	dsMetrics.publish(ds.Stats()) // what Open did (temporary files swept, salvaged), before the writer starts

	var session atomic.Pointer[feed.Session]
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), dsMetrics)
	var bytesRead atomic.Int64
	fcfg.Dialer = countingDialer(cfg.RequestTimeout, &bytesRead)
	if cfg.tls != nil {
		fcfg.Dialer.TLSClientConfig = cfg.tls
		fcfg.HTTPClient = &http.Client{Timeout: cfg.RequestTimeout,
			Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: cfg.tls}}
	}
	pcfg := capture.Config{
		Symbols: cfg.Symbols, DOM: cfg.DOM, RunID: runID, Buffer: cfg.Buffer, FullWait: cfg.FullWait,
		StatusEvery: cfg.StatusInterval,
		// The writer makes the journal durable on each roll tick.
		RollEvery: min(cfg.SyncInterval, capture.DefaultRollEvery),
		Recovered: recovered,
		StartDetail: map[string]any{
			"writer_id": cfg.WriterID, "version": version, "dom": cfg.DOM, "sim": cfg.Sim,
			"md_url": redactURL(fcfg.MDURL), "out": cfg.Out, "replay": false,
		},
		Registry: reg,
		TokenExpiry: func() time.Time {
			if s := session.Load(); s != nil {
				return s.TokenExpiry()
			}
			return time.Time{}
		},
		FilesFinalised: dsMetrics.filesFinalised,
		BytesRead:      bytesRead.Load,
		Hurry:          hurry,
		Logger:         log.With().Str("part", "capture").Logger(),
	}
	if cfg.StatusInterval == 0 {
		pcfg.StatusEvery = -1
	}
	var psink capture.Sink = sink
	if cfg.hooks.sink != nil {
		psink = cfg.hooks.sink(sink)
	}
	pipe, err := capture.New(pcfg, psink)
	if err != nil {
		ds.Close()
		return fatalError(err)
	}
	if cfg.Metrics != "" {
		_, stop, err := serveMetrics(cfg.Metrics, reg, log)
		if err != nil {
			ds.Close()
			return usageError(fmt.Errorf("--metrics: %w", err))
		}
		defer stop()
	}

	log.Info().Str("run_id", runID).Strs("symbols", cfg.Symbols).Bool("dom", cfg.DOM).Str("out", cfg.Out).
		Dur("duration", cfg.Duration).Msg("recording")
	if cfg.hooks.feed != nil {
		cfg.hooks.feed(&fcfg)
	}
	err = pipe.Run(ctx, func(ctx context.Context, h feed.Handler) error {
		if cfg.hooks.handler != nil {
			h = cfg.hooks.handler(h)
		}
		s, err := feed.NewSession(fcfg, h)
		if err != nil {
			return err
		}
		session.Store(s)
		return s.Run(ctx)
	})
	st, jst := ds.Stats(), jnl.Stats()
	log.Info().Int64("files", st.FilesFinalised).Int64("bytes", st.BytesFinalised).
		Int64("quotes", st.RowsWritten[0]).Int64("dom", st.RowsWritten[1]).Int64("events", st.RowsWritten[3]).
		Int64("journal_rows", jst.Records).Int64("journal_bytes", jst.BytesWritten).
		Msg("recording stopped")
	if err != nil {
		return fatalError(fmt.Errorf("record: %w", err))
	}
	return nil
}

// statsSink is the journaled dataset with its Stats published for the
// metrics at each roll tick and at Close (Stats is read on the writer
// goroutine, which owns the dataset; see datasetMetrics).
type statsSink struct {
	*journal.Sink
	published *datasetMetrics
}

func (s *statsSink) Roll(now time.Time) error {
	err := s.Sink.Roll(now)
	s.published.publish(s.Dataset().Stats())
	return err
}

func (s *statsSink) Close() error {
	err := s.Sink.Close()
	s.published.publish(s.Dataset().Stats())
	return err
}

func startSim(log zerolog.Logger) (*sim.Server, error) {
	scfg := sim.DefaultConfig()
	scfg.Addr = "127.0.0.1:0"
	scfg.Logger = log.With().Str("part", "sim").Logger()
	srv, err := sim.Start(scfg)
	if err != nil {
		return nil, fmt.Errorf("start simulator: %w", err)
	}
	return srv, nil
}

// watchSecondSignal closes hurry on the second SIGINT/SIGTERM (main's
// context takes the first). The returned func stops watching.
func watchSecondSignal(hurry chan struct{}) func() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		n := 0
		for {
			select {
			case <-sigs:
				n++
				if n == 2 {
					close(hurry)
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
		<-finished
	}
}

// serveMetrics binds addr now (a bad address is an error) and serves the
// registry at /metrics until the returned func is called. It returns the
// bound address.
func serveMetrics(addr string, reg *prometheus.Registry, log zerolog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics server stopped")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("serving metrics at /metrics")
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// countingDialer is the feed's WebSocket dialer with every byte read from
// its connections counted into n.
func countingDialer(timeout time.Duration, n *atomic.Int64) *websocket.Dialer {
	var d net.Dialer
	return &websocket.Dialer{
		HandshakeTimeout: timeout,
		Proxy:            http.ProxyFromEnvironment,
		ReadBufferSize:   64 << 10,
		WriteBufferSize:  16 << 10,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, n: n}, nil
		},
	}
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	k, err := c.Conn.Read(p)
	c.n.Add(int64(k))
	return k, err
}

var urlUserinfo = regexp.MustCompile(`//[^/@]*@`)

// redactURL drops any user:password@ part of a URL.
func redactURL(u string) string { return urlUserinfo.ReplaceAllString(u, "//") }
