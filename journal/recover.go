package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// RecoverConfig configures Recover.
type RecoverConfig struct {
	Root     string
	WriterID string
	// Symbols are the symbols the new run records: the crash_recovery
	// gaps returned concern these.
	Symbols []string
	// Storage is the dataset configuration of the replay (roll size, row
	// groups, FS); Root, WriterID, RunID and FirstCounter are set by
	// Recover.
	Storage storage.Config
	Logger  zerolog.Logger
}

// Gap is a crash_recovery gap the new run owes for one symbol: from the
// dead run's last durable row (or its start) to the new run's first row.
type Gap struct {
	Symbol string
	Start  int64 // Unix ns
	Detail map[string]any
}

// Recovered is what Recover did.
type Recovered struct {
	Runs              []string // dead runs whose journals were replayed
	Replayed          int64    // rows written back from journals
	Duplicates        int64    // journal rows already in finalised files, skipped
	Quarantined       []string // files written under .quarantine
	QuarantinedBytes  int64
	TempFilesSwept    int
	TempFilesSalvaged int
	// FilesOpened counts the finalised files recovery read (footers or
	// rows): those a journal row may be in, and the newest of each table
	// and symbol — not every file of a long run.
	FilesOpened int
	Gaps        []Gap
}

// Recover runs at the start of a recorder, before its own dataset is
// opened, with the writer lock held. It finishes what dead runs of the
// writer id left behind: temporary files (a complete one is finalised,
// an incomplete one removed), and journals — replayed into finalised
// Parquet files under the dead run's id, without the rows finalised
// files already hold, a damaged tail cut off into the quarantine folder.
// It returns the crash_recovery gaps the new run must write: per symbol,
// from the newest dead run's last durable row (or its start when none
// survived) to the new run's first row. A run that wrote its stop rows
// (it stopped on an error with files it could not finalise) owes none.
func Recover(cfg RecoverConfig) (Recovered, error) {
	var res Recovered
	if cfg.Storage.FS == nil {
		cfg.Storage.FS = storage.OSFS{}
	}
	log := cfg.Logger.With().Str("component", "recovery").Logger()
	if _, err := os.Stat(cfg.Root); errors.Is(err, fs.ErrNotExist) {
		return res, nil
	}
	runs, err := Runs(cfg.Storage.FS, cfg.Root, cfg.WriterID)
	if err != nil {
		return res, fmt.Errorf("recover: %w", err)
	}
	entries, err := storage.List(cfg.Root)
	if err != nil {
		return res, fmt.Errorf("recover: list dataset: %w", err)
	}
	maxCounter := map[string]uint64{}
	for _, e := range entries {
		if e.NameOK && e.WriterID == cfg.WriterID {
			maxCounter[e.RunID] = max(maxCounter[e.RunID], e.Counter)
		}
	}
	if len(runs) == 0 {
		return res, nil // the dataset's Open deals with leftover temporary files
	}
	// Open finalises the complete leftover temporary files of the writer
	// and removes the others; the listing after it is what is durable.
	first := true
	var carry map[string]int64
	for _, run := range runs {
		dcfg := cfg.Storage
		dcfg.Root, dcfg.WriterID, dcfg.RunID = cfg.Root, cfg.WriterID, run.RunID
		dcfg.FirstCounter = maxCounter[run.RunID]
		dcfg.RollInterval = 24 * time.Hour // one file per partition
		dcfg.Logger = cfg.Logger
		ds, err := storage.Open(dcfg)
		if err != nil {
			return res, fmt.Errorf("recover run %s: %w", run.RunID, err)
		}
		st := ds.Stats()
		res.TempFilesSwept += st.TempFilesSwept
		res.TempFilesSalvaged += st.TempFilesSalvaged
		if first {
			first = false
			if entries, err = storage.List(cfg.Root); err != nil {
				ds.Close()
				return res, fmt.Errorf("recover: list dataset: %w", err)
			}
		}
		low := run.Low
		if len(run.Segments) == 0 {
			low = math.MaxUint64 // nothing to replay, nothing to tell apart
		}
		have := durableOf(entries, cfg.WriterID, run.RunID, low, log)
		res.FilesOpened += have.opened
		rr, err := replay(cfg, run, ds, have, log)
		res.Replayed += rr.replayed
		res.Duplicates += rr.dups
		res.Quarantined = append(res.Quarantined, rr.quarantined...)
		res.QuarantinedBytes += rr.qbytes
		if cerr := ds.Close(); cerr != nil || err != nil {
			return res, fmt.Errorf("recover run %s: %w", run.RunID, errors.Join(err, cerr))
		}
		if err := removeRunDir(cfg.Storage.FS, run.Dir); err != nil {
			log.Warn().Err(err).Msg("could not remove a replayed journal; its rows will be recognised as duplicates next time")
		}
		res.Runs = append(res.Runs, run.RunID)
		carry = gapStarts(run, have, carry, cfg.Symbols)
		log.Warn().Str("dead_run", run.RunID).Int64("replayed", rr.replayed).Int64("duplicates", rr.dups).
			Int64("quarantined_bytes", rr.qbytes).Bool("stopped", have.stopped).Msg("recovered the journal of a run that did not stop cleanly")
	}
	last := runs[len(runs)-1]
	for _, sym := range cfg.Symbols {
		start, ok := carry[sym]
		if !ok {
			continue
		}
		res.Gaps = append(res.Gaps, Gap{Symbol: sym, Start: start, Detail: map[string]any{
			"dead_run": last.RunID, "replayed_rows": res.Replayed, "quarantined_bytes": res.QuarantinedBytes,
		}})
	}
	return res, nil
}

