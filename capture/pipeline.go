// Package capture is the pipeline between the feed and storage: it turns
// the feed's batches into schema rows and its lifecycle into events rows
// (with the gap accounting of CONTRACT.md), passes them through a bounded
// queue the socket reader never waits on, and lets one writer goroutine put
// them into a Sink (the dataset).
package capture

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/schema"
)

// eventSlack is how many events-only chunks may wait in the queue on top of
// the --buffer data records; more wait in the pipeline and ride along with
// the next chunk.
const eventSlack = 256

// Pipeline implements feed.Handler. HandleBatch and HandleEvent run on the
// feed's reader goroutine and never block; Run owns the writer goroutine.
type Pipeline struct {
	cfg  Config
	log  zerolog.Logger
	sink Sink
	m    *metrics

	queue    chan *chunk
	free     chunkPool
	inflight atomic.Int64 // data records in the queue
	waiting  atomic.Bool  // the reader waits for room (see waitRoom)
	room     chan struct{}

	// The reader coalesces frames into a held chunk while the writer is
	// busy; the writer takes it when the queue is empty.
	heldMu       sync.Mutex
	held         *chunk       // data not yet queued (its records count in inflight)
	writerIdle   bool         // the writer found nothing: send at once
	eventsQueued atomic.Int64 // events-only chunks in the queue
	tokenExpiry  atomic.Int64 // Unix ns, 0 unknown

	// Reader-side state: touched only by the goroutine calling the Handler
	// methods (and by Run once the source has returned).
	symIdx     map[string]int32
	byContract map[int64]int32
	syms       []symState
	liveConns  map[int64]bool
	pending    *chunk // events waiting for room in the queue
	fullTimer  *time.Timer
	ov         overflow
	unknown    map[int64]int64 // rows of unmapped contract ids
	dropTables uint8           // tables a connection drop concerns
	running    bool
}

// symState is the gap accounting of one symbol.
type symState struct {
	conn        int64 // connection serving the symbol, 0 when none
	gapOpen     bool  // a drop gap waits for the symbol's first update
	gapStart    int64
	gapReason   string
	gapConn     int64
	gapDetail   map[string]any // extra detail of the open gap
	downPending bool           // disconnect written, reconnect not yet
	ovFirst     int64
	ovRows      int64
	ovTables    uint8
}

// overflow is the state of one buffer-full episode.
type overflow struct {
	active bool
	first  int64 // receive time of the first lost frame
	rows   int64
}

// New builds a pipeline writing into sink. It writes nothing until Run.
func New(cfg Config, sink Sink) (*Pipeline, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, errors.New("capture: nil sink")
	}
	p := &Pipeline{
		cfg:        cfg,
		log:        cfg.Logger,
		sink:       sink,
		queue:      make(chan *chunk, cfg.Buffer+eventSlack),
		room:       make(chan struct{}, 1),
		free:       make(chunkPool, min(maxFreeChunks, cfg.Buffer)),
		symIdx:     make(map[string]int32, len(cfg.Symbols)),
		byContract: make(map[int64]int32, len(cfg.Symbols)),
		syms:       make([]symState, len(cfg.Symbols)),
		liveConns:  make(map[int64]bool),
		unknown:    make(map[int64]int64),
		dropTables: bitQuotes,
	}
	if cfg.DOM {
		p.dropTables |= bitDOM
	}
	for i, s := range cfg.Symbols {
		p.symIdx[s] = int32(i)
	}
	m, err := newMetrics(p)
	if err != nil {
		return nil, err
	}
	p.m = m
	return p, nil
}

// Source runs the feed, delivering into h, until ctx is cancelled (then it
// returns nil) or a permanent error. feed.(*Session).Run has this shape once
// bound to its handler.
type Source func(ctx context.Context, h feed.Handler) error

// Run writes the start rows, runs source with the pipeline as its handler
// and the writer goroutine beside it, and when source returns closes the
// open gaps, writes the stop rows, drains the queue, and closes the sink.
// Cancelling ctx stops the source; close Config.Hurry to cut the drain
// short. A fatal write error stops the source and is returned, as is a
// source error. Run may be called once.
func (p *Pipeline) Run(ctx context.Context, source Source) error {
	if p.running {
		return errors.New("capture: Run called twice")
	}
	p.running = true
	start := p.now()
	p.emitAll(start, schema.KindStart, "", 0, detailJSON(p.cfg.StartDetail, map[string]any{"symbols": p.cfg.Symbols}))
	p.openRecovered()
	p.flushEvents()

	srcCtx, cancelSrc := context.WithCancel(ctx)
	defer cancelSrc()
	w := newWriter(p)
	writerDone := make(chan error, 1)
	go func() { writerDone <- w.run(cancelSrc) }()

	srcErr := source(srcCtx, p)
	p.flushHeld()

	stop := p.now()
	reason, detail := schema.ReasonUserStop, map[string]any{}
	if srcErr != nil {
		reason = "error"
		detail["error"] = srcErr.Error()
	} else if cause := context.Cause(ctx); cause != nil {
		detail["cause"] = cause.Error()
	}
	p.finish(stop, reason, detail)
	if c := p.pending; c != nil {
		p.pending = nil
		p.eventsQueued.Add(1)
		p.queue <- c // the writer drains until the queue is closed
	}
	close(p.queue)
	werr := <-writerDone
	if srcErr != nil {
		return errors.Join(fmt.Errorf("run feed: %w", srcErr), werr)
	}
	return werr
}

