package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
)

// Server is a running simulator. Its methods are safe for concurrent use.
type Server struct {
	cfg   Config
	log   zerolog.Logger
	ln    net.Listener
	http  *http.Server
	up    websocket.Upgrader
	auth  *authStore
	gt    *groundTruth
	start time.Time

	contracts []*contract
	byName    map[string]*contract // upper-case name
	byID      map[int64]*contract

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	wsPen     wsPenalties
	blast     *blastPool   // pre-generated frames in blast mode, else nil
	blastOnce atomic.Bool  // the blast was given to a connection
	sent      atomic.Int64 // md updates written to sockets
	conflated atomic.Int64 // md updates merged or dropped by conflation

	mu       sync.RWMutex
	closed   bool
	conns    map[int64]*conn
	nextConn int64
}

// Start validates cfg, listens and serves until Close.
func Start(cfg Config) (*Server, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("listen %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("serve")
		}
	}()
	for _, k := range s.contracts {
		if s.blast != nil {
			break // a blast replaces the generators
		}
		s.wg.Add(1)
		go s.generate(k)
	}
	for _, f := range cfg.Faults {
		s.wg.Add(1)
		go s.schedule(f)
	}
	s.log.Info().Str("addr", ln.Addr().String()).Int("contracts", len(s.contracts)).Msg("simulator listening")
	return s, nil
}

// maxRate caps the updates per second of one contract.
const maxRate = 1_000_000

// newServer builds a server's state from cfg without starting anything.
func newServer(cfg Config) (*Server, error) {
	if err := normalize(&cfg); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		auth:   newAuthStore(&cfg),
		gt:     newGroundTruth(cfg.GroundTruth),
		start:  time.Now(),
		byName: make(map[string]*contract),
		byID:   make(map[int64]*contract),
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[int64]*conn),
		up: websocket.Upgrader{
			ReadBufferSize:  4096,
			WriteBufferSize: 16384,
			CheckOrigin:     func(*http.Request) bool { return true },
		},
	}
	s.wsPen.wait = cfg.PenaltyWait
	for i, c := range cfg.Contracts {
		k := newContract(c, cfg.Rate, cfg.Seed, i)
		s.contracts = append(s.contracts, k)
		s.byName[strings.ToUpper(c.Name)] = k
		s.byID[c.ID] = k
	}
	if cfg.Blast.Updates > 0 {
		s.blast = newBlastPool(cfg.Blast, s.contracts, cfg.DOMLevels, cfg.Seed, s.start)
	}
	return s, nil
}