// gapStarts returns, per symbol, where the crash gap after run starts:
// its last durable row; or, when it stored no data for the symbol and the
// run before it also died, the gap inherited from that run (the run never
// got to close it); or the run's start. A stopped run owes nothing.
func gapStarts(run RunInfo, have *durable, carry map[string]int64, symbols []string) map[string]int64 {
	out := map[string]int64{}
	if have.stopped {
		return out
	}
	// The gaps the run inherited from an earlier recovery, and those of
	// a run recovered just before it: the earliest start wins.
	owed := map[string]int64{}
	for s, v := range run.Owed {
		owed[s] = v
	}
	for s, v := range carry {
		if o, ok := owed[s]; !ok || v < o {
			owed[s] = v
		}
	}
	carry = owed
	syms := map[string]bool{}
	for _, s := range symbols {
		syms[s] = true
	}
	for s := range have.lastAny {
		syms[s] = true
	}
	for s := range carry {
		syms[s] = true
	}
	for s := range syms {
		switch {
		case have.hasData[s]:
			out[s] = have.lastAny[s]
		case carry[s] != 0:
			out[s] = carry[s]
		case have.lastAny[s] != 0:
			out[s] = have.lastAny[s]
		case !run.Start.IsZero():
			out[s] = run.Start.UnixNano()
		}
	}
	return out
}

// durable is what a run has in finalised files (then also what the
// replay added).
type durable struct {
	seqs    map[tsKey][]span // quotes and dom: seq ranges per file
	ticks   map[string]map[int64]bool
	events  map[string]int // event key -> count
	lastAny map[string]int64
	hasData map[string]bool
	stopped bool
	opened  int // files read
}

type tsKey struct {
	table  schema.Table
	symbol string
}

type span struct{ lo, hi int64 }

func (d *durable) saw(sym string, recv int64, data bool) {
	if recv > d.lastAny[sym] {
		d.lastAny[sym] = recv
	}
	if data {
		d.hasData[sym] = true
	}
}

