package journal

import "github.com/prometheus/client_golang/prometheus"

// Collectors are the journal's Prometheus metrics: its counters and state
// (read from the stats it publishes at each frame, fsync and release, so
// a scrape never touches the writer goroutine's journal) and what the
// recovery at start did (Config.Recovery). A capture pipeline registers
// the collectors of a sink that has them.
func (s *Sink) Collectors() []prometheus.Collector {
	return []prometheus.Collector{&collector{j: s.j, descs: metricDescs()}}
}

type metricDesc struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(st *Stats, r *Recovered) float64
}

func desc(name, help string, typ prometheus.ValueType, value func(*Stats, *Recovered) float64) metricDesc {
	return metricDesc{desc: prometheus.NewDesc("mdcap_"+name, help, nil, nil), typ: typ, value: value}
}

const (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

// metricDescs lists the metrics; it builds new descriptors on each call
// (no package-level state).
func metricDescs() []metricDesc {
	return []metricDesc{
		desc("journal_records_total", "Rows appended to the crash journal (counted at each frame cut).", counter,
			func(s *Stats, _ *Recovered) float64 { return float64(s.Records) }),
		desc("journal_frames_total", "Journal frames cut (checksummed blocks of rows).", counter,
			func(s *Stats, _ *Recovered) float64 { return float64(s.Frames) }),
		desc("journal_bytes_written_total", "Bytes written to journal segments.", counter,
			func(s *Stats, _ *Recovered) float64 { return float64(s.BytesWritten) }),
		desc("journal_syncs_total", "Journal fsyncs (one per --sync-interval with new rows).", counter,
			func(s *Stats, _ *Recovered) float64 { return float64(s.Syncs) }),
		desc("journal_sync_seconds_total", "Time spent in journal fsyncs (divided by journal_syncs_total: the mean latency).", counter,
			func(s *Stats, _ *Recovered) float64 { return float64(s.SyncNanos) / 1e9 }),
		desc("journal_last_sync_seconds", "Latency of the last journal fsync.", gauge,
			func(s *Stats, _ *Recovered) float64 { return float64(s.LastSyncNanos) / 1e9 }),
		desc("journal_write_errors_total", "Failed journal writes (the bytes are kept and retried).", counter,
			func(s *Stats, _ *Recovered) float64 { return float64(s.WriteErrors) }),
		desc("journal_sync_errors_total", "Failed journal fsyncs (each seals its segment).", counter,
			func(s *Stats, _ *Recovered) float64 { return float64(s.SyncErrors) }),
		desc("journal_dropped_bytes_total", "Journal bytes given up while the disk refused them (their rows lost early durability only).", counter,
			func(s *Stats, _ *Recovered) float64 { return float64(s.DroppedBytes) }),
		desc("journal_segments_released_total", "Journal segments deleted once their rows were in finalised files.", counter,
			func(s *Stats, _ *Recovered) float64 { return float64(s.SegmentsReleased) }),
		desc("journal_held_segments_dropped_total", "Journal segments kept for abandoned files and released past the bound.", counter,
			func(s *Stats, _ *Recovered) float64 { return float64(s.HeldSegmentsDropped) }),
		desc("journal_held_bytes_dropped_total", "Bytes of those segments.", counter,
			func(s *Stats, _ *Recovered) float64 { return float64(s.HeldBytesDropped) }),
		desc("journal_live_segments", "Journal segments on disk.", gauge,
			func(s *Stats, _ *Recovered) float64 { return float64(s.LiveSegments) }),
		desc("journal_live_bytes", "Bytes of the journal segments on disk.", gauge,
			func(s *Stats, _ *Recovered) float64 { return float64(s.LiveBytes) }),
		desc("recovery_runs", "Dead runs whose journals the recovery at start replayed.", gauge,
			func(_ *Stats, r *Recovered) float64 { return float64(len(r.Runs)) }),
		desc("recovery_replayed_rows", "Rows the recovery at start wrote back from journals.", gauge,
			func(_ *Stats, r *Recovered) float64 { return float64(r.Replayed) }),
		desc("recovery_duplicate_rows", "Journal rows the recovery at start found already finalised (skipped).", gauge,
			func(_ *Stats, r *Recovered) float64 { return float64(r.Duplicates) }),
		desc("recovery_quarantined_files", "Damaged journal tails the recovery at start kept aside.", gauge,
			func(_ *Stats, r *Recovered) float64 { return float64(len(r.Quarantined)) }),
		desc("recovery_quarantined_bytes", "Their bytes.", gauge,
			func(_ *Stats, r *Recovered) float64 { return float64(r.QuarantinedBytes) }),
		desc("recovery_files_opened", "Finalised files the recovery at start read.", gauge,
			func(_ *Stats, r *Recovered) float64 { return float64(r.FilesOpened) }),
		desc("recovery_temp_files_removed", "Incomplete temporary files of dead runs removed at start.", gauge,
			func(_ *Stats, r *Recovered) float64 { return float64(r.TempFilesSwept) }),
		desc("recovery_temp_files_finalised", "Complete temporary files of dead runs finalised at start.", gauge,
			func(_ *Stats, r *Recovered) float64 { return float64(r.TempFilesSalvaged) }),
	}
}

type collector struct {
	j     *Journal
	descs []metricDesc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d.desc
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st, rec := c.j.Stats(), c.j.cfg.Recovery
	for _, d := range c.descs {
		ch <- prometheus.MustNewConstMetric(d.desc, d.typ, d.value(&st, &rec))
	}
}
