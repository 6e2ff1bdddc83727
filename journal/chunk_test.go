package journal

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/schema"
)

// Rows appended to a journal are copied into chunks by the writer and
// encoded by the flusher: what is read back is every row, bit for bit,
// in order — all four tables, NULL list elements, nil and empty lists,
// more symbols than the short symbol list holds, rows the caller reuses
// right after the call, partial chunks handed over by Sync — and the
// frames hold the same bytes the encoder writes for the rows themselves
// (the format on disk did not change).
func TestJournal_ChunkedRowsReadBackAsEncoded(t *testing.T) {
	root := t.TempDir()
	j, err := Open(Config{Root: root, WriterID: "w", RunID: "r", Start: time.Unix(0, 0), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	specials := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), 1e-300, 6000.25, 0.1 + 0.2}
	val := func() *float64 {
		switch rng.IntN(5) {
		case 0:
			return nil
		case 1:
			return f64(specials[rng.IntN(len(specials))])
		}
		return f64(6000 + 0.25*float64(rng.IntN(8)))
	}
	list := func() []*float64 {
		n := rng.IntN(14) - 1
		if n < 0 {
			return nil
		}
		l := make([]*float64, n)
		for i := range l {
			l[i] = val()
		}
		return l
	}
	var syms []string
	for i := 0; i < 20; i++ {
		syms = append(syms, fmt.Sprintf("S%02d", i))
	}
	// The rows the caller hands over are reused: each is overwritten
	// after the call, so a row journaled by reference would come back
	// wrong.
	var q schema.Quote
	var d schema.DOM
	var tk schema.Tick
	var ev schema.Event
	var want []Record
	var syncs []int // records appended before each Sync
	const n = 3*chunkRecs + 777
	for i := 0; i < n; i++ {
		sym := syms[rng.IntN(3)]
		if rng.IntN(8) == 0 {
			sym = syms[rng.IntN(len(syms))]
		}
		recv := int64(i) * 1000
		switch k := rng.IntN(20); {
		case k < 11:
			q = schema.Quote{RecvTS: recv, TS: recv - rng.Int64N(1e6), ContractID: 1e6 + rng.Int64N(3), ConnID: 1, Seq: int64(i),
				BidPrice: val(), BidSize: val(), AskPrice: val(), AskSize: val(), TradePrice: val(), TradeSize: val(),
				TotalVolume: val(), OpenInterest: val(), OpenPrice: val(), HighPrice: val(), LowPrice: val(), SettlementPrice: val()}
			c := q
			ps := []**float64{&c.BidPrice, &c.BidSize, &c.AskPrice, &c.AskSize, &c.TradePrice, &c.TradeSize,
				&c.TotalVolume, &c.OpenInterest, &c.OpenPrice, &c.HighPrice, &c.LowPrice, &c.SettlementPrice}
			for _, p := range ps {
				if *p != nil {
					*p = f64(**p)
				}
			}
			want = append(want, Record{Table: schema.TableQuotes, Symbol: sym, Quote: &c})
			j.AppendQuote(sym, &q)
			for _, p := range []*float64{q.BidPrice, q.AskSize, q.SettlementPrice} {
				if p != nil {
					*p = -1
				}
			}
			q = schema.Quote{}
		case k < 17:
			d = schema.DOM{RecvTS: recv, TS: recv, ContractID: 7, ConnID: 2, Seq: int64(i),
				BidPrices: list(), BidSizes: list(), AskPrices: list(), AskSizes: list()}
			c := d
			for _, l := range [][]*float64{c.BidPrices, c.BidSizes, c.AskPrices, c.AskSizes} {
				for x, p := range l {
					if p != nil {
						l[x] = f64(*p)
					}
				}
			}
			// c's lists are copies of d's: d's elements are
			// overwritten below.
			c.BidPrices, c.BidSizes = slices.Clone(c.BidPrices), slices.Clone(c.BidSizes)
			c.AskPrices, c.AskSizes = slices.Clone(c.AskPrices), slices.Clone(c.AskSizes)
			want = append(want, Record{Table: schema.TableDOM, Symbol: sym, DOM: &c})
			j.AppendDOM(sym, &d)
			for _, l := range [][]*float64{d.BidPrices, d.AskSizes} {
				for x := range l {
					l[x] = f64(-2)
				}
			}
		case k < 19:
			tk = schema.Tick{RecvTS: recv, TS: recv - 5e6, ContractID: 9, ConnID: 1, TickID: int64(i), Price: 6000.5, Size: 3,
				BidPrice: val(), AskPrice: val(), BidSize: val(), AskSize: val(), Source: []string{"live", "backfill"}[rng.IntN(2)]}
			for _, p := range []**float64{&tk.BidPrice, &tk.AskPrice, &tk.BidSize, &tk.AskSize} {
				if *p != nil && math.IsNaN(**p) {
					*p = nil // ticks compare with DeepEqual
				}
			}
			c := tk
			want = append(want, Record{Table: schema.TableTicks, Symbol: sym, Tick: &c})
			j.AppendTick(sym, &tk)
			tk = schema.Tick{Price: -3}
		default:
			gs, ge := recv-7e9, recv
			ev = schema.Event{RecvTS: recv, RunID: "r", Kind: "gap", Reason: "eof", ConnID: 2, Detail: `{"tables":["quotes"]}`}
			if rng.IntN(2) == 0 {
				ev.GapStart = &gs
			}
			if rng.IntN(2) == 0 {
				ev.GapEnd = &ge
			}
			c := ev
			if ev.GapStart != nil {
				c.GapStart = &[]int64{gs}[0]
			}
			if ev.GapEnd != nil {
				c.GapEnd = &[]int64{ge}[0]
			}
			want = append(want, Record{Table: schema.TableEvents, Symbol: sym, Event: &c})
			j.AppendEvent(sym, &ev)
			gs, ge = -4, -4
			ev = schema.Event{Kind: "overwritten"}
		}
		if rng.IntN(3000) == 0 {
			syncs = append(syncs, len(want))
			if err := j.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if st := j.Stats(); st.Frames < 2 || st.Records != n {
		t.Fatalf("stats %+v: want several frames and %d records", st, n)
	}

	segs, err := filepath.Glob(filepath.Join(j.Dir(), "*"+segExt))
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments: %v %v", segs, err)
	}
	slices.Sort(segs)
	var got []Record
	var frames [][]byte
	for _, p := range segs {
		dmg, _, err := ReadSegment(nil, p, func(r *Record) error { got = append(got, *r); return nil })
		if err != nil || dmg != nil {
			t.Fatalf("%s: %v %+v", p, err, dmg)
		}
		frames = append(frames, rawFrames(t, p)...)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d records, appended %d", len(got), len(want))
	}
	for i := range want {
		same := false
		switch want[i].Table {
		case schema.TableQuotes, schema.TableDOM:
			same = sameBits(got[i], want[i])
		default:
			same = reflect.DeepEqual(got[i], want[i])
		}
		if !same {
			t.Fatalf("record %d differs:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}

	// The same rows through the encoder, blocks cut where the flusher
	// cuts them (at blockSize, and at each Sync): the same bytes.
	var e encoder
	var direct [][]byte
	cut := func() {
		if len(e.b) > 0 {
			direct = append(direct, slices.Clone(e.b))
			e.reset()
		}
	}
	for i, r := range want {
		if len(syncs) > 0 && syncs[0] == i {
			syncs = syncs[1:]
			cut()
		}
		switch {
		case r.Quote != nil:
			e.quote(r.Symbol, r.Quote)
		case r.DOM != nil:
			e.dom(r.Symbol, r.DOM)
		case r.Tick != nil:
			e.tick(r.Symbol, r.Tick)
		default:
			e.event(r.Symbol, r.Event)
		}
		if len(e.b) >= blockSize {
			cut()
		}
	}
	cut()
	if len(direct) != len(frames) {
		t.Fatalf("%d frames on disk, %d blocks encoded directly", len(frames), len(direct))
	}
	for i := range direct {
		if !slices.Equal(direct[i], frames[i]) {
			t.Fatalf("frame %d: %d bytes on disk differ from the %d encoded directly", i, len(frames[i]), len(direct[i]))
		}
	}
}

// rawFrames returns the payloads of a segment's frames.
func rawFrames(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for off := len(magic); off < len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]) &^ frameRaw)
		out = append(out, b[off+frameHeader:off+frameHeader+n])
		off += frameHeader + n
	}
	return out
}

// A record stays 56 bytes: the memory figures of chunksInFlight and the
// package doc count on it.
func TestChunk_RecordSize(t *testing.T) {
	if n := unsafe.Sizeof(rec{}); n != 56 {
		t.Fatalf("rec is %d bytes, want 56", n)
	}
}
