package capture

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/schema"
)

// writer is the one goroutine that owns the sink. It turns chunks into
// schema rows (reusing one row of each table), numbers them, writes them,
// rolls files, logs the status line, and records write failures as gaps.
type writer struct {
	p    *Pipeline
	sink Sink
	n    int // number of symbols

	seqQuotes, seqDOM []int64 // per symbol, last seq written

	// lastRecv is, per symbol, the receive time of the newest row written
	// from the current chunk (0: none); touched lists those symbols. The
	// lastUpdate metric is set from them once per chunk, not per row.
	lastRecv []int64
	touched  []int32

	q     schema.Quote
	qv    [12]float64 // backing store of q's nullable fields
	d     schema.DOM
	dvals []float64 // backing store of d's list elements

	// write failures
	errFirst     []int64 // per symbol: receive time of the first row lost to a write error
	errLast      []int64
	errRows      []int64
	errTables    []uint8
	failingSince time.Time // first failure of the current streak (monotonic), zero when writes work
	// refusedSinceRoll: a write failed since the last roll, so a roll
	// that succeeds (it may have had nothing to write) ends no streak.
	refusedSinceRoll bool
	lastErrLog       time.Time
	errStreak        int64
	fatal            error

	// hurried drain
	hurried   bool
	skipFirst []int64
	skipLast  []int64
	skipRows  []int64

	// status line
	rows     [schema.NumTables]int64
	lastRows [schema.NumTables]int64
	lastAt   time.Time
}

func newWriter(p *Pipeline) *writer {
	n := len(p.cfg.Symbols)
	return &writer{
		p: p, sink: p.sink, n: n,
		seqQuotes: make([]int64, n), seqDOM: make([]int64, n), lastRecv: make([]int64, n),
		errFirst: make([]int64, n), errLast: make([]int64, n), errRows: make([]int64, n), errTables: make([]uint8, n),
		skipFirst: make([]int64, n), skipLast: make([]int64, n), skipRows: make([]int64, n),
	}
}

// run drains the queue until it is closed, then closes the sink. On a fatal
// write error it calls stopSource and keeps draining (discarding) so that
// the pipeline never blocks.
func (w *writer) run(stopSource context.CancelFunc) error {
	p := w.p
	roll := time.NewTicker(p.cfg.RollEvery)
	defer roll.Stop()
	var status <-chan time.Time
	if p.cfg.StatusEvery > 0 {
		t := time.NewTicker(p.cfg.StatusEvery)
		defer t.Stop()
		status = t.C
	}
	w.lastAt = time.Now()
	for {
		var held *chunk
		if len(p.queue) == 0 { // only then the reader's held chunk is the oldest data
			held = p.takeHeld() // nil: marks the writer idle, so the reader sends at once
		}
		if held != nil {
			w.chunk(held)
			if w.fatal != nil {
				stopSource()
			}
			select { // keep the tickers served under load
			case <-roll.C:
				w.roll()
			case <-status:
				w.status()
			default:
			}
			continue
		}
		select {
		case c, ok := <-p.queue:
			if !ok {
				return w.close()
			}
			w.chunk(c)
			if w.fatal != nil {
				stopSource()
			}
		case <-roll.C:
			w.roll()
		case <-status:
			w.status()
		}
	}
}

// roll asks the sink to finalise old files.
func (w *writer) roll() {
	if w.fatal != nil {
		return
	}
	if err := w.sink.Roll(w.p.cfg.Now()); err != nil {
		w.failed(err, "roll files")
	} else if !w.refusedSinceRoll {
		w.succeeded()
	}
	w.refusedSinceRoll = false
}

