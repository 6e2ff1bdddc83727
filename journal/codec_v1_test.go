package journal

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/mdcap/mdcap/schema"
)

// The first record format's encoders: the recorder no longer writes it,
// but recovery still reads journals an older recorder left.

func (e *encoder) quoteV1(sym string, q *schema.Quote) {
	e.b = append(e.b, recQuote)
	e.symbol(sym)
	e.recv(q.RecvTS)
	e.varint(q.TS - q.RecvTS)
	e.varint(q.ContractID)
	e.varint(q.ConnID)
	e.varint(q.Seq)
	e.opt(q.BidPrice, q.BidSize, q.AskPrice, q.AskSize, q.TradePrice, q.TradeSize,
		q.TotalVolume, q.OpenInterest, q.OpenPrice, q.HighPrice, q.LowPrice, q.SettlementPrice)
}

func (e *encoder) domV1(sym string, d *schema.DOM) {
	e.b = append(e.b, recDOM)
	e.symbol(sym)
	e.recv(d.RecvTS)
	e.varint(d.TS - d.RecvTS)
	e.varint(d.ContractID)
	e.varint(d.ConnID)
	e.varint(d.Seq)
	e.list(d.BidPrices)
	e.list(d.BidSizes)
	e.list(d.AskPrices)
	e.list(d.AskSizes)
}

// list writes a list of nullable doubles: length+1 (0 = nil list), then
// each element's tag and value.
func (e *encoder) list(l []*float64) {
	if l == nil {
		e.b = append(e.b, 0)
		return
	}
	e.b = binary.AppendUvarint(e.b, uint64(len(l))+1)
	for _, p := range l {
		if p == nil {
			e.b = append(e.b, tagNull)
			continue
		}
		t, i := tagOf(*p)
		e.b = append(e.b, t)
		e.value(t, i, *p)
	}
}

func TestCodec_FirstFormatStillDecodes(t *testing.T) {
	q := schema.Quote{RecvTS: 5, TS: 4, ContractID: 9, ConnID: 2, Seq: 77, BidPrice: f64(6000.25), AskSize: f64(0.1 + 0.2)}
	d := schema.DOM{RecvTS: 10, TS: 11, ContractID: 9, ConnID: 1, Seq: 3,
		BidPrices: []*float64{f64(1), nil, f64(3)}, BidSizes: []*float64{}, AskSizes: []*float64{nil}}
	var e encoder
	e.quoteV1("ESZ6", &q)
	e.domV1("ESZ6", &d)
	e.quote("ESZ6", &q) // both formats may share a block
	dec := decoder{b: e.b}
	for i, want := range []any{q, d, q} {
		r, ok := dec.next()
		if !ok {
			t.Fatalf("record %d: %v", i, dec.err)
		}
		var got any
		if r.Quote != nil {
			got = *r.Quote
		} else {
			got = *r.DOM
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("record %d: %+v, want %+v", i, got, want)
		}
	}
}

// BenchmarkCodecMix compares the encodings on mixRows: the first format
// and the delta format, the encoding alone and with S2 per 256 KiB block.
func BenchmarkCodecMix(b *testing.B) {
	rows := mixRows(1 << 14)
	for _, c := range []struct {
		name   string
		v1, s2 bool
	}{{"first", true, false}, {"first+s2", true, true}, {"delta", false, false}, {"delta+s2", false, true}} {
		b.Run(c.name, func(b *testing.B) {
			var e encoder
			var dst []byte
			var in, out int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := &rows[i%len(rows)]
				switch {
				case r.q != nil && c.v1:
					e.quoteV1(r.sym, r.q)
				case r.q != nil:
					e.quote(r.sym, r.q)
				case c.v1:
					e.domV1(r.sym, r.d)
				default:
					e.dom(r.sym, r.d)
				}
				if len(e.b) >= blockSize {
					in += int64(len(e.b))
					if c.s2 {
						dst = s2.Encode(dst[:cap(dst)], e.b)
						out += int64(len(dst))
					}
					e.reset()
				}
			}
			b.ReportMetric(float64(in)/float64(b.N), "raw_B/row")
			if c.s2 {
				b.ReportMetric(float64(out)/float64(b.N), "s2_B/row")
			}
		})
	}
}

// A segment of an earlier recorder — S2-compressed frames of the first
// record format — is still read; so is one mixing both kinds of frames.
func TestReadSegment_CompressedFramesOfEarlierRecorders(t *testing.T) {
	q := schema.Quote{RecvTS: 5, TS: 4, ContractID: 9, ConnID: 2, Seq: 1, BidPrice: f64(6000.25)}
	var old, cur encoder
	old.quoteV1("ESZ6", &q)
	q2 := q
	q2.Seq = 2
	cur.quote("ESZ6", &q2)
	enc := s2.Encode(nil, old.b)
	b := []byte(magic)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(enc)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(enc, castagnoli))
	b = append(b, enc...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(cur.b))|frameRaw)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(cur.b, castagnoli))
	b = append(b, cur.b...)
	p := filepath.Join(t.TempDir(), "00000001.seg")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	dmg, _, err := ReadSegment(nil, p, func(r *Record) error { seqs = append(seqs, r.Quote.Seq); return nil })
	if err != nil || dmg != nil || !reflect.DeepEqual(seqs, []int64{1, 2}) {
		t.Fatalf("read %v, damage %+v, err %v", seqs, dmg, err)
	}
}
