package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/mdcap/mdcap/schema"
)

// Session keeps a market-data subscription alive: it connects, authorizes,
// subscribes every symbol and streams into its Handler; it treats every
// unexpected end as a drop (EventDown), reconnects with backoff and
// resubscribes by itself, rotates connections before MaxConnAge, and
// stops cleanly when its context ends.
type Session struct {
	cfg     Config
	h       Handler
	log     zerolog.Logger
	limiter *rate.Limiter
	nextID  atomic.Int64 // request ids, unique for the process life
	connSeq atomic.Int64 // connection ids 1, 2, …
	seed    maphash.Seed
	wg      sync.WaitGroup

	tokMu     sync.Mutex
	tok       tokenGrant
	refreshMu sync.Mutex
	// tokenLost is signalled when the server refused to renew the token:
	// the session the live connection authorized with is gone, and a
	// socket of a dead session may stay open yet deliver nothing.
	tokenLost chan Secret // the refused md token

	syms []*symbol // configured order; contract ids set by resolution

	// emitMu serialises every Handler call and guards the routing state.
	emitMu     sync.Mutex
	byContract map[int64]*symbol
	primary    *conn     // the connection whose data is passed on
	rot        *rotation // make-before-break in progress
	discarded  int64     // updates dropped because their connection is not current

	frames, bytes, drops atomic.Int64
}

// Stats are the session's counters since NewSession.
type Stats struct {
	Frames    int64 // WebSocket messages read, every connection
	Bytes     int64 // their payload bytes
	Drops     int64 // EventDown count
	Discarded int64 // updates not passed on (a connection no longer current, rotation duplicates)
}

// Stats returns the session's counters; safe from any goroutine.
func (s *Session) Stats() Stats {
	s.emitMu.Lock()
	d := s.discarded
	s.emitMu.Unlock()
	return Stats{Frames: s.frames.Load(), Bytes: s.bytes.Load(), Drops: s.drops.Load(), Discarded: d}
}

// symbol is one configured symbol.
type symbol struct {
	name       string
	contractID int64
}

