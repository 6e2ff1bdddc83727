package capture

import (
	"time"

	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/schema"
)

// HandleEvent implements feed.Handler: it turns the session's lifecycle
// into events rows and keeps the per-symbol gap accounting.
func (p *Pipeline) HandleEvent(e feed.Event) {
	at := e.Time.UnixNano()
	if e.Time.IsZero() {
		at = p.now()
	}
	switch e.Kind {
	case feed.EventConnected:
		p.connected(e, at)
	case feed.EventSubscribed:
		p.subscribed(e, at)
	case feed.EventDown:
		p.down(e, at)
	case feed.EventRotated:
		p.rotated(e, at)
	case feed.EventClosed:
		delete(p.liveConns, e.ConnID)
		p.log.Debug().Int64("conn_id", e.ConnID).Msg("connection closed on purpose")
	case feed.EventPenalty:
		p.m.penalties.Inc()
		p.perSymbol(e, at, schema.KindPenalty, e.Reason, detailJSON(e.Detail, nil))
	case feed.EventShutdown:
		p.perSymbol(e, at, schema.KindShutdown, schema.ReasonShutdownEvent,
			detailJSON(e.Detail, map[string]any{"reasonCode": e.Reason}))
	case feed.EventAnomaly:
		p.m.anomalies.Inc()
		p.perSymbol(e, at, schema.KindAnomaly, e.Reason, detailJSON(e.Detail, nil))
	case feed.EventToken:
		switch x := e.Detail["expires"].(type) {
		case time.Time:
			p.tokenExpiry.Store(x.UnixNano())
		case string:
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				p.tokenExpiry.Store(t.UnixNano())
			}
		}
		return
	default:
		p.m.anomalies.Inc()
		p.log.Warn().Stringer("kind", e.Kind).Msg("unexpected feed event")
		return
	}
	p.flushEvents()
}

func (p *Pipeline) connected(e feed.Event, at int64) {
	p.liveConns[e.ConnID] = true
	detail := detailJSON(e.Detail, nil)
	reconnect := false
	for i := range p.syms {
		s := &p.syms[i]
		p.emit(int32(i), at, schema.KindConnect, "", e.ConnID, detail)
		if s.downPending {
			s.downPending = false
			reconnect = true
			p.emit(int32(i), at, schema.KindReconnect, s.gapReason, e.ConnID,
				detailJSON(map[string]any{"after_conn": s.gapConn}, nil))
		}
	}
	if reconnect {
		p.m.reconnects.Inc()
	}
	p.log.Info().Int64("conn_id", e.ConnID).Bool("reconnect", reconnect).Msg("connected")
}

func (p *Pipeline) subscribed(e feed.Event, at int64) {
	sym, ok := p.symIdx[e.Symbol]
	if !ok {
		p.m.anomalies.Inc()
		p.log.Warn().Str("symbol", e.Symbol).Msg("subscription for a symbol that is not configured")
		return
	}
	if old, ok := p.byContract[e.ContractID]; ok && old != sym {
		p.log.Warn().Int64("contract_id", e.ContractID).Str("was", p.cfg.Symbols[old]).
			Str("now", e.Symbol).Msg("contract id moved to another symbol")
	}
	p.byContract[e.ContractID] = sym
	p.syms[sym].conn = e.ConnID
	p.emit(sym, at, schema.KindSubscribe, "", e.ConnID,
		detailJSON(e.Detail, map[string]any{"contract_id": e.ContractID}))
}

// down records a drop for every symbol the dead connection served or that
// no live connection serves, and opens (or keeps open, with the earliest
// start) its gap.
func (p *Pipeline) down(e feed.Event, at int64) {
	delete(p.liveConns, e.ConnID)
	reason := e.Reason
	if reason == "" {
		reason = schema.ReasonReadError
	}
	p.m.drops.WithLabelValues(reason).Inc()
	last := e.LastFrame.UnixNano()
	if e.LastFrame.IsZero() {
		last = at
	}
	detail := detailJSON(e.Detail, map[string]any{"last_frame": time.Unix(0, last).UTC()})
	n := 0
	for i := range p.syms {
		s := &p.syms[i]
		if s.conn != e.ConnID && p.liveConns[s.conn] {
			continue // served by another live connection (rotation)
		}
		n++
		p.emit(int32(i), at, schema.KindDisconnect, reason, e.ConnID, detail)
		s.downPending = true
		s.conn = 0
		if !s.gapOpen {
			s.gapOpen, s.gapStart, s.gapReason, s.gapConn = true, last, reason, e.ConnID
		} else if last < s.gapStart {
			s.gapStart = last
		}
	}
	p.log.Warn().Int64("conn_id", e.ConnID).Str("reason", reason).Int("symbols", n).
		Time("last_frame", time.Unix(0, last)).Msg("connection dropped")
}

func (p *Pipeline) rotated(e feed.Event, at int64) {
	detail := detailJSON(e.Detail, map[string]any{"prev_conn": e.PrevConnID})
	for i := range p.syms {
		s := &p.syms[i]
		if e.Symbol != "" && p.cfg.Symbols[i] != e.Symbol {
			continue
		}
		if e.Symbol == "" && s.conn != e.PrevConnID && s.conn != e.ConnID {
			continue // not served by either connection (waiting for a resubscribe)
		}
		s.conn = e.ConnID
		p.emit(int32(i), at, schema.KindRotate, "", e.ConnID, detail)
	}
	p.m.rotations.Inc()
}

// perSymbol writes a row for e.Symbol, or for every symbol when the event
// concerns the whole connection.
func (p *Pipeline) perSymbol(e feed.Event, at int64, kind, reason, detail string) {
	if sym, ok := p.symIdx[e.Symbol]; ok {
		p.emit(sym, at, kind, reason, e.ConnID, detail)
		return
	}
	p.emitAll(at, kind, reason, e.ConnID, detail)
}
