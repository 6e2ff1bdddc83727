package journal

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/mdcap/mdcap/schema"
)

// FuzzReadSegment: any bytes in a segment file are read without a panic;
// a damage report always points inside the file, and records come only
// from frames that passed their checksum.
func FuzzReadSegment(f *testing.F) {
	var e encoder
	e.quote("ESZ6", &schema.Quote{RecvTS: 5, Seq: 1, BidPrice: f64(6000.25)})
	e.dom("NQZ6", &schema.DOM{RecvTS: 6, Seq: 1, BidPrices: []*float64{f64(1), nil}})
	frame := func(block []byte) []byte {
		enc := s2.Encode(nil, block)
		b := binary.LittleEndian.AppendUint32(nil, uint32(len(enc)))
		b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(enc, castagnoli))
		return append(b, enc...)
	}
	good := append([]byte(magic), frame(e.b)...)
	f.Add(good)
	raw := binary.LittleEndian.AppendUint32([]byte(magic), uint32(len(e.b))|frameRaw)
	raw = binary.LittleEndian.AppendUint32(raw, crc32.Checksum(e.b, castagnoli))
	f.Add(append(raw, e.b...))
	f.Add(good[:len(good)-3])
	f.Add([]byte(magic))
	f.Add(append([]byte(magic), frame([]byte{recQuote, 0, 4, 'E', 'S', 'Z', '6', 0xff})...)) // checksum ok, records bad
	f.Add(make([]byte, 64))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "seg")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		n := 0
		dmg, tail, err := ReadSegment(nil, p, func(*Record) error { n++; return nil })
		if err != nil {
			t.Fatal(err)
		}
		if dmg != nil && (dmg.Offset < 0 || dmg.Offset > int64(len(data)) || dmg.Bytes != int64(len(tail)) ||
			dmg.Offset+dmg.Bytes != int64(len(data))) {
			t.Fatalf("damage %+v outside a %d-byte file", dmg, len(data))
		}
	})
}

// FuzzDecodeBlock: any decompressed block decodes without a panic, and
// what decodes re-encodes to the same records.
func FuzzDecodeBlock(f *testing.F) {
	var e encoder
	e.quote("ESZ6", &schema.Quote{RecvTS: 5, Seq: 1, BidPrice: f64(6000.25), AskSize: f64(0.1 + 0.2)})
	e.dom("NQZ6", &schema.DOM{RecvTS: 6, Seq: 1, BidPrices: []*float64{f64(1), nil}, AskSizes: []*float64{}})
	gs := int64(3)
	e.event("ESZ6", &schema.Event{RecvTS: 7, Kind: "gap", GapStart: &gs, Detail: "{}"})
	e.tick("ESZ6", &schema.Tick{RecvTS: 8, TickID: 9, Price: 1, BidSize: f64(2), Source: "live"})
	f.Add(e.b)
	f.Add(e.b[:len(e.b)/2])
	page := pageRecordBlock(f, "ESZ6", 30)
	f.Add(page)
	f.Add(append(bytes.Clone(e.b), page...))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := decoder{b: data}
		defer d.closePages()
		var again encoder
		for {
			r, ok := d.next()
			if !ok {
				break
			}
			switch r.Table {
			case schema.TableQuotes:
				again.quote(r.Symbol, r.Quote)
			case schema.TableDOM:
				again.dom(r.Symbol, r.DOM)
			case schema.TableEvents:
				again.event(r.Symbol, r.Event)
			case schema.TableTicks:
				again.tick(r.Symbol, r.Tick)
			}
		}
		d2 := decoder{b: again.b}
		for {
			if _, ok := d2.next(); !ok {
				break
			}
		}
		if d2.err != nil {
			t.Fatalf("re-encoded records do not decode: %v", d2.err)
		}
	})
}