func (w *writer) chunk(c *chunk) {
	p := w.p
	n := c.records()
	if n == 0 {
		p.eventsQueued.Add(-1)
	}
	if !w.hurried && p.cfg.Hurry != nil {
		select {
		case <-p.cfg.Hurry:
			w.hurried = true
			p.log.Warn().Msg("hurried stop: skipping the buffered data (recorded as gaps)")
		default:
		}
	}
	if w.fatal == nil {
		for i := range c.events {
			e := &c.events[i]
			w.writeEvent(e.sym, &e.ev)
		}
		if w.hurried {
			w.skip(c)
		} else {
			w.quotes(c)
			w.doms(c)
			w.publishLast()
		}
	} else {
		p.m.dropped.WithLabelValues(schema.ReasonWriteError).Add(float64(n))
	}
	if n > 0 {
		p.inflight.Add(-int64(n))
		p.freed()
	}
	p.free.put(c)
}

func (w *writer) writeEvent(sym int32, e *schema.Event) {
	if err := w.sink.WriteEvent(w.p.cfg.Symbols[sym], e); err != nil {
		w.failed(err, "write event")
		return
	}
	w.succeeded()
	w.rows[schema.TableEvents]++
	w.p.m.rows.events.Inc()
}

func (w *writer) quotes(c *chunk) {
	if len(c.quotes) == 0 {
		return
	}
	p := w.p
	q := &w.q
	written := 0
	for i := range c.quotes {
		r := &c.quotes[i]
		w.fillQuote(c, r)
		w.seqQuotes[r.sym]++
		q.Seq = w.seqQuotes[r.sym]
		sym := p.cfg.Symbols[r.sym]
		if err := w.sink.WriteQuote(sym, q); err != nil {
			w.seqQuotes[r.sym]--
			w.lost(r.sym, r.recv, bitQuotes)
			w.failed(err, "write quote")
			continue
		}
		w.recovered(r.sym, r.recv)
		written++
		w.wrote(r.sym, r.recv)
	}
	w.rows[schema.TableQuotes] += int64(written)
	p.m.rows.quotes.Add(float64(written))
}

func (w *writer) fillQuote(c *chunk, r *quoteRec) {
	f := &r.q
	q, v := &w.q, &w.qv
	q.RecvTS, q.TS, q.ContractID, q.ConnID = r.recv, f.Timestamp, f.ContractID, c.conn
	set := func(dst **float64, slot int, flag uint16, val float64) {
		if f.Has&flag == 0 {
			*dst = nil
			return
		}
		v[slot] = val
		*dst = &v[slot]
	}
	set(&q.BidPrice, 0, feed.HasBid, f.Bid)
	set(&q.BidSize, 1, feed.HasBidSize, f.BidSize)
	set(&q.AskPrice, 2, feed.HasAsk, f.Ask)
	set(&q.AskSize, 3, feed.HasAskSize, f.AskSize)
	set(&q.TradePrice, 4, feed.HasTrade, f.Trade)
	set(&q.TradeSize, 5, feed.HasTradeSize, f.TradeSize)
	set(&q.TotalVolume, 6, feed.HasTotalVolume, f.TotalVol)
	set(&q.OpenInterest, 7, feed.HasOpenInterest, f.OpenInt)
	set(&q.OpenPrice, 8, feed.HasOpen, f.Open)
	set(&q.HighPrice, 9, feed.HasHigh, f.High)
	set(&q.LowPrice, 10, feed.HasLow, f.Low)
	set(&q.SettlementPrice, 11, feed.HasSettlement, f.Settlement)
}

func (w *writer) doms(c *chunk) {
	if len(c.doms) == 0 {
		return
	}
	p := w.p
	d := &w.d
	written := 0
	for i := range c.doms {
		r := &c.doms[i]
		d.RecvTS, d.TS, d.ContractID, d.ConnID = r.recv, r.ts, r.contractID, c.conn
		levels := c.levels[r.off : r.off+r.bids+r.offs]
		w.fillSides(levels[:r.bids], levels[r.bids:])
		w.seqDOM[r.sym]++
		d.Seq = w.seqDOM[r.sym]
		if err := w.sink.WriteDOM(p.cfg.Symbols[r.sym], d); err != nil {
			w.seqDOM[r.sym]--
			w.lost(r.sym, r.recv, bitDOM)
			w.failed(err, "write dom")
			continue
		}
		w.recovered(r.sym, r.recv)
		written++
		w.wrote(r.sym, r.recv)
	}
	w.rows[schema.TableDOM] += int64(written)
	p.m.rows.dom.Add(float64(written))
}

