package sim

import (
	"fmt"
	"slices"
	"time"
)

// Malformed frame kinds for Malformed.
const (
	MalformedJSON      = "json"      // a[...] whose element is not valid JSON
	MalformedLetter    = "letter"    // a frame with an unknown type letter
	MalformedTruncated = "truncated" // an a[...] frame cut in the middle
)

// malformedFrame returns the frame for kind, or nil if kind is unknown.
func malformedFrame(kind string) []byte {
	switch kind {
	case MalformedJSON:
		return []byte(`a[{"e":"md","d":{"quotes":[{"timestamp":"2026-01-01T00:00:00.000Z","contractId":,}]}}]`)
	case MalformedLetter:
		return []byte(`x["unknown frame type"]`)
	case MalformedTruncated:
		return []byte(`a[{"e":"md","d":{"quotes":[{"timestamp":"2026-01-01T00:00:00.000Z","contr`)
	}
	return nil
}

// Shutdown reason codes of the shutdown event.
const (
	ShutdownMaintenance            = "Maintenance"
	ShutdownConnectionQuotaReached = "ConnectionQuotaReached"
	ShutdownIPQuotaReached         = "IPQuotaReached"
)

// CloseCode is the c[...] code the simulator uses after a shutdown event
// (the real code is undocumented; 3000 is the protocol's example).
const CloseCode = 3000

// DropAll cuts every connection's TCP now, with no close frame (cause "drop").
func (s *Server) DropAll() {
	for _, c := range s.connList() {
		c.end(EndDrop)
	}
}

// Stall makes every open connection half-open for d: the server neither
// reads nor writes on it, but keeps TCP open. Market data keeps queuing
// (and conflating) meanwhile; after d the connection resumes.
func (s *Server) Stall(d time.Duration) {
	until := time.Now().Add(d)
	for _, c := range s.connList() {
		c.mu.Lock()
		c.stallUntil = until
		c.mu.Unlock()
		c.signal()
	}
}

// CloseAll sends c[code,"reason"] on every connection, then a WebSocket
// close frame, then closes TCP (cause "server_close").
func (s *Server) CloseAll(code int, reason string) {
	for _, c := range s.connList() {
		c.sendClose(code, reason, EndServerClose)
	}
}

// Shutdown sends a shutdown event with reasonCode (and reason, if not
// empty) on every connection, then c[3000,"Go away!"] and the close
// (cause "shutdown:<reasonCode>").
func (s *Server) Shutdown(reasonCode, reason string) {
	for _, c := range s.connList() {
		c.shutdown(reasonCode, reason)
	}
}

// shutdown sends the shutdown event and closes c.
func (c *conn) shutdown(reasonCode, reason string) {
	b := []byte(`{"e":"shutdown","d":{"reasonCode":`)
	b = appendString(b, reasonCode)
	if reason != "" {
		b = append(b, `,"reason":`...)
		b = appendString(b, reason)
	}
	b = append(b, "}}"...)
	c.send(b)
	c.sendClose(CloseCode, "Go away!", EndShutdownPrefix+reasonCode)
}

// Malformed sends one malformed frame of kind (MalformedJSON,
// MalformedLetter, MalformedTruncated) on every connection; the
// connection stays open.
func (s *Server) Malformed(kind string) error {
	f := malformedFrame(kind)
	if f == nil {
		return fmt.Errorf("send malformed frame: unknown kind %q", kind)
	}
	for _, c := range s.connList() {
		c.sendRaw(f)
	}
	return nil
}

// ExpireTokens makes every issued token expire now. Authorized sockets
// follow Rules.TokenExpiry before it returns: kept, silenced (no md data
// is queued from then on) or cut.
func (s *Server) ExpireTokens() {
	now := time.Now()
	s.auth.expireAll(now)
	for _, c := range s.connList() {
		c.mu.Lock()
		sess := c.sess
		c.mu.Unlock()
		if sess == nil {
			continue
		}
		if cause := c.tokenRule(sess, now); cause != "" {
			c.end(cause)
		}
	}
}

// PenalizeAuth makes the next n access-token requests get a p-ticket
// (p-time Config.PenaltyWait) instead of an answer.
func (s *Server) PenalizeAuth(n int) { s.auth.penalize(n) }

// checkFault validates a scheduled fault.
func checkFault(f Fault) error {
	switch f.Kind {
	case FaultDrop, FaultClose, FaultShutdown, FaultExpireToken, FaultPenalty:
	case FaultStall:
		if f.Duration <= 0 {
			return fmt.Errorf("check stall fault: duration must be > 0")
		}
	case FaultMalformed:
		if malformedFrame(f.Reason) == nil {
			return fmt.Errorf("check malformed fault: unknown kind %q", f.Reason)
		}
	default:
		return fmt.Errorf("check fault: unknown kind %q", f.Kind)
	}
	if f.Every < 0 {
		return fmt.Errorf("check %s fault: negative period", f.Kind)
	}
	if f.Every == 0 && len(f.At) == 0 {
		return fmt.Errorf("check %s fault: neither a period nor times given", f.Kind)
	}
	return nil
}

// inject applies fault f now.
func (s *Server) inject(f Fault) {
	s.log.Info().Str("fault", string(f.Kind)).Msg("injecting fault")
	switch f.Kind {
	case FaultDrop:
		s.DropAll()
	case FaultStall:
		s.Stall(f.Duration)
	case FaultClose:
		code, text := f.Code, f.Reason
		if code == 0 {
			code = CloseCode
		}
		if text == "" {
			text = "Go away!"
		}
		s.CloseAll(code, text)
	case FaultShutdown:
		code := f.Reason
		if code == "" {
			code = ShutdownMaintenance
		}
		s.Shutdown(code, "")
	case FaultMalformed:
		_ = s.Malformed(f.Reason)
	case FaultExpireToken:
		s.ExpireTokens()
	case FaultPenalty:
		s.PenalizeRequests(max(f.Code, 1))
	}
}

// schedule runs fault f at its times and period until Close.
func (s *Server) schedule(f Fault) {
	defer s.wg.Done()
	at := append([]time.Duration(nil), f.At...)
	slices.Sort(at)
	var tick <-chan time.Time
	if f.Every > 0 {
		t := time.NewTicker(f.Every)
		defer t.Stop()
		tick = t.C
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var next <-chan time.Time
		if len(at) > 0 {
			timer.Reset(max(time.Until(s.start.Add(at[0])), 0))
			next = timer.C
		} else if tick == nil {
			return
		}
		select {
		case <-s.ctx.Done():
			return
		case <-tick:
			s.inject(f)
		case <-next:
			at = at[1:]
			s.inject(f)
		}
	}
}