// normalize fills zero values with defaults and checks cfg.
func normalize(cfg *Config) error {
	d := DefaultConfig()
	if cfg.Addr == "" {
		cfg.Addr = d.Addr
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("parse address %q: %w", cfg.Addr, err)
	}
	if !cfg.AllowRemote && !isLoopback(host) {
		return fmt.Errorf("check address %q: not a loopback address (allow it with Config.AllowRemote, --allow-remote in mdcap sim)", cfg.Addr)
	}
	if cfg.Contracts == nil {
		cfg.Contracts = d.Contracts
	}
	seenName, seenID := map[string]bool{}, map[int64]bool{}
	for _, c := range cfg.Contracts {
		n := strings.ToUpper(c.Name)
		if n == "" || !(c.TickSize > 0) || !(c.Price > 0) || math.IsInf(c.Price, 0) || seenName[n] || seenID[c.ID] ||
			c.Rate < 0 || c.Rate > maxRate || math.IsNaN(c.Rate) {
			return fmt.Errorf("check contract %q (id %d): needs a unique name and id, tick size > 0, price > 0 and a rate up to %g/s",
				c.Name, c.ID, float64(maxRate))
		}
		seenName[n], seenID[c.ID] = true, true
	}
	if cfg.Users == nil {
		cfg.Users = d.Users
	}
	if cfg.Rate == 0 {
		cfg.Rate = d.Rate
	}
	if !(cfg.Rate > 0) || cfg.Rate > maxRate {
		return fmt.Errorf("check rate %g: want 0 < rate ≤ %g updates/s", cfg.Rate, float64(maxRate))
	}
	if cfg.UpdatesPerFrame <= 0 {
		cfg.UpdatesPerFrame = d.UpdatesPerFrame
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = d.SendQueue
	}
	if cfg.DOMLevels <= 0 {
		cfg.DOMLevels = d.DOMLevels
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = d.TokenLifetime
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = d.MaxSessions
	}
	if cfg.PenaltyWait <= 0 {
		cfg.PenaltyWait = d.PenaltyWait
	}
	if cfg.Rules.Heartbeat <= 0 {
		cfg.Rules.Heartbeat = d.Rules.Heartbeat
	}
	if cfg.Rules.MaxFrameBytes <= 0 {
		cfg.Rules.MaxFrameBytes = d.Rules.MaxFrameBytes
	}
	switch cfg.Rules.TokenExpiry {
	case "":
		cfg.Rules.TokenExpiry = TokenKeep
	case TokenKeep, TokenSilent, TokenCut:
	default:
		return fmt.Errorf("check token expiry policy %q: want keep, silent or cut", cfg.Rules.TokenExpiry)
	}
	if cfg.Rules.LockoutRequests > 0 && (cfg.Rules.LockoutWindow <= 0 || cfg.Rules.LockoutFor <= 0) {
		return errors.New("check lockout rule: window and duration must be > 0")
	}
	for _, f := range cfg.Faults {
		if err := checkFault(f); err != nil {
			return err
		}
	}
	return normalizeBlast(&cfg.Blast)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// RESTURL is the REST base, e.g. "http://127.0.0.1:PORT/v1".
func (s *Server) RESTURL() string { return "http://" + s.Addr() + "/v1" }

// WSURL is the market-data WebSocket, e.g. "ws://127.0.0.1:PORT/v1/websocket".
func (s *Server) WSURL() string { return "ws://" + s.Addr() + "/v1/websocket" }

// enter registers one more goroutine in the WaitGroup unless the server
// is closed.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// Close stops the server: every connection is cut (cause "server_stop"),
// every goroutine has ended when it returns, and the ground truth is
// flushed. It returns the ground-truth write error, if any.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	for _, c := range s.connList() {
		c.end(EndServerStop)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		_ = s.http.Close()
	}
	s.wg.Wait()
	if err := s.gt.flush(); err != nil {
		return fmt.Errorf("flush ground truth: %w", err)
	}
	return nil
}

// connList returns the open connections, oldest first.
func (s *Server) connList() []*conn {
	s.mu.RLock()
	out := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// Stats are the server's counters.
type Stats struct {
	Conns     int   // open WebSocket connections
	Sent      int64 // md updates written to sockets (as in the ground truth)
	Conflated int64 // md updates merged into a newer one or dropped for a slow reader
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	return Stats{Conns: s.Conns(), Sent: s.sent.Load(), Conflated: s.conflated.Load()}
}

// Conns returns the number of open WebSocket connections.
func (s *Server) Conns() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.conns)
}

// maxStepsPerTick bounds the burst a late tick may generate.
const maxStepsPerTick = 1000

// generate runs contract k's market and fans its updates out to the
// subscribed connections. Rates above 1000/s are reached by several steps
// per millisecond tick; their server timestamps then run ahead of the wall
// clock, since each update of a contract gets a strictly later millisecond.
func (s *Server) generate(k *contract) {
	defer s.wg.Done()
	t := time.NewTicker(max(k.interval, time.Millisecond))
	defer t.Stop()
	start := time.Now()
	var done int64
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			due := int64(now.Sub(start)/k.interval) - done
			if due > maxStepsPerTick {
				done += due - maxStepsPerTick // skip what cannot be caught up
				due = maxStepsPerTick
			}
			for ; due > 0; due-- {
				done++
				q, d := k.step(now, s.cfg.DOMLevels)
				q.json = appendUpdate(nil, q)
				d.json = appendUpdate(nil, d)
				s.fanout(q, d)
			}
		}
	}
}

// fanout queues one step's updates on every connection.
func (s *Server) fanout(q, d *update) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range s.conns {
		c.push(q)
		c.push(d)
	}
}