// durableOf reads what the finalised files of a run hold. Files numbered
// from low on may hold rows the journal also holds: their footers give
// the data tables' seq ranges (column statistics), and the events and
// ticks tables are read whole (few rows, whose identity is their
// content). Every row of a file numbered below low was written before
// the journal's oldest segment began (see Journal.MarkLow), so only the
// newest such file of each table and symbol is read, for the symbol's
// last durable row: the cost does not grow with the run's length.
func durableOf(entries []storage.Entry, writer, run string, low uint64, log zerolog.Logger) *durable {
	d := &durable{seqs: map[tsKey][]span{}, ticks: map[string]map[int64]bool{}, events: map[string]int{},
		lastAny: map[string]int64{}, hasData: map[string]bool{}}
	newest := map[tsKey]int{} // the newest file below low, per table and symbol: index in entries
	for i, e := range entries {
		if e.Temp || !e.NameOK || e.WriterID != writer || e.RunID != run || e.Counter >= low {
			continue
		}
		t, ok := schema.ParseTable(e.Table)
		if !ok {
			continue
		}
		k := tsKey{t, e.Symbol}
		if j, ok := newest[k]; !ok || entries[j].Counter < e.Counter {
			newest[k] = i
		}
	}
	for k, i := range newest {
		e := entries[i]
		pf, err := storage.OpenParquet(e.Path)
		if err != nil {
			log.Warn().Err(err).Str("path", e.Path).Msg("recovery: unreadable file skipped")
			continue
		}
		d.opened++
		if m, err := storage.ReadMeta(pf); err == nil && m.HasRecvTS {
			d.saw(e.Symbol, m.MaxRecvTS, k.table != schema.TableEvents && m.Rows > 0)
		}
		pf.Close()
	}
	for _, e := range entries {
		if e.Temp || !e.NameOK || e.WriterID != writer || e.RunID != run || e.Counter < low {
			continue
		}
		t, ok := schema.ParseTable(e.Table)
		if !ok {
			continue
		}
		d.opened++
		pf, err := storage.OpenParquet(e.Path)
		if err != nil {
			log.Warn().Err(err).Str("path", e.Path).Msg("recovery: unreadable file skipped")
			continue
		}
		m, merr := storage.ReadMeta(pf)
		if merr == nil && m.HasRecvTS {
			d.saw(e.Symbol, m.MaxRecvTS, t != schema.TableEvents && m.Rows > 0)
		}
		switch t {
		case schema.TableQuotes, schema.TableDOM:
			if lo, hi, ok := storage.Int64Range(pf, "seq"); ok {
				k := tsKey{t, e.Symbol}
				d.seqs[k] = append(d.seqs[k], span{lo, hi})
			}
		case schema.TableTicks:
			rows, err := parquet.ReadFile[schema.Tick](e.Path)
			if err != nil {
				log.Warn().Err(err).Str("path", e.Path).Msg("recovery: unreadable ticks file skipped")
				break
			}
			if d.ticks[e.Symbol] == nil {
				d.ticks[e.Symbol] = map[int64]bool{}
			}
			for i := range rows {
				d.ticks[e.Symbol][rows[i].TickID] = true
			}
		case schema.TableEvents:
			rows, err := parquet.ReadFile[schema.Event](e.Path)
			if err != nil {
				log.Warn().Err(err).Str("path", e.Path).Msg("recovery: unreadable events file skipped")
				break
			}
			for i := range rows {
				d.events[eventKey(e.Symbol, &rows[i])]++
				if rows[i].Kind == schema.KindStop {
					d.stopped = true
				}
			}
		}
		pf.Close()
	}
	for k := range d.seqs {
		s := d.seqs[k]
		sort.Slice(s, func(a, b int) bool { return s[a].lo < s[b].lo })
	}
	return d
}

func (d *durable) hasSeq(t schema.Table, sym string, seq int64) bool {
	s := d.seqs[tsKey{t, sym}]
	i := sort.Search(len(s), func(i int) bool { return s[i].hi >= seq })
	return i < len(s) && s[i].lo <= seq
}

// eventKey is an events row's identity: all of it.
func eventKey(sym string, e *schema.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%d|%s|%s|%s|%d|%s|", sym, e.RecvTS, e.RunID, e.Kind, e.Reason, e.ConnID, e.Detail)
	if e.GapStart != nil {
		fmt.Fprintf(&b, "%d", *e.GapStart)
	}
	b.WriteByte('|')
	if e.GapEnd != nil {
		fmt.Fprintf(&b, "%d", *e.GapEnd)
	}
	return b.String()
}

type replayed struct {
	replayed, dups int64
	quarantined    []string
	qbytes         int64
}