// wrote notes that a row of sym received at recv was written.
func (w *writer) wrote(sym int32, recv int64) {
	if last := w.lastRecv[sym]; recv > last {
		if last == 0 {
			w.touched = append(w.touched, sym)
		}
		w.lastRecv[sym] = recv
	}
}

// publishLast sets the lastUpdate metric of the symbols the chunk wrote.
func (w *writer) publishLast() {
	for _, sym := range w.touched {
		w.p.m.lastUpdate[sym].Store(w.lastRecv[sym])
		w.lastRecv[sym] = 0
	}
	w.touched = w.touched[:0]
}

// fillSides points the DOM row's lists at reused memory; an omitted value
// becomes a NULL element, an empty side an empty list.
func (w *writer) fillSides(bids, offers []feed.Level) {
	need := 2 * (len(bids) + len(offers))
	if cap(w.dvals) < need {
		w.dvals = make([]float64, need, need*2)
	}
	vals := w.dvals[:need]
	d := &w.d
	d.BidPrices, d.BidSizes = fillSide(d.BidPrices[:0], d.BidSizes[:0], bids, vals[:2*len(bids)])
	d.AskPrices, d.AskSizes = fillSide(d.AskPrices[:0], d.AskSizes[:0], offers, vals[2*len(bids):])
}

func fillSide(prices, sizes []*float64, levels []feed.Level, vals []float64) ([]*float64, []*float64) {
	if prices == nil {
		prices, sizes = []*float64{}, []*float64{}
	}
	for i, l := range levels {
		var pp, sp *float64
		if l.HasPrice {
			vals[2*i] = l.Price
			pp = &vals[2*i]
		}
		if l.HasSize {
			vals[2*i+1] = l.Size
			sp = &vals[2*i+1]
		}
		prices = append(prices, pp)
		sizes = append(sizes, sp)
	}
	return prices, sizes
}

// skip accounts for data left behind by a hurried stop.
func (w *writer) skip(c *chunk) {
	mark := func(sym int32, recv int64) {
		if w.skipFirst[sym] == 0 {
			w.skipFirst[sym] = recv
		}
		w.skipLast[sym] = recv
		w.skipRows[sym]++
	}
	for i := range c.quotes {
		mark(c.quotes[i].sym, c.quotes[i].recv)
	}
	for i := range c.doms {
		mark(c.doms[i].sym, c.doms[i].recv)
	}
	w.p.m.dropped.WithLabelValues(schema.ReasonUserStop).Add(float64(c.records()))
}

// lost remembers a data row that a write error kept out of the dataset.
func (w *writer) lost(sym int32, recv int64, table uint8) {
	if w.errFirst[sym] == 0 {
		w.errFirst[sym] = recv
	}
	w.errLast[sym] = recv
	w.errRows[sym]++
	w.errTables[sym] |= table
	w.p.m.dropped.WithLabelValues(schema.ReasonWriteError).Inc()
}

// recovered writes the write_error gap of sym once one of its rows was
// written again: from the first lost row to this one.
func (w *writer) recovered(sym int32, recv int64) {
	w.succeeded()
	if w.errFirst[sym] == 0 {
		return
	}
	w.writeErrorGap(sym, recv)
}

