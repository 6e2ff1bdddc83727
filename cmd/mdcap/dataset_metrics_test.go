package main

import (
	"bufio"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/capture"
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/sim"
	"github.com/mdcap/mdcap/storage"
)

// datasetStatsElsewhere are the storage.Stats fields with a metric of the
// pipeline's instead of datasetMetrics' (see datasetStatList).
var datasetStatsElsewhere = map[string]string{
	"RowsWritten":    "mdcap_rows_written_total",
	"FilesFinalised": "mdcap_files_finalised_total",
}

// TestDatasetMetrics_EveryStatsField fails when storage.Stats gains a
// field no metric exports, and checks that each metric reads its own
// field: every field gets a distinct value and each metric must show it.
func TestDatasetMetrics_EveryStatsField(t *testing.T) {
	var st storage.Stats
	v := reflect.ValueOf(&st).Elem()
	want := map[string]int64{}
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(1000 + i))
			want[v.Type().Field(i).Name] = int64(1000 + i)
		}
	}
	exported := map[string]bool{}
	names := map[string]bool{}
	for _, s := range datasetStatList() {
		if exported[s.field] || names[s.name] {
			t.Errorf("%s (%s) exported twice", s.field, s.name)
		}
		exported[s.field], names[s.name] = true, true
		w, ok := want[s.field]
		if !ok {
			t.Errorf("metric %s names %q, not an integer field of storage.Stats", s.name, s.field)
			continue
		}
		if got := s.value(&st); got != w {
			t.Errorf("mdcap_%s = %d, want %s's %d", s.name, got, s.field, w)
		}
		if strings.HasSuffix(s.name, "_total") != (s.kind == prometheus.CounterValue) {
			t.Errorf("mdcap_%s: counters and only counters end in _total", s.name)
		}
	}
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if !exported[name] && datasetStatsElsewhere[name] == "" {
			t.Errorf("storage.Stats.%s has no metric: add it to datasetStatList", name)
		}
	}

	// The collector shows the published copy.
	m := newDatasetMetrics(5 << 20)
	m.publish(st)
	body := scrapeCollector(t, m)
	got := metricValues(body)
	for _, s := range datasetStatList() {
		if got["mdcap_"+s.name] != float64(want[s.field]) {
			t.Errorf("scraped mdcap_%s = %v, want %d", s.name, got["mdcap_"+s.name], want[s.field])
		}
	}
	if got["mdcap_dataset_max_buffered_bytes"] != 5<<20 {
		t.Errorf("mdcap_dataset_max_buffered_bytes = %v, want %d", got["mdcap_dataset_max_buffered_bytes"], 5<<20)
	}
	if m.filesFinalised() != st.FilesFinalised {
		t.Errorf("filesFinalised = %d, want %d", m.filesFinalised(), st.FilesFinalised)
	}
}

// rollTap records the dataset's Stats after each roll, on the writer
// goroutine that owns the dataset, and wakes whoever waits for a roll.
type rollTap struct {
	capture.Sink
	ds    *storage.Dataset
	mu    sync.Mutex
	rolls []storage.Stats
	next  chan struct{} // closed and replaced at each roll
}

func (r *rollTap) Roll(now time.Time) error {
	err := r.Sink.Roll(now)
	st := r.ds.Stats()
	r.mu.Lock()
	r.rolls = append(r.rolls, st)
	close(r.next)
	r.next = make(chan struct{})
	r.mu.Unlock()
	return err
}

// wait returns a channel closed at the next roll.
func (r *rollTap) wait() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next
}

// seen reports whether the scraped values are the Stats of one roll.
func (r *rollTap) seen(vals map[string]float64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.rolls {
		st := &r.rolls[i]
		ok := vals["mdcap_files_finalised_total"] == float64(st.FilesFinalised)
		for _, s := range datasetStatList() {
			v, there := vals["mdcap_"+s.name]
			ok = ok && there && v == float64(s.value(st))
		}
		if ok {
			return true
		}
	}
	return false
}

