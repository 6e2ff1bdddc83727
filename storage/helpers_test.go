package storage

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/schema"
)

// t0 is 2026-11-25 21:00:00 UTC in Unix ns.
var t0 = time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)

func f64(v float64) *float64 { return &v }
func i64(v int64) *int64     { return &v }

// quoteGen makes realistic quote rows: a random walk on a 0.25 tick,
// sizes, a growing volume, and some entries absent.
type quoteGen struct {
	rng   *rand.Rand
	price float64
	vol   float64
	ts    int64
	seq   int64
}

func newQuoteGen(seed uint64) *quoteGen {
	return &quoteGen{rng: rand.New(rand.NewPCG(seed, 1)), price: 6000, ts: t0.UnixNano()}
}

func (g *quoteGen) next(r *schema.Quote, withNulls bool) {
	g.price += 0.25 * float64(g.rng.IntN(3)-1)
	g.ts += int64(g.rng.IntN(2_000_000)) + 1000
	g.seq++
	*r = schema.Quote{RecvTS: g.ts + 150_000, TS: g.ts - g.ts%1_000_000, ContractID: 4_030_001, ConnID: 1, Seq: g.seq}
	bid, ask := g.price, g.price+0.25
	bs, as := float64(1+g.rng.IntN(40)), float64(1+g.rng.IntN(40))
	r.BidPrice, r.BidSize, r.AskPrice, r.AskSize = f64(bid), f64(bs), f64(ask), f64(as)
	if g.rng.IntN(3) == 0 {
		sz := float64(1 + g.rng.IntN(5))
		g.vol += sz
		r.TradePrice, r.TradeSize = f64(bid), f64(sz)
	}
	r.TotalVolume = f64(g.vol)
	if withNulls && g.seq%7 == 0 {
		r.BidPrice, r.BidSize = nil, nil
	}
	if g.seq%11 == 0 {
		r.OpenPrice, r.HighPrice, r.LowPrice, r.OpenInterest = f64(5990), f64(6010), f64(5980), f64(2_000_000)
	}
	if g.seq%13 == 0 {
		r.SettlementPrice = f64(5995.5)
	}
}

// domGen makes 10-level books around a random walk.
type domGen struct {
	q     *quoteGen
	vals  [40]float64
	lists [4][10]*float64
}

func newDOMGen(seed uint64) *domGen { return &domGen{q: newQuoteGen(seed)} }

func (g *domGen) next(r *schema.DOM, withNulls bool) {
	var q schema.Quote
	g.q.next(&q, false)
	*r = schema.DOM{RecvTS: q.RecvTS, TS: q.TS, ContractID: q.ContractID, ConnID: 1, Seq: q.Seq}
	for i := 0; i < 10; i++ {
		g.vals[i] = g.q.price - 0.25*float64(i)
		g.vals[10+i] = float64(1 + g.q.rng.IntN(60))
		g.vals[20+i] = g.q.price + 0.25*float64(i+1)
		g.vals[30+i] = float64(1 + g.q.rng.IntN(60))
		for k := 0; k < 4; k++ {
			g.lists[k][i] = &g.vals[k*10+i]
		}
	}
	r.BidPrices, r.BidSizes, r.AskPrices, r.AskSizes = g.lists[0][:], g.lists[1][:], g.lists[2][:], g.lists[3][:]
	if withNulls {
		switch q.Seq % 5 {
		case 1:
			r.AskPrices, r.AskSizes = nil, []*float64{} // empty side
		case 2:
			r.BidSizes = append([]*float64(nil), r.BidSizes...)
			r.BidSizes[3] = nil // value omitted by the server
		}
	}
}

func tickRow(i int) schema.Tick {
	r := schema.Tick{RecvTS: t0.UnixNano() + int64(i)*1e6, TS: t0.UnixNano() + int64(i)*1e6 - 5e5, ContractID: 7, ConnID: 2, TickID: int64(1000 + i), Price: 6000 + 0.25*float64(i%9), Size: float64(1 + i%4), Source: schema.SourceLive}
	if i%2 == 0 {
		r.BidPrice, r.AskPrice, r.BidSize, r.AskSize = f64(5999.75), f64(6000.25), f64(3), f64(4)
	}
	if i%10 == 9 {
		r.Source = schema.SourceBackfill
	}
	return r
}