func (w *writer) writeErrorGap(sym int32, end int64) {
	e := schema.Event{
		RecvTS: end, RunID: w.p.cfg.RunID, Kind: schema.KindGap,
		GapStart: ptr(w.errFirst[sym]), GapEnd: ptr(end), Reason: schema.ReasonWriteError,
		Detail: detailJSON(map[string]any{"tables": tableNames(w.errTables[sym]), "dropped": w.errRows[sym]}, nil),
	}
	if err := w.sink.WriteEvent(w.p.cfg.Symbols[sym], &e); err != nil {
		w.failed(err, "write gap")
		return
	}
	w.p.m.gaps.WithLabelValues(schema.ReasonWriteError).Inc()
	w.rows[schema.TableEvents]++
	w.errFirst[sym], w.errLast[sym], w.errRows[sym], w.errTables[sym] = 0, 0, 0, 0
}

func (w *writer) succeeded() {
	if !w.failingSince.IsZero() {
		w.p.log.Info().Int64("failed_writes", w.errStreak).Msg("writes work again")
	}
	w.failingSince = time.Time{}
	w.errStreak = 0
}

// failed logs (rate-limited) and counts a write failure, and turns a
// streak longer than WriteErrorLimit into the fatal error.
func (w *writer) failed(err error, op string) {
	p := w.p
	p.m.writeErrors.Inc()
	now := time.Now()
	w.errStreak++
	w.refusedSinceRoll = true
	if w.failingSince.IsZero() {
		w.failingSince = now
	}
	if now.Sub(w.lastErrLog) >= 10*time.Second || w.errStreak == 1 {
		w.lastErrLog = now
		p.log.Error().Err(err).Str("op", op).Int64("consecutive_errors", w.errStreak).Msg("storage write failed")
	}
	if w.fatal == nil && now.Sub(w.failingSince) >= p.cfg.WriteErrorLimit {
		w.fatal = fmt.Errorf("write dataset: failing for %v: %w", now.Sub(w.failingSince).Round(time.Millisecond), err)
		p.log.Error().Err(w.fatal).Msg("giving up: storage keeps failing")
	}
}

// close writes the gaps still owed (write errors, hurried drain) and
// finalises every file.
func (w *writer) close() error {
	p := w.p
	end := p.now()
	if w.fatal == nil {
		for i := 0; i < w.n; i++ {
			sym := int32(i)
			if w.errFirst[i] != 0 {
				w.writeErrorGap(sym, max(end, w.errLast[i]))
			}
			if w.skipFirst[i] != 0 {
				e := schema.Event{
					RecvTS: end, RunID: p.cfg.RunID, Kind: schema.KindGap,
					GapStart: ptr(w.skipFirst[i]), GapEnd: ptr(max(end, w.skipLast[i])), Reason: schema.ReasonUserStop,
					Detail: detailJSON(map[string]any{"tables": tableNames(p.dropTables), "dropped": w.skipRows[i], "hurried": true}, nil),
				}
				w.writeEvent(sym, &e)
				p.m.gaps.WithLabelValues(schema.ReasonUserStop).Inc()
			}
		}
	}
	w.status()
	if err := w.sink.Close(); err != nil {
		return errors.Join(w.fatal, fmt.Errorf("close dataset: %w", err))
	}
	return w.fatal
}

// status logs the one-line status: rows and rates since the last line,
// gaps, and buffer fill.
func (w *writer) status() {
	p := w.p
	now := time.Now()
	secs := now.Sub(w.lastAt).Seconds()
	if secs <= 0 {
		secs = 1
	}
	rate := func(t schema.Table) float64 { return float64(w.rows[t]-w.lastRows[t]) / secs }
	fill := p.inflight.Load()
	p.log.Info().
		Int64("quotes", w.rows[schema.TableQuotes]).Float64("quotes_per_s", rate(schema.TableQuotes)).
		Int64("dom", w.rows[schema.TableDOM]).Float64("dom_per_s", rate(schema.TableDOM)).
		Int64("events", w.rows[schema.TableEvents]).
		Int64("gaps", p.m.gapCount()).Int64("dropped", p.m.droppedCount()).
		Int64("buffer", fill).Float64("buffer_fill", float64(fill)/float64(p.cfg.Buffer)).
		Msg("status")
	w.lastRows = w.rows
	w.lastAt = now
}