// NewSession checks cfg and prepares a session; nothing connects before Run.
func NewSession(cfg Config, h Handler) (*Session, error) {
	if h == nil {
		return nil, errors.New("feed.NewSession: nil Handler")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Session{
		cfg:        cfg,
		h:          h,
		log:        cfg.Logger.With().Str("component", "feed").Logger(),
		limiter:    rate.NewLimiter(rate.Limit(cfg.RequestRate), cfg.RequestBurst),
		seed:       maphash.MakeSeed(),
		byContract: map[int64]*symbol{},
		tokenLost:  make(chan Secret, 1),
	}
	for _, name := range cfg.Symbols {
		s.syms = append(s.syms, &symbol{name: name})
	}
	return s, nil
}

// Run connects, authorizes, subscribes and streams into the Handler until
// ctx is cancelled (then: unsubscribe, close frame, wait for every
// goroutine, return nil) or a permanent error (bad credentials, p-captcha,
// unknown symbol; errors.Is(err, ErrPermanent)). Drops are never returned:
// they become EventDown and a reconnect.
func (s *Session) Run(ctx context.Context) error {
	defer s.wg.Wait()
	err := s.run(ctx)
	if ctx.Err() != nil && !errors.Is(err, ErrPermanent) {
		return nil
	}
	return err
}

func (s *Session) run(ctx context.Context) error {
	if err := s.acquireToken(ctx); err != nil {
		return err
	}
	if err := s.resolveREST(ctx); err != nil {
		return err
	}
	rctx, stopRenew := context.WithCancel(ctx)
	defer stopRenew()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.renewLoop(rctx)
	}()

	bo := newBackoff(s.cfg.BackoffMin, s.cfg.BackoffMax)
	var cur *conn
	var wait time.Duration
	var rotateAt time.Time
	failures := 0 // consecutive failed connection attempts
	for {
		if cur == nil {
			if err := sleepCtx(ctx, wait); err != nil {
				return nil
			}
			c, err := s.open(ctx, false)
			if err != nil {
				if errors.Is(err, ErrPermanent) {
					return err
				}
				if ctx.Err() != nil {
					return nil
				}
				wait = bo.next()
				var de *DropError
				if errors.As(err, &de) && de.Wait > 0 {
					wait = de.Wait
				}
				var pe *penaltyError
				if errors.As(err, &pe) && pe.Wait > 0 {
					wait = pe.Wait
				}
				failures++
				s.log.Warn().Err(err).Int("consecutive_failures", failures).Dur("retry_in", wait).Msg("connection attempt failed")
				continue
			}
			if failures > 0 {
				s.log.Info().Int("failed_attempts", failures).Int64("conn", c.id).Msg("connected again")
				failures = 0
			}
			cur = c
			rotateAt = c.connected.Add(s.cfg.MaxConnAge)
		}
		var rotate <-chan time.Time
		var rotTimer *time.Timer
		if s.cfg.MaxConnAge > 0 {
			rotTimer = time.NewTimer(time.Until(rotateAt))
			rotate = rotTimer.C
		}
		stopTimer := func() {
			if rotTimer != nil {
				rotTimer.Stop()
			}
		}
		select {
		case <-ctx.Done():
			stopTimer()
			s.stopConn(cur, schema.ReasonUserStop)
			return nil
		case <-cur.done:
			stopTimer()
			de := s.down(cur)
			if time.Since(cur.connected) >= s.cfg.ResetAfter {
				bo.reset()
			}
			wait = bo.next()
			if de.Wait > 0 {
				wait = de.Wait
			}
			s.log.Info().Dur("retry_in", wait).Msg("reconnecting")
			cur = nil
		case lost := <-s.tokenLost:
			stopTimer()
			if lost == cur.authToken {
				// Reconnect with a new token; the gap starts at the last data
				// this connection delivered, since it may have gone silent.
				cur.fail(&DropError{Reason: schema.ReasonStale, Text: "the server refused to renew the token: this connection's session is gone", sinceData: true})
			}
		case <-rotate:
			stopTimer()
			next, err := s.rotate(ctx, cur)
			if err != nil {
				if errors.Is(err, ErrPermanent) {
					s.stopConn(cur, schema.ReasonUserStop)
					return err
				}
				if ctx.Err() != nil {
					s.stopConn(cur, schema.ReasonUserStop)
					return nil
				}
				s.log.Warn().Err(err).Msg("rotation failed; keeping the current connection")
				rotateAt = time.Now().Add(bo.next() + s.cfg.BackoffMin)
				continue
			}
			cur = next
			rotateAt = next.connected.Add(s.cfg.MaxConnAge)
		}
	}
}

// down reports the end of connection c as a drop and returns why.
func (s *Session) down(c *conn) *DropError {
	cause := c.cause()
	var de *DropError
	if !errors.As(cause, &de) {
		de = &DropError{Reason: schema.ReasonReadError, Err: cause}
	}
	detail := map[string]any{}
	if de.CloseCode != 0 {
		detail["close_code"] = de.CloseCode
	}
	if de.Text != "" {
		detail["text"] = de.Text
	}
	if de.Err != nil {
		detail["error"] = de.Err.Error()
	}
	s.log.Warn().Str("reason", de.Reason).Int("close_code", de.CloseCode).Str("text", de.Text).AnErr("error", de.Err).
		Int64("conn", c.id).Time("last_frame", c.lastFrameTime()).Msg("connection dropped")
	last := c.lastFrameTime()
	if de.sinceData {
		last = time.Unix(0, c.lastData.Load())
		detail["since_last_data"] = true
	}
	s.drops.Add(1)
	s.emitMu.Lock()
	if s.primary == c {
		s.primary = nil
	}
	s.emitLocked(Event{Kind: EventDown, Time: time.Now(), ConnID: c.id, Reason: de.Reason, LastFrame: last, Detail: detail})
	s.emitMu.Unlock()
	return de
}

