package capture_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/journal"
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// metricValue finds a gathered metric by name and label values.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

func TestPipeline_Metrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := testConfig("ESZ6", "NQZ6")
	cfg.Registry = reg
	cfg.Now = func() time.Time { return at(1000) }
	cfg.BytesRead = func() int64 { return 7000 }
	cfg.FilesFinalised = func() int64 { return 3 }
	cfg.TokenExpiry = func() time.Time { return time.Now().Add(time.Hour) }
	sink := newMemSink()
	err := runScript(t, cfg, sink, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		subscribed(h, 1, 1, "NQZ6", 22)
		quote(h, 1, 100, 11, 1)
		quote(h, 1, 200, 11, 2)
		down(h, 1, 300, 250, schema.ReasonEOF)
		connected(h, 2, 400)
		quote(h, 2, 500, 11, 3)
		quote(h, 2, 600, 22, 3)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mdcap_rows_written_total", map[string]string{"table": "quotes"}, 4},
		{"mdcap_data_frames_total", nil, 4},
		{"mdcap_connection_drops_total", map[string]string{"reason": "eof"}, 1},
		{"mdcap_reconnects_total", nil, 1},
		{"mdcap_gaps_total", map[string]string{"reason": "eof"}, 2},
		{"mdcap_buffer_records", nil, 0},
		{"mdcap_buffer_capacity_records", nil, 1024},
		{"mdcap_bytes_read_total", nil, 7000},
		{"mdcap_files_finalised_total", nil, 3},
		{"mdcap_seconds_since_last_update", map[string]string{"symbol": "NQZ6"}, 0.4},
	} {
		got, ok := metricValue(t, reg, c.name, c.labels)
		if !ok || got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if v, ok := metricValue(t, reg, "mdcap_token_expiry_seconds", nil); !ok || v < 3500 || v > 3600 {
		t.Errorf("token expiry %v", v)
	}
}

// A journaled dataset brings the journal's metrics and the start's
// recovery figures next to the pipeline's; a sink without a journal
// brings none.
func TestPipeline_JournalMetrics(t *testing.T) {
	root := t.TempDir()
	ds, err := storage.Open(storage.Config{Root: root, WriterID: "w", RunID: "w-1", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(journal.Config{Root: root, WriterID: "w", RunID: "w-1", Start: time.Now(),
		Recovery: journal.Recovered{Runs: []string{"w-0"}, Replayed: 42, Duplicates: 7, FilesOpened: 3},
		Logger:   zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg := testConfig("ESZ6", "NQZ6")
	cfg.Registry = reg
	sink := journal.NewSink(ds, j)
	err = runScript(t, cfg, sink, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		subscribed(h, 1, 1, "NQZ6", 22)
		for i := 0; i < 300; i++ {
			quote(h, 1, 100+i, 11, float64(6000+i))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := 0.0
	for _, tbl := range []string{"quotes", "dom", "events"} {
		v, _ := metricValue(t, reg, "mdcap_rows_written_total", map[string]string{"table": tbl})
		rows += v
	}
	if v, ok := metricValue(t, reg, "mdcap_journal_records_total", nil); !ok || v != rows || rows < 300 {
		t.Errorf("journal records %v (found %v), rows written %v", v, ok, rows)
	}
	st := j.Stats()
	for _, c := range []struct {
		name string
		want float64
	}{
		{"mdcap_journal_bytes_written_total", float64(st.BytesWritten)},
		{"mdcap_journal_frames_total", float64(st.Frames)},
		{"mdcap_journal_syncs_total", float64(st.Syncs)},
		{"mdcap_journal_sync_seconds_total", float64(st.SyncNanos) / 1e9},
		{"mdcap_journal_write_errors_total", 0},
		{"mdcap_journal_live_segments", 0}, // a clean stop removes the journal
		{"mdcap_journal_live_bytes", 0},
		{"mdcap_recovery_runs", 1},
		{"mdcap_recovery_replayed_rows", 42},
		{"mdcap_recovery_duplicate_rows", 7},
		{"mdcap_recovery_files_opened", 3},
	} {
		if got, ok := metricValue(t, reg, c.name, nil); !ok || got != c.want {
			t.Errorf("%s = %v (found %v), want %v", c.name, got, ok, c.want)
		}
	}
	if st.BytesWritten == 0 || st.Frames == 0 || st.Syncs == 0 || st.SyncNanos == 0 {
		t.Errorf("journal did not write: %+v", st)
	}

	other := prometheus.NewRegistry()
	cfg.Registry = other
	if err := runScript(t, cfg, newMemSink(), func(h feed.Handler) { connected(h, 1, 0) }); err != nil {
		t.Fatal(err)
	}
	if _, ok := metricValue(t, other, "mdcap_journal_records_total", nil); ok {
		t.Error("journal metrics registered for a sink without a journal")
	}
}
