package main

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mdcap/mdcap/storage"
)

// datasetStat is one storage.Stats field exported as a metric.
type datasetStat struct {
	field string // the storage.Stats field it reads (checked by the tests)
	name  string // without the mdcap_ namespace
	help  string
	kind  prometheus.ValueType
	value func(*storage.Stats) int64
}

// datasetStatList is what the dataset's Stats become on /metrics. Fields
// that have a metric elsewhere are left out: RowsWritten
// (mdcap_rows_written_total, counted by the pipeline) and FilesFinalised
// (mdcap_files_finalised_total, read from this snapshot too).
func datasetStatList() []datasetStat {
	counter, gauge := prometheus.CounterValue, prometheus.GaugeValue
	return []datasetStat{
		{"BytesFinalised", "dataset_bytes_finalised_total", "Bytes of the Parquet files completed and renamed into place.",
			counter, func(s *storage.Stats) int64 { return s.BytesFinalised }},
		{"FilesOpen", "dataset_files_open", "Parquet files taking rows now.",
			gauge, func(s *storage.Stats) int64 { return int64(s.FilesOpen) }},
		{"FilesRetiring", "dataset_files_retiring", "Files of an earlier UTC date that take no more rows and wait to be closed (their rows still in memory).",
			gauge, func(s *storage.Stats) int64 { return int64(s.FilesRetiring) }},
		{"FilesPending", "dataset_files_pending", "Files that take no more rows and are not finalised yet: finalising now (dataset_files_finalising of them) or waiting to retry a failed finalise.",
			gauge, func(s *storage.Stats) int64 { return int64(s.FilesPending) }},
		{"FilesFinalising", "dataset_files_finalising", "Files handed to the finaliser for their fsync, rename and folder fsyncs, not done yet (dataset_files_queued of them not started).",
			gauge, func(s *storage.Stats) int64 { return int64(s.FilesFinalising) }},
		{"FilesQueued", "dataset_files_queued", "Files waiting in the finaliser's queue, not started yet.",
			gauge, func(s *storage.Stats) int64 { return int64(s.FilesQueued) }},
		{"FilesAbandoned", "dataset_files_abandoned_total", "Files given up (their rows are counted in dataset_rows_lost_total).",
			counter, func(s *storage.Stats) int64 { return s.FilesAbandoned }},
		{"RowsLost", "dataset_rows_lost_total", "Rows the dataset had taken and lost with an abandoned file or a broken Parquet stream.",
			counter, func(s *storage.Stats) int64 { return s.RowsLost }},
		{"WriteErrors", "dataset_write_errors_total", "Failed file writes, fsyncs and renames in the dataset (each failed retry counts).",
			counter, func(s *storage.Stats) int64 { return s.WriteErrors }},
		{"TempFilesSwept", "dataset_temp_files_swept", "Leftover temporary files of this writer removed when the dataset opened, after the crash recovery (whose are mdcap_recovery_temp_files_removed).",
			gauge, func(s *storage.Stats) int64 { return int64(s.TempFilesSwept) }},
		{"TempFilesSalvaged", "dataset_temp_files_salvaged", "Leftover temporary files of this writer that were complete Parquet files, finalised when the dataset opened, after the crash recovery (whose are mdcap_recovery_temp_files_finalised).",
			gauge, func(s *storage.Stats) int64 { return int64(s.TempFilesSalvaged) }},
		{"PagesShed", "dataset_pages_shed_total", "Pages encoded early because the open files' buffers went over --max-buffered.",
			counter, func(s *storage.Stats) int64 { return s.PagesShed }},
		{"RowGroupsShed", "dataset_row_groups_shed_total", "Row groups written early because the open files' buffers went over --max-buffered.",
			counter, func(s *storage.Stats) int64 { return s.RowGroupsShed }},
		{"BufferedBytes", "dataset_buffered_bytes", "Memory the open files' column buffers hold, as --max-buffered counts it.",
			gauge, func(s *storage.Stats) int64 { return s.BufferedBytes }},
	}
}

// datasetMetrics is the last published copy of the dataset's Stats and a
// Prometheus collector over it. The Dataset belongs to the pipeline's
// writer goroutine, so its Stats are read there (statsSink's Roll and
// Close, once per roll tick) and published here; a scrape sees them as of
// the last tick.
type datasetMetrics struct {
	mu        sync.Mutex
	st        storage.Stats
	stats     []datasetStat
	descs     []*prometheus.Desc
	maxBuffer *prometheus.Desc
	maxBytes  int64
}

// newDatasetMetrics returns the collector; maxBuffered is the budget
// (--max-buffered; 0: the dataset's default), exported beside the bytes it
// bounds.
func newDatasetMetrics(maxBuffered int64) *datasetMetrics {
	if maxBuffered <= 0 {
		maxBuffered = storage.DefaultMaxBuffered
	}
	m := &datasetMetrics{stats: datasetStatList(), maxBytes: maxBuffered,
		maxBuffer: prometheus.NewDesc("mdcap_dataset_max_buffered_bytes",
			"The budget of the open files' column buffers (--max-buffered).", nil, nil)}
	for _, s := range m.stats {
		m.descs = append(m.descs, prometheus.NewDesc("mdcap_"+s.name, s.help, nil, nil))
	}
	return m
}

// publish stores a copy of st for the scrapes. It is called by the
// goroutine that owns the Dataset.
func (m *datasetMetrics) publish(st storage.Stats) {
	m.mu.Lock()
	m.st = st
	m.mu.Unlock()
}

// snapshot is the last published Stats.
func (m *datasetMetrics) snapshot() storage.Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st
}

// filesFinalised is the published FilesFinalised (capture.Config's
// FilesFinalised: mdcap_files_finalised_total).
func (m *datasetMetrics) filesFinalised() int64 { return m.snapshot().FilesFinalised }

// Describe implements prometheus.Collector.
func (m *datasetMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range m.descs {
		ch <- d
	}
	ch <- m.maxBuffer
}

// Collect implements prometheus.Collector.
func (m *datasetMetrics) Collect(ch chan<- prometheus.Metric) {
	st := m.snapshot()
	for i, s := range m.stats {
		ch <- prometheus.MustNewConstMetric(m.descs[i], s.kind, float64(s.value(&st)))
	}
	ch <- prometheus.MustNewConstMetric(m.maxBuffer, prometheus.GaugeValue, float64(m.maxBytes))
}
