package sim

import (
	"strconv"
	"sync"
	"time"
)

// wsPenalties issues p-tickets for WebSocket requests: a penalised request
// is answered 200 with d {"p-ticket","p-time"} instead of being served,
// and the same request carrying "p-ticket" in its body is served once the
// wait is over. Safe for concurrent use.
type wsPenalties struct {
	wait time.Duration

	mu      sync.Mutex
	forced  int
	tickets map[string]time.Time // ticket → not before
}

// check decides about a request carrying ticket (may be empty) at now. It
// returns the penalty body to answer with, or nil to serve the request.
func (p *wsPenalties) check(ticket string, now time.Time) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ticket != "" {
		if until, ok := p.tickets[ticket]; ok {
			if now.Before(until) {
				return penaltyBody(ticket, until.Sub(now))
			}
			delete(p.tickets, ticket)
			return nil
		}
	}
	if p.forced == 0 {
		return nil
	}
	p.forced--
	t := newToken("wpt-")
	if p.tickets == nil {
		p.tickets = make(map[string]time.Time)
	}
	p.tickets[t] = now.Add(p.wait)
	return penaltyBody(t, p.wait)
}

// penaltyBody builds {"p-ticket":ticket,"p-time":seconds}.
func penaltyBody(ticket string, wait time.Duration) []byte {
	b := []byte(`{"p-ticket":`)
	b = appendString(b, ticket)
	b = append(b, `,"p-time":`...)
	b = strconv.AppendInt(b, int64((wait+time.Second-1)/time.Second), 10)
	return append(b, '}')
}

// PenalizeRequests makes the next n md/subscribe* requests on any socket
// get a p-ticket response (p-time Config.PenaltyWait) instead of being
// served; the request retried with "p-ticket" in its body after the wait
// is served.
func (s *Server) PenalizeRequests(n int) {
	s.wsPen.mu.Lock()
	defer s.wsPen.mu.Unlock()
	s.wsPen.forced += n
}