// open dials a connection and brings it up: wait for `o`, authorize,
// resolve any symbol still unknown, subscribe every symbol. For a
// rotation the subscriptions are announced by the rotation, not here.
// A connection that fails after EventConnected is reported with EventDown.
func (s *Session) open(ctx context.Context, rotating bool) (*conn, error) {
	id := s.connSeq.Add(1)
	c, err := s.dial(ctx, id, rotating)
	if err != nil {
		return nil, err
	}
	connected := false
	fail := func(err error) (*conn, error) {
		switch {
		case connected && !rotating && ctx.Err() == nil && !errors.Is(err, ErrPermanent):
			// An unexpected end after EventConnected: a drop.
			var de *DropError
			if !errors.As(err, &de) {
				de = &DropError{Reason: schema.ReasonReadError, Err: err}
			}
			c.fail(de)
			<-c.done
			s.down(c)
		case connected && ctx.Err() != nil:
			// Stopped while subscribing: undo what may be subscribed.
			s.stopConn(c, schema.ReasonUserStop)
		default:
			c.closePolitely()
			if connected {
				s.emitEvent(Event{Kind: EventClosed, Time: time.Now(), ConnID: c.id, Reason: "setup_failed",
					Detail: map[string]any{"error": err.Error()}})
			}
		}
		return nil, err
	}
	if err := s.handshake(ctx, c); err != nil {
		return fail(err)
	}
	connected = true
	s.emitMu.Lock()
	if !rotating {
		s.primary = c
	} else if s.rot != nil {
		s.rot.next = c
	}
	s.emitLocked(Event{Kind: EventConnected, Time: time.Now(), ConnID: c.id, Detail: map[string]any{"rotation": rotating}})
	s.emitMu.Unlock()
	if err := s.resolveSocket(ctx, c); err != nil {
		return fail(err)
	}
	if err := s.subscribeAll(ctx, c); err != nil {
		return fail(err)
	}
	return c, nil
}

// handshake waits for `o` and authorizes with the raw md token.
func (s *Session) handshake(ctx context.Context, c *conn) error {
	t := time.NewTimer(s.cfg.RequestTimeout)
	defer t.Stop()
	select {
	case <-c.opened:
	case <-c.done:
		return c.cause()
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return &DropError{Reason: schema.ReasonRequestTimeout, Text: "no open frame within " + s.cfg.RequestTimeout.String()}
	}
	tok := s.token().mdToken()
	c.authToken = tok
	_, err := c.do(ctx, "authorize", "", []byte(tok.Reveal()), nil)
	var se *statusError
	if errors.As(err, &se) && (se.Status == 401 || se.Status == 403) {
		s.log.Warn().Int("status", se.Status).Str("text", se.Text).Msg("authorize rejected the token; refreshing it")
		if rerr := s.refreshToken(ctx, tok); rerr != nil {
			return rerr
		}
		return fmt.Errorf("authorize: %w", err)
	}
	if err != nil {
		return fmt.Errorf("authorize: %w", err)
	}
	return nil
}

// tables lists the tables a subscription covers.
func (s *Session) tables() []string {
	if s.cfg.DOM {
		return []string{"quotes", "dom"}
	}
	return []string{"quotes"}
}

// subscribeAll subscribes every symbol on c: md/subscribeQuote (and
// md/subscribeDOM). The requests of all symbols are in flight together;
// the first success for a symbol announces it (EventSubscribed, or the
// rotation's bookkeeping) on the reader goroutine, before its data.
func (s *Session) subscribeAll(ctx context.Context, c *conn) error {
	endpoints := []string{"md/subscribeQuote"}
	if s.cfg.DOM {
		endpoints = append(endpoints, "md/subscribeDOM")
	}
	type req struct {
		sym *symbol
		ep  string
	}
	var reqs []req
	for _, sym := range s.syms {
		for _, ep := range endpoints {
			reqs = append(reqs, req{sym, ep})
		}
	}
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		body, _ := json.Marshal(map[string]string{"symbol": r.sym.name})
		sym := r.sym
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.do(ctx, r.ep, "", body, func() { s.subscribed(c, sym) })
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			continue
		}
		var se *statusError
		if errors.As(err, &se) && (se.Status == 400 || se.Status == 404) {
			return permanent("subscribe %s (%s): server refused: %s", reqs[i].sym.name, reqs[i].ep, se.Text)
		}
		return fmt.Errorf("subscribe %s: %w", reqs[i].sym.name, err)
	}
	return nil
}