// openRecovered opens the crash_recovery gaps of a dead previous run; each
// closes at the first new row of its symbol, like a drop gap.
func (p *Pipeline) openRecovered() {
	for _, r := range p.cfg.Recovered {
		sym, ok := p.symIdx[r.Symbol]
		if !ok {
			continue
		}
		s := &p.syms[sym]
		s.gapOpen, s.gapStart, s.gapReason, s.gapConn = true, r.Start, schema.ReasonCrashRecovery, 0
		s.gapDetail = r.Detail
		p.log.Warn().Str("symbol", r.Symbol).Time("since", time.Unix(0, r.Start)).Interface("detail", r.Detail).
			Msg("a previous run died without stopping: its loss is recorded as a crash_recovery gap")
	}
}

// finish closes every open gap and overflow at the stop time and queues
// the stop rows (the pending chunk is sent by Run).
func (p *Pipeline) finish(stop int64, reason string, detail map[string]any) {
	if p.ov.active {
		p.endOverflow(p.pendingChunk(), stop)
	}
	for i := range p.syms {
		s := &p.syms[i]
		if s.gapOpen {
			p.emitGap(p.pendingChunk(), int32(i), s.gapStart, stop, s.gapReason, s.gapConn,
				merge(s.gapDetail, map[string]any{"tables": tableNames(p.dropTables), "closed_by": "stop"}))
			s.gapOpen, s.gapDetail = false, nil
		}
	}
	for contract, rows := range p.unknown {
		p.log.Warn().Int64("contract_id", contract).Int64("rows", rows).Msg("data for a contract no symbol maps to was not stored")
	}
	p.emitAll(stop, schema.KindStop, reason, 0, detailJSON(detail, nil))
}

func (p *Pipeline) now() int64 { return p.cfg.Now().UnixNano() }

// Buffered returns the number of data records waiting for the writer.
// Safe to call from any goroutine.
func (p *Pipeline) Buffered() int { return int(p.inflight.Load()) }

// HandleBatch implements feed.Handler: it copies the frame's updates into a
// chunk and queues it, or, when the queue is full, drops them and accounts
// for the loss.
func (p *Pipeline) HandleBatch(b *feed.Batch) {
	n := len(b.Quotes) + len(b.DOMs)
	if n == 0 {
		return
	}
	p.m.frames.Inc()
	if p.inflight.Load()+int64(n) > int64(p.cfg.Buffer) && (p.ov.active || !p.waitRoom(int64(n))) {
		p.dropBatch(b)
		return
	}
	if p.pending == nil && !p.ov.active && p.addToHeld(b) {
		return
	}
	c := p.pending
	p.pending = nil
	if c != nil {
		p.flushHeld() // events go after the data received before them
	}
	p.heldMu.Lock()
	if h := p.held; c == nil && h != nil && h.conn == b.ConnID && h.records() < maxCoalesce {
		c, p.held = h, nil
	}
	p.heldMu.Unlock()
	if c == nil {
		c = p.free.get()
		c.recv, c.conn = b.RecvTime, b.ConnID
	} else if c.records() == 0 {
		c.recv, c.conn = b.RecvTime, b.ConnID
	}
	if p.ov.active {
		p.endOverflow(c, b.RecvTime)
	}
	p.inflight.Add(int64(p.add(c, b)))
	p.hold(c)
}

// addToHeld appends b to the held chunk under one lock, when there is one
// of b's connection with room: the common case while the writer is busy.
// A chunk that reaches maxCoalesce is queued.
func (p *Pipeline) addToHeld(b *feed.Batch) bool {
	p.heldMu.Lock()
	c := p.held
	if c == nil || c.conn != b.ConnID || c.records() >= maxCoalesce {
		p.heldMu.Unlock()
		return false
	}
	p.inflight.Add(int64(p.add(c, b)))
	if c.records() < maxCoalesce {
		p.heldMu.Unlock()
		return true
	}
	p.held = nil
	p.heldMu.Unlock()
	p.send(c)
	return true
}