func eventRow(i int) schema.Event {
	r := schema.Event{RecvTS: t0.UnixNano() + int64(i)*1e9, RunID: "w1-20261125T210000Z", Kind: schema.KindConnect, Reason: "", ConnID: int64(1 + i/3), Detail: `{}`}
	if i%3 == 2 {
		r.Kind, r.Reason = schema.KindGap, schema.ReasonEOF
		r.GapStart, r.GapEnd = i64(r.RecvTS-2e9), i64(r.RecvTS)
		r.Detail = `{"tables":["quotes","dom"]}`
	}
	return r
}

// testConfig is a small-file configuration on a temporary root.
func testConfig(t testing.TB) Config {
	return Config{
		Root:         t.TempDir(),
		WriterID:     "w1",
		RunID:        "w1-20261125T210000Z",
		RowGroupRows: 100,
		Logger:       zerolog.Nop(),
	}
}

func openDS(t testing.TB, cfg Config) *Dataset {
	t.Helper()
	d, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return d
}

// parquetFiles lists the finished files of a table under root, sorted.
func parquetFiles(t testing.TB, root, table string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(root, table), func(p string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() && strings.HasSuffix(p, ".parquet") && !strings.HasPrefix(de.Name(), ".") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// tempFiles lists every dot-temporary file under root.
func tempFiles(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() && IsTempName(de.Name()) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// readAll reads every row of the files with parquet-go's reader.
func readAll[T any](t testing.TB, files []string) []T {
	t.Helper()
	var out []T
	for _, p := range files {
		rows, err := parquet.ReadFile[T](p)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		out = append(out, rows...)
	}
	return out
}

// faultFS is the OS file system with switchable failures.
type faultFS struct {
	OSFS
	mu          sync.Mutex
	writeErr    error // every write fails with it while set
	syncErr     error
	renameErr   error
	syncDirErr  error
	createErr   error
	failedWrite int
	// syncGate, when set, makes every file fsync wait until it is closed.
	syncGate chan struct{}
}

func (f *faultFS) set(fn func(*faultFS)) { f.mu.Lock(); fn(f); f.mu.Unlock() }

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f.mu.Lock()
	cerr := f.createErr
	f.mu.Unlock()
	if cerr != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: cerr}
	}
	of, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{f: of, fs: f}, nil
}

func (f *faultFS) Rename(o, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.renameErr != nil {
		return &os.LinkError{Op: "rename", Old: o, New: n, Err: f.renameErr}
	}
	return os.Rename(o, n)
}

func (f *faultFS) SyncDir(dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.syncDirErr != nil {
		return f.syncDirErr
	}
	return OSFS{}.SyncDir(dir)
}

type faultFile struct {
	f  *os.File
	fs *faultFS
}

func (ff *faultFile) Write(p []byte) (int, error) {
	ff.fs.mu.Lock()
	err := ff.fs.writeErr
	if err != nil {
		ff.fs.failedWrite++
	}
	ff.fs.mu.Unlock()
	if err != nil {
		// A partial write, as a filling disk does.
		n, _ := ff.f.Write(p[:len(p)/3])
		return n, &fs.PathError{Op: "write", Path: ff.f.Name(), Err: err}
	}
	return ff.f.Write(p)
}

func (ff *faultFile) Sync() error {
	ff.fs.mu.Lock()
	gate := ff.fs.syncGate
	ff.fs.mu.Unlock()
	if gate != nil {
		<-gate
	}
	ff.fs.mu.Lock()
	err := ff.fs.syncErr
	ff.fs.mu.Unlock()
	if err != nil {
		return &fs.PathError{Op: "sync", Path: ff.f.Name(), Err: err}
	}
	return ff.f.Sync()
}

func (ff *faultFile) Close() error { return ff.f.Close() }

var errNoSpace = syscall.ENOSPC

func isErrorWith(err error, op string) bool {
	var se *Error
	return errors.As(err, &se) && se.Op == op && se.Path != ""
}

func cfgLogger() zerolog.Logger { return zerolog.Nop() }

// rollWait is a Roll followed by the end of the finalisations it handed
// to the finaliser: it returns Roll's error joined with theirs (which the
// next Roll would return), so a test sees the files as a later Roll would.
func rollWait(d *Dataset, now time.Time) error {
	err := d.Roll(now)
	d.WaitFinalised()
	return errors.Join(err, d.takeDeferred())
}
