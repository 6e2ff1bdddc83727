package capture

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mdcap/mdcap/schema"
)

// metrics are the pipeline's Prometheus collectors. They exist (and count)
// whether or not a registry was given, so the hot path never checks.
type metrics struct {
	frames      prometheus.Counter
	fullWaits   prometheus.Counter
	rows        struct{ quotes, dom, events prometheus.Counter }
	drops       *prometheus.CounterVec // connection drops by reason
	dropped     *countingVec           // records thrown away by reason
	gaps        *countingVec
	reconnects  prometheus.Counter
	rotations   prometheus.Counter
	penalties   prometheus.Counter
	anomalies   prometheus.Counter
	writeErrors prometheus.Counter
	lastUpdate  []atomic.Int64 // per symbol, receive time (Unix ns) of the last row written
}

// countingVec is a counter vector that also keeps its total for the status
// line.
type countingVec struct {
	*prometheus.CounterVec
	total atomic.Int64
}

type countingCounter struct {
	prometheus.Counter
	total *atomic.Int64
}

func (c countingCounter) Inc()          { c.total.Add(1); c.Counter.Inc() }
func (c countingCounter) Add(v float64) { c.total.Add(int64(v)); c.Counter.Add(v) }

func (v *countingVec) WithLabelValues(lvs ...string) prometheus.Counter {
	return countingCounter{Counter: v.CounterVec.WithLabelValues(lvs...), total: &v.total}
}

func (m *metrics) gapCount() int64     { return m.gaps.total.Load() }
func (m *metrics) droppedCount() int64 { return m.dropped.total.Load() }

func newMetrics(p *Pipeline) (*metrics, error) {
	cfg := &p.cfg
	m := &metrics{lastUpdate: make([]atomic.Int64, len(cfg.Symbols))}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "mdcap", Name: name, Help: help})
	}
	m.frames = counter("data_frames_total", "WebSocket frames with market data read by the feed and handed to the pipeline.")
	m.fullWaits = counter("buffer_full_waits_total", "Times the feed's reader waited for room in a full buffer (each wait ends in room or, after FullWait, an overflow).")
	updates := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mdcap", Name: "rows_written_total",
		Help: "Rows written to the dataset, by table."}, []string{"table"})
	m.rows.quotes = updates.WithLabelValues("quotes")
	m.rows.dom = updates.WithLabelValues("dom")
	m.rows.events = updates.WithLabelValues("events")
	m.drops = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mdcap", Name: "connection_drops_total",
		Help: "Unexpected connection ends, by reason."}, []string{"reason"})
	m.dropped = &countingVec{CounterVec: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mdcap",
		Name: "records_dropped_total", Help: "Updates that did not reach the dataset (each inside a gap row), by reason."},
		[]string{"reason"})}
	m.gaps = &countingVec{CounterVec: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mdcap",
		Name: "gaps_total", Help: "Gap rows written, by reason (one per symbol)."}, []string{"reason"})}
	m.reconnects = counter("reconnects_total", "Connections opened after a drop.")
	m.rotations = counter("rotations_total", "Make-before-break connection rotations.")
	m.penalties = counter("penalties_total", "Waits imposed by the server.")
	m.anomalies = counter("anomalies_total", "Malformed or unexpected input.")
	m.writeErrors = counter("write_errors_total", "Failed dataset writes.")

	// Show the common series at 0 before anything happens.
	for _, r := range []string{schema.ReasonEOF, schema.ReasonReadError, schema.ReasonStale, schema.ReasonServerClose,
		schema.ReasonRequestTimeout, schema.ReasonShutdownEvent} {
		m.drops.WithLabelValues(r)
		m.gaps.CounterVec.WithLabelValues(r)
	}
	for _, r := range []string{schema.ReasonBufferFull, schema.ReasonWriteError} {
		m.dropped.CounterVec.WithLabelValues(r)
		m.gaps.CounterVec.WithLabelValues(r)
	}
	if cfg.Registry == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.frames, m.fullWaits, updates, m.drops, m.dropped.CounterVec, m.gaps.CounterVec,
		m.reconnects, m.rotations, m.penalties, m.anomalies, m.writeErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "mdcap", Name: "buffer_records",
			Help: "Data records waiting in the bounded buffer."}, func() float64 { return float64(p.inflight.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "mdcap", Name: "buffer_capacity_records",
			Help: "Capacity of the bounded buffer (--buffer)."}, func() float64 { return float64(cfg.Buffer) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "mdcap", Name: "token_expiry_seconds",
			Help: "Seconds until the access token expires (0 when unknown)."}, func() float64 {
			var t time.Time
			if cfg.TokenExpiry != nil {
				t = cfg.TokenExpiry()
			}
			if ns := p.tokenExpiry.Load(); t.IsZero() && ns != 0 {
				t = time.Unix(0, ns)
			}
			if t.IsZero() {
				return 0
			}
			return time.Until(t).Seconds()
		}),
		&sinceCollector{m: m, symbols: cfg.Symbols, now: cfg.Now, desc: prometheus.NewDesc("mdcap_seconds_since_last_update",
			"Seconds since the last row of the symbol was written (absent before the first).", []string{"symbol"}, nil)},
	}
	if cfg.BytesRead != nil {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "mdcap", Name: "bytes_read_total",
			Help: "Bytes read from the feed's sockets (TCP payload, WebSocket and TLS framing included)."},
			func() float64 { return float64(cfg.BytesRead()) }))
	}
	if cfg.FilesFinalised != nil {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "mdcap", Name: "files_finalised_total",
			Help: "Parquet files completed and renamed into place."}, func() float64 { return float64(cfg.FilesFinalised()) }))
	}
	// A sink may bring metrics of its own: the crash journal's.
	if c, ok := p.sink.(collectorsOf); ok {
		cs = append(cs, c.Collectors()...)
	}
	for _, c := range cs {
		if err := cfg.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// collectorsOf is a sink with metrics of its own (journal.Sink: the
// journal's counters, live segments, fsync latency and what the recovery
// at start did), registered next to the pipeline's.
type collectorsOf interface {
	Collectors() []prometheus.Collector
}

// sinceCollector reports the age of each symbol's last written row.
type sinceCollector struct {
	m       *metrics
	symbols []string
	now     func() time.Time
	desc    *prometheus.Desc
}

func (c *sinceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sinceCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for i, s := range c.symbols {
		ns := c.m.lastUpdate[i].Load()
		if ns == 0 {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, now.Sub(time.Unix(0, ns)).Seconds(), s)
	}
}