// add copies the updates of b into chunk c, closing the gaps their first
// update ends, and returns how many records it added.
func (p *Pipeline) add(c *chunk, b *feed.Batch) int {
	before := c.records()
	for i := range b.Quotes {
		q := &b.Quotes[i]
		sym, ok := p.lookup(q.ContractID)
		if !ok {
			continue
		}
		if p.syms[sym].gapOpen {
			p.closeGap(c, sym, b.RecvTime)
		}
		c.quotes = append(c.quotes, quoteRec{sym: sym, recv: b.RecvTime, q: *q})
	}
	for i := range b.DOMs {
		d := &b.DOMs[i]
		sym, ok := p.lookup(d.ContractID)
		if !ok {
			continue
		}
		if p.syms[sym].gapOpen {
			p.closeGap(c, sym, b.RecvTime)
		}
		c.doms = append(c.doms, domRec{
			sym: sym, recv: b.RecvTime, contractID: d.ContractID, ts: d.Timestamp,
			bids: int32(len(d.Bids)), offs: int32(len(d.Offers)), off: int32(len(c.levels)),
		})
		c.levels = append(c.levels, d.Bids...)
		c.levels = append(c.levels, d.Offers...)
	}
	return c.records() - before
}

// maxCoalesce bounds the records the reader gathers in one held chunk.
const maxCoalesce = 1024

// hold keeps data chunk c for more frames while the writer is busy, or
// queues it when the writer is idle, it is large, or a held chunk of
// another connection is in the way.
func (p *Pipeline) hold(c *chunk) {
	if c.records() == 0 { // only events (or nothing): the events path
		p.send(c)
		return
	}
	p.heldMu.Lock()
	if p.held != nil || p.writerIdle || c.records() >= maxCoalesce {
		old := p.held
		p.held = nil
		p.writerIdle = false
		p.heldMu.Unlock()
		if old != nil {
			p.send(old)
		}
		p.send(c)
		return
	}
	p.held = c
	p.heldMu.Unlock()
}

// takeHeld hands the held chunk to the writer; when there is none it marks
// the writer idle, so that the reader queues its next frame at once.
func (p *Pipeline) takeHeld() *chunk {
	p.heldMu.Lock()
	defer p.heldMu.Unlock()
	c := p.held
	p.held = nil
	p.writerIdle = c == nil
	return c
}

// flushHeld queues the held chunk, if any.
func (p *Pipeline) flushHeld() {
	p.heldMu.Lock()
	c := p.held
	p.held = nil
	p.heldMu.Unlock()
	if c != nil {
		p.send(c)
	}
}

// waitRoom waits up to FullWait for the queue to take n more records.
func (p *Pipeline) waitRoom(n int64) bool {
	if p.cfg.FullWait <= 0 {
		return false
	}
	if p.fullTimer == nil {
		p.fullTimer = time.NewTimer(p.cfg.FullWait)
	} else {
		p.fullTimer.Reset(p.cfg.FullWait)
	}
	defer p.fullTimer.Stop()
	defer p.waiting.Store(false)
	p.m.fullWaits.Inc()
	for {
		p.waiting.Store(true) // before the check: the writer signals after it frees room
		if p.inflight.Load()+n <= int64(p.cfg.Buffer) {
			return true
		}
		select {
		case <-p.room:
		case <-p.fullTimer.C:
			return false
		}
	}
}

// freed is called by the writer after it took records out of the queue:
// it wakes a waiting reader once a quarter of the buffer is free, so the
// reader is not woken for every chunk.
func (p *Pipeline) freed() {
	if !p.waiting.Load() || p.inflight.Load() > int64(p.cfg.Buffer)*3/4 {
		return
	}
	select {
	case p.room <- struct{}{}:
	default:
	}
}

func (p *Pipeline) lookup(contract int64) (int32, bool) {
	sym, ok := p.byContract[contract]
	if !ok {
		if p.unknown[contract] == 0 {
			p.log.Warn().Int64("contract_id", contract).Msg("update for a contract no configured symbol maps to")
			p.emitAll(p.now(), schema.KindAnomaly, "unknown_contract", 0,
				detailJSON(map[string]any{"contract_id": contract}, nil))
			p.m.anomalies.Inc()
		}
		p.unknown[contract]++
	}
	return sym, ok
}

// send queues c. A chunk with data always fits (inflight ≤ Buffer); an
// events-only chunk waits in pending when the slack is used up.
func (p *Pipeline) send(c *chunk) {
	n := c.records()
	if n == 0 {
		if len(c.events) == 0 {
			p.free.put(c)
			return
		}
		if p.eventsQueued.Load() >= eventSlack {
			p.pending = c
			return
		}
		p.flushHeld() // the data received before these events goes first
		p.eventsQueued.Add(1)
	}
	// Data records were counted in inflight when they were added.
	p.queue <- c // cannot block: see the capacity accounting above
}