// replay writes the journal rows of run that have holds not yet into ds,
// and quarantines the damaged tails of its segments.
func replay(cfg RecoverConfig, run RunInfo, ds *storage.Dataset, have *durable, log zerolog.Logger) (replayed, error) {
	var rr replayed
	write := func(r *Record) error {
		var err error
		switch r.Table {
		case schema.TableQuotes:
			if have.hasSeq(r.Table, r.Symbol, r.Quote.Seq) {
				rr.dups++
				return nil
			}
			err = ds.WriteQuote(r.Symbol, r.Quote)
		case schema.TableDOM:
			if have.hasSeq(r.Table, r.Symbol, r.DOM.Seq) {
				rr.dups++
				return nil
			}
			err = ds.WriteDOM(r.Symbol, r.DOM)
		case schema.TableTicks:
			if have.ticks[r.Symbol][r.Tick.TickID] {
				rr.dups++
				return nil
			}
			err = ds.WriteTick(r.Symbol, r.Tick)
		case schema.TableEvents:
			k := eventKey(r.Symbol, r.Event)
			if have.events[k] > 0 {
				have.events[k]--
				rr.dups++
				return nil
			}
			if r.Event.Kind == schema.KindStop {
				have.stopped = true
			}
			err = ds.WriteEvent(r.Symbol, r.Event)
		}
		if err != nil {
			return fmt.Errorf("replay %s row: %w", r.Table, err)
		}
		have.saw(r.Symbol, r.RecvTS(), r.Table != schema.TableEvents)
		rr.replayed++
		return nil
	}
	// A damaged segment followed by a readable one leaves a hole inside
	// the run: it becomes a crash_recovery gap of every symbol, from the
	// last row before the damage to the first after it.
	var (
		lastRecv int64
		hole     *Damage
		holeAt   string
		syms     = map[string]bool{}
		tables   = map[schema.Table]bool{}
	)
	read := func(r *Record) error {
		if hole != nil {
			for _, sym := range sortedKeys(syms) {
				detail, _ := json.Marshal(map[string]any{"tables": tableList(tables), "journal_damage": hole.Reason, "quarantined": holeAt})
				start, end := lastRecv, max(lastRecv, r.RecvTS())
				e := schema.Event{RecvTS: end, RunID: run.RunID, Kind: schema.KindGap, GapStart: &start, GapEnd: &end,
					Reason: schema.ReasonCrashRecovery, Detail: string(detail)}
				if err := write(&Record{Table: schema.TableEvents, Symbol: sym, Event: &e}); err != nil {
					return err
				}
			}
			hole = nil
		}
		syms[r.Symbol] = true
		if r.Table != schema.TableEvents {
			tables[r.Table] = true
		}
		lastRecv = max(lastRecv, r.RecvTS())
		return write(r)
	}
	for _, seg := range run.Segments {
		dmg, tail, err := ReadSegment(cfg.Storage.FS, seg, read)
		if err != nil {
			return rr, err
		}
		if dmg == nil {
			continue
		}
		q, err := quarantine(cfg, run, seg, dmg, tail)
		if err != nil {
			return rr, err
		}
		rr.quarantined = append(rr.quarantined, q)
		rr.qbytes += dmg.Bytes
		hole, holeAt = dmg, q
		log.Warn().Str("segment", seg).Int64("offset", dmg.Offset).Int64("bytes", dmg.Bytes).Str("reason", dmg.Reason).
			Str("kept_in", q).Msg("damaged journal tail cut off and kept aside")
	}
	return rr, nil
}

// quarantine keeps a damaged tail under <root>/.quarantine/<writer>/<run>/.
func quarantine(cfg RecoverConfig, run RunInfo, seg string, dmg *Damage, tail []byte) (string, error) {
	dir := filepath.Join(cfg.Root, QuarantineDir, storage.EncodeName(cfg.WriterID), storage.EncodeName(run.RunID))
	fsys := cfg.Storage.FS
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("quarantine: mkdir %s: %w", dir, err)
	}
	name := fmt.Sprintf("%s.at-%d.%s", filepath.Base(seg), dmg.Offset, slug(dmg.Reason))
	p := filepath.Join(dir, name)
	if _, err := fsys.Lstat(p); err == nil {
		return p, nil // kept by an earlier, interrupted recovery
	}
	if err := writeFileSync(fsys, p, tail); err != nil {
		return "", fmt.Errorf("quarantine: %w", err)
	}
	_ = fsys.SyncDir(dir)
	return p, nil
}

func slug(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			b.WriteRune(c)
		case 'A' <= c && c <= 'Z':
			b.WriteRune(c + 'a' - 'A')
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
		}
		if b.Len() >= 40 {
			break
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tableList names the data tables a hole concerns (quotes when none).
func tableList(m map[schema.Table]bool) []string {
	var out []string
	for t := schema.Table(0); t < schema.NumTables; t++ {
		if m[t] {
			out = append(out, t.String())
		}
	}
	if len(out) == 0 {
		out = []string{schema.TableQuotes.String()}
	}
	return out
}