// subscribed runs on c's reader when a subscription of sym succeeded.
func (s *Session) subscribed(c *conn, sym *symbol) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	if c.subCount[sym.name] {
		return
	}
	c.subCount[sym.name] = true
	if c.rotating {
		// Announced by the rotation (EventRotated) or, when the old
		// connection died meanwhile, by promote.
		if s.rot != nil && s.rot.next == c {
			s.rot.subscribedNew(sym)
		}
		return
	}
	s.emitLocked(Event{Kind: EventSubscribed, Time: time.Now(), ConnID: c.id, Symbol: sym.name, ContractID: sym.contractID,
		Detail: map[string]any{"tables": s.tables()}})
}

// emitEvent hands a lifecycle event to the Handler.
func (s *Session) emitEvent(e Event) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.emitLocked(e)
}

func (s *Session) emitLocked(e Event) { s.h.HandleEvent(e) }

// deliver passes a batch from c to the Handler when c is the current
// connection (or lets the rotation filter it).
func (s *Session) deliver(c *conn, b *Batch) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	if r := s.rot; r != nil && (c == r.old || c == r.next) {
		if r.trailing {
			if c == r.old { // the rotation is over: the old connection's data is not passed on
				s.discarded += int64(len(b.Quotes) + len(b.DOMs))
				return
			}
			if b.RecvTime <= r.trailEnd {
				r.filter(c, b)
				if r.caughtUp() {
					s.rot = nil
				}
				return
			}
			s.rot = nil // trailed long enough: a table that stays silent must not keep every batch filtered
		}
		if !r.trailing {
			r.filter(c, b)
			return
		}
	}
	if c != s.primary {
		s.discarded += int64(len(b.Quotes) + len(b.DOMs))
		return
	}
	s.h.HandleBatch(b)
}

// shutdown handles a `shutdown` event: EventShutdown, then the connection
// ends as a drop (reason shutdown_event); Maintenance waits longer before
// reconnecting.
func (s *Session) shutdown(c *conn, d []byte, recv time.Time) error {
	var sd struct {
		ReasonCode string `json:"reasonCode"`
		Reason     string `json:"reason"`
	}
	if err := json.Unmarshal(responseBody(d), &sd); err != nil {
		s.anomaly(c, fmt.Errorf("decode shutdown event: %w", err), d)
	}
	wait := s.cfg.BackoffMin
	if sd.ReasonCode == "Maintenance" {
		wait = s.cfg.MaintenanceWait
	}
	s.log.Warn().Str("reason_code", sd.ReasonCode).Str("reason", sd.Reason).Dur("wait", wait).Msg("server announced shutdown")
	s.emitEvent(Event{Kind: EventShutdown, Time: recv, ConnID: c.id, Reason: sd.ReasonCode,
		Detail: map[string]any{"reasonCode": sd.ReasonCode, "reason": sd.Reason}})
	return &DropError{Reason: schema.ReasonShutdownEvent, Text: sd.ReasonCode, Wait: wait}
}

// stopConn closes c on purpose: unsubscribe every symbol (bounded wait),
// close frame, wait for its goroutines; EventClosed.
func (s *Session) stopConn(c *conn, reason string) {
	select {
	case <-c.done:
		s.down(c) // it died before the stop reached it
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(s.cfg.RequestTimeout, 5*time.Second))
	s.unsubscribeAll(ctx, c)
	cancel()
	c.closePolitely()
	s.emitEvent(Event{Kind: EventClosed, Time: time.Now(), ConnID: c.id, Reason: reason})
}

// unsubscribeAll sends every unsubscribe at once and waits for the answers.
func (s *Session) unsubscribeAll(ctx context.Context, c *conn) {
	endpoints := []string{"md/unsubscribeQuote"}
	if s.cfg.DOM {
		endpoints = append(endpoints, "md/unsubscribeDOM")
	}
	var calls []*call
	for _, sym := range s.syms {
		for _, ep := range endpoints {
			body, _ := json.Marshal(map[string]string{"symbol": sym.name})
			cl, err := c.send(ctx, ep, "", body, nil)
			if err != nil {
				return
			}
			calls = append(calls, cl)
		}
	}
	for _, cl := range calls {
		select {
		case <-cl.done:
		case <-ctx.Done():
			return
		}
	}
}