// flushEvents queues the pending events, if the slack allows.
func (p *Pipeline) flushEvents() {
	if c := p.pending; c != nil {
		p.pending = nil
		p.send(c)
	}
}

func (p *Pipeline) pendingChunk() *chunk {
	if p.pending == nil {
		p.pending = p.free.get()
	}
	return p.pending
}

// dropBatch accounts for a frame that did not fit in the queue.
func (p *Pipeline) dropBatch(b *feed.Batch) {
	if !p.ov.active {
		p.ov = overflow{active: true, first: b.RecvTime}
		p.log.Warn().Int("buffer", p.cfg.Buffer).Msg("buffer full: dropping updates until the writer catches up")
	}
	for i := range b.Quotes {
		if sym, ok := p.byContract[b.Quotes[i].ContractID]; ok {
			p.lose(sym, b.RecvTime, bitQuotes)
		}
	}
	for i := range b.DOMs {
		if sym, ok := p.byContract[b.DOMs[i].ContractID]; ok {
			p.lose(sym, b.RecvTime, bitDOM)
		}
	}
	n := int64(len(b.Quotes) + len(b.DOMs))
	p.ov.rows += n
	p.m.dropped.WithLabelValues(schema.ReasonBufferFull).Add(float64(n))
}

func (p *Pipeline) lose(sym int32, recv int64, table uint8) {
	s := &p.syms[sym]
	if s.ovFirst == 0 {
		s.ovFirst = recv
	}
	s.ovRows++
	s.ovTables |= table
}

// endOverflow writes the overflow rows and one buffer_full gap per symbol
// that lost updates, from its first lost frame to end (the first kept frame).
func (p *Pipeline) endOverflow(c *chunk, end int64) {
	detail := detailJSON(map[string]any{
		"dropped": p.ov.rows, "first_lost": time.Unix(0, p.ov.first).UTC(), "first_kept": time.Unix(0, end).UTC(),
	}, nil)
	for i := range p.syms {
		c.events = append(c.events, eventRec{sym: int32(i), ev: schema.Event{
			RecvTS: end, RunID: p.cfg.RunID, Kind: schema.KindOverflow, Reason: schema.ReasonBufferFull, Detail: detail,
		}})
	}
	for i := range p.syms {
		s := &p.syms[i]
		if s.ovFirst == 0 {
			continue
		}
		p.emitGap(c, int32(i), s.ovFirst, end, schema.ReasonBufferFull, 0,
			map[string]any{"tables": tableNames(s.ovTables), "dropped": s.ovRows})
		s.ovFirst, s.ovRows, s.ovTables = 0, 0, 0
	}
	p.log.Warn().Int64("dropped", p.ov.rows).Dur("lasted", time.Duration(end-p.ov.first)).Msg("buffer has room again; the loss is recorded as gaps")
	p.ov = overflow{}
}

func (p *Pipeline) closeGap(c *chunk, sym int32, end int64) {
	s := &p.syms[sym]
	p.emitGap(c, sym, s.gapStart, end, s.gapReason, s.gapConn,
		merge(s.gapDetail, map[string]any{"tables": tableNames(p.dropTables)}))
	s.gapOpen, s.gapDetail = false, nil
}

func (p *Pipeline) emitGap(c *chunk, sym int32, start, end int64, reason string, conn int64, detail map[string]any) {
	if end < start {
		end = start
	}
	c.events = append(c.events, eventRec{sym: sym, ev: schema.Event{
		RecvTS: end, RunID: p.cfg.RunID, Kind: schema.KindGap,
		GapStart: ptr(start), GapEnd: ptr(end), Reason: reason, ConnID: conn,
		Detail: detailJSON(detail, nil),
	}})
	p.m.gaps.WithLabelValues(reason).Inc()
}

// emitAll adds one events row per configured symbol to the pending chunk.
func (p *Pipeline) emitAll(at int64, kind, reason string, conn int64, detail string) {
	c := p.pendingChunk()
	for i := range p.syms {
		c.events = append(c.events, eventRec{sym: int32(i), ev: schema.Event{
			RecvTS: at, RunID: p.cfg.RunID, Kind: kind, Reason: reason, ConnID: conn, Detail: detail,
		}})
	}
}

func (p *Pipeline) emit(sym int32, at int64, kind, reason string, conn int64, detail string) {
	c := p.pendingChunk()
	c.events = append(c.events, eventRec{sym: sym, ev: schema.Event{
		RecvTS: at, RunID: p.cfg.RunID, Kind: kind, Reason: reason, ConnID: conn, Detail: detail,
	}})
}