// TestRecord_DatasetMetrics records DOM and quotes with the smallest
// --max-buffered and a long roll interval over a leftover temporary file,
// scrapes /metrics and finds the dataset's metrics equal to its Stats at
// one roll, with pages shed by the budget and the leftover swept; the
// recording still matches what the simulator sent.
func TestRecord_DatasetMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	tap := &rollTap{next: make(chan struct{})}
	e := startE2E(t, func(c *sim.Config) { c.Rate = 400 }, func(c *recordConfig) {
		c.Metrics = "127.0.0.1:0"
		c.MaxBuffered = minMaxBuffered
		c.RollInterval = time.Minute
		c.StaleAfter = 3 * time.Second // a busy machine is not what this test is about
		c.hooks.sink = func(s capture.Sink) capture.Sink {
			tap.Sink, tap.ds = s, s.(*statsSink).Dataset()
			return tap
		}
		// A leftover temporary file of this writer with no journal (no
		// crash recovery): the dataset's Open sweeps it.
		dir := filepath.Join(c.Out, filepath.FromSlash(schema.PartitionDir(schema.TableQuotes, "2026-11-25", "ESZ6")))
		leftover := "." + c.WriterID + "_old-run_000001.parquet.tmp"
		if _, _, _, temp, ok := storage.ParseFileName(leftover); !ok || !temp {
			t.Fatalf("%s is not a temporary file name", leftover)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, leftover), []byte("torn"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	e.w.awaitFlowing(t, 0, 3)
	addr := metricsAddr(t, e.logs.String())

	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	var body string
	for {
		body = scrape(t, addr)
		vals := metricValues(body)
		// The snapshot scraped may be published just before the tap
		// records it: wait for the next roll before comparing.
		select {
		case <-tap.wait():
		case <-deadline.C:
			t.Fatalf("timed out waiting for pages shed under --max-buffered %d with metrics equal to a roll's Stats; last page:\n%s",
				minMaxBuffered, grepMetrics(body, "mdcap_dataset_"))
		}
		if vals["mdcap_dataset_pages_shed_total"] > 0 && tap.seen(vals) {
			t.Logf("%s", grepMetrics(body, "mdcap_dataset_"))
			break
		}
	}
	for _, s := range datasetStatList() {
		typ := "gauge"
		if strings.HasSuffix(s.name, "_total") {
			typ = "counter"
		}
		if !strings.Contains(body, "# TYPE mdcap_"+s.name+" "+typ+"\n") {
			t.Errorf("no %s mdcap_%s on the page", typ, s.name)
		}
	}
	vals := metricValues(body)
	if got := vals["mdcap_dataset_max_buffered_bytes"]; got != minMaxBuffered {
		t.Errorf("mdcap_dataset_max_buffered_bytes = %v, want %d", got, minMaxBuffered)
	}
	if got := vals["mdcap_dataset_temp_files_swept"]; got != 1 {
		t.Errorf("mdcap_dataset_temp_files_swept = %v, want 1 (the leftover)", got)
	}
	if vals["mdcap_dataset_files_open"] == 0 {
		t.Error("mdcap_dataset_files_open = 0 while recording")
	}
	d, _, _ := e.stop(t)
	for _, sym := range e.cfg.Symbols {
		for _, g := range kinds(d, sym, schema.KindGap) {
			if g.Reason == schema.ReasonBufferFull || g.Reason == schema.ReasonWriteError {
				t.Errorf("%s: gap %+v: shedding pages must not lose updates", sym, g)
			}
		}
	}
}

// metricsAddr is the address the recorder's log says it serves metrics at.
func metricsAddr(t *testing.T, logs string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var l struct {
			Message string `json:"message"`
			Addr    string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && strings.HasPrefix(l.Message, "serving metrics") {
			return l.Addr
		}
	}
	t.Fatalf("no metrics address in the logs:\n%s", logs)
	return ""
}

// scrape reads http://addr/metrics.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

// scrapeCollector serves one collector and scrapes it.
func scrapeCollector(t *testing.T, m *datasetMetrics) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	addr, stop, err := serveMetrics("127.0.0.1:0", reg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	return scrape(t, addr)
}

// metricValues are the values of the page's series without labels.
func metricValues(body string) map[string]float64 {
	vals := map[string]float64{}
	for line := range strings.SplitSeq(body, "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(val, 64); err == nil {
			vals[name] = f
		}
	}
	return vals
}

// grepMetrics keeps the page's lines that start with prefix.
func grepMetrics(body, prefix string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(body, "\n") {
		if strings.HasPrefix(line, prefix) {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// stuckSyncFS is the OS's file system whose fsyncs of the dataset's
// temporary Parquet files wait while its gate is shut (a disk whose
// fsync takes seconds); the journal's files sync as usual.
type stuckSyncFS struct {
	storage.OSFS
	gate chan struct{}
	once sync.Once
}

func (s *stuckSyncFS) open() { s.once.Do(func() { close(s.gate) }) }

func (s *stuckSyncFS) OpenFile(name string, flag int, perm fs.FileMode) (storage.File, error) {
	f, err := s.OSFS.OpenFile(name, flag, perm)
	if err != nil || !storage.IsTempName(filepath.Base(name)) {
		return f, err
	}
	return stuckSyncFile{File: f, gate: s.gate}, nil
}

type stuckSyncFile struct {
	storage.File
	gate chan struct{}
}

func (f stuckSyncFile) Sync() error {
	<-f.gate
	return f.File.Sync()
}

// TestRecord_DatasetMetricsStuckFsync records with one-second files onto
// a disk whose fsyncs of Parquet files hang: /metrics shows the files
// handed to the finaliser and none finalised, equal to the dataset's
// Stats at one roll; once the fsyncs return, the files are finalised and
// none is left pending, and the recording matches what the simulator sent.
func TestRecord_DatasetMetricsStuckFsync(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	tap := &rollTap{next: make(chan struct{})}
	sfs := &stuckSyncFS{gate: make(chan struct{})}
	e := startE2E(t, nil, func(c *recordConfig) {
		c.Metrics = "127.0.0.1:0"
		c.StaleAfter = 3 * time.Second
		c.hooks.fs = sfs
		c.hooks.sink = func(s capture.Sink) capture.Sink {
			tap.Sink, tap.ds = s, s.(*statsSink).Dataset()
			return tap
		}
	})
	t.Cleanup(sfs.open) // runs before the recording is stopped
	e.w.awaitFlowing(t, 0, 3)
	addr := metricsAddr(t, e.logs.String())

	awaitMetrics := func(what string, cond func(map[string]float64) bool) map[string]float64 {
		t.Helper()
		deadline := time.NewTimer(20 * time.Second)
		defer deadline.Stop()
		for {
			body := scrape(t, addr)
			vals := metricValues(body)
			select {
			case <-tap.wait():
			case <-deadline.C:
				t.Fatalf("timed out waiting for %s; last page:\n%s", what,
					grepMetrics(body, "mdcap_dataset_")+grepMetrics(body, "mdcap_files_"))
			}
			if cond(vals) && tap.seen(vals) {
				t.Logf("%s:\n%s", what, grepMetrics(body, "mdcap_dataset_")+grepMetrics(body, "mdcap_files_"))
				return vals
			}
		}
	}
	awaitMetrics("files stuck in the finaliser", func(v map[string]float64) bool {
		// One file at a time is fsynced (stuck): the others wait in the queue.
		return v["mdcap_dataset_files_finalising"] >= 2 && v["mdcap_dataset_files_pending"] >= v["mdcap_dataset_files_finalising"] &&
			v["mdcap_dataset_files_queued"] >= 1 && v["mdcap_dataset_files_queued"] < v["mdcap_dataset_files_finalising"] &&
			v["mdcap_files_finalised_total"] == 0 && v["mdcap_dataset_bytes_finalised_total"] == 0
	})
	if v := metricValues(scrape(t, addr)); v["mdcap_dataset_max_buffered_bytes"] != storage.DefaultMaxBuffered {
		t.Errorf("mdcap_dataset_max_buffered_bytes = %v without a budget, want the default %d",
			v["mdcap_dataset_max_buffered_bytes"], storage.DefaultMaxBuffered)
	}
	sfs.open()
	awaitMetrics("the stuck files finalised", func(v map[string]float64) bool {
		return v["mdcap_files_finalised_total"] >= 2 && v["mdcap_dataset_bytes_finalised_total"] > 0 &&
			v["mdcap_dataset_files_pending"] == 0 && v["mdcap_dataset_files_queued"] == 0 && v["mdcap_dataset_write_errors_total"] == 0
	})
	e.stop(t)
}
