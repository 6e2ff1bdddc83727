package capture_test

import (
	"errors"
	"sync"
	"time"

	"github.com/mdcap/mdcap/schema"
)

// memSink is a Sink keeping copies of every row, with a gate that can stall
// data writes and a switch that makes them fail.
type memSink struct {
	mu      sync.Mutex
	cond    *sync.Cond
	quotes  map[string][]schema.Quote
	doms    map[string][]schema.DOM
	events  map[string][]schema.Event
	gate    chan struct{} // data writes wait until it is closed (nil: no wait)
	failing bool          // data writes fail while set
	closed  bool
	rolls   int
}

func newMemSink() *memSink {
	s := &memSink{quotes: map[string][]schema.Quote{}, doms: map[string][]schema.DOM{}, events: map[string][]schema.Event{}}
	s.cond = sync.NewCond(&s.mu)
	return s
}

var errDisk = errors.New("disk says no")

func (s *memSink) waitGate() error {
	s.mu.Lock()
	g := s.gate
	s.mu.Unlock()
	if g != nil {
		<-g
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return errDisk
	}
	return nil
}

func (s *memSink) WriteQuote(sym string, r *schema.Quote) error {
	if err := s.waitGate(); err != nil {
		return err
	}
	c := *r
	for _, p := range []**float64{&c.BidPrice, &c.BidSize, &c.AskPrice, &c.AskSize, &c.TradePrice, &c.TradeSize,
		&c.TotalVolume, &c.OpenInterest, &c.OpenPrice, &c.HighPrice, &c.LowPrice, &c.SettlementPrice} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	s.mu.Lock()
	s.quotes[sym] = append(s.quotes[sym], c)
	s.cond.Broadcast()
	s.mu.Unlock()
	return nil
}

func copyList(l []*float64) []*float64 {
	out := make([]*float64, len(l))
	for i, p := range l {
		if p != nil {
			v := *p
			out[i] = &v
		}
	}
	return out
}

func (s *memSink) WriteDOM(sym string, r *schema.DOM) error {
	if err := s.waitGate(); err != nil {
		return err
	}
	c := *r
	c.BidPrices, c.BidSizes = copyList(r.BidPrices), copyList(r.BidSizes)
	c.AskPrices, c.AskSizes = copyList(r.AskPrices), copyList(r.AskSizes)
	s.mu.Lock()
	s.doms[sym] = append(s.doms[sym], c)
	s.cond.Broadcast()
	s.mu.Unlock()
	return nil
}

func (s *memSink) WriteEvent(sym string, r *schema.Event) error {
	c := *r
	s.mu.Lock()
	s.events[sym] = append(s.events[sym], c)
	s.cond.Broadcast()
	s.mu.Unlock()
	return nil
}

func (s *memSink) Roll(time.Time) error {
	s.mu.Lock()
	s.rolls++
	s.mu.Unlock()
	return nil
}

func (s *memSink) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// waitRows blocks until cond holds.
func (s *memSink) waitFor(cond func(*memSink) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !cond(s) {
		s.cond.Wait()
	}
}

func (s *memSink) nQuotes() int {
	n := 0
	for _, q := range s.quotes {
		n += len(q)
	}
	return n
}

func (s *memSink) kinds(sym, kind string) []schema.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []schema.Event
	for _, e := range s.events[sym] {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}
