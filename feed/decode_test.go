package feed

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/bits"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"
)

const quoteFrame = `a[{"e":"md","d":{"quotes":[{"timestamp":"2021-04-13T04:59:06.588Z","contractId":123456,` +
	`"entries":{"Bid":{"price":18405.25,"size":7},"Offer":{"price":18405.5,"size":12.35},` +
	`"Trade":{"price":18405.25,"size":2},"TotalTradeVolume":{"size":4118},` +
	`"OpenInterest":{"size":40702},"OpeningPrice":{"price":18515.75},` +
	`"HighPrice":{"price":18520.25},"LowPrice":{"price":18355.5},` +
	`"SettlementPrice":{"price":18520.25}}}]}}]`

func domFrame(levels int) string {
	s := `a[{"e":"md","d":{"doms":[{"contractId":123456,"timestamp":"2021-04-13T11:33:57.488Z","bids":[`
	for i := 0; i < levels; i++ {
		if i > 0 {
			s += ","
		}
		s += `{"price":` + ftoa(2335.25-0.25*float64(i)) + `,"size":` + ftoa(33+float64(i)) + `}`
	}
	s += `],"offers":[`
	for i := 0; i < levels; i++ {
		if i > 0 {
			s += ","
		}
		s += `{"price":` + ftoa(2335.5+0.25*float64(i)) + `,"size":` + ftoa(255+float64(i)) + `}`
	}
	return s + `]}]}}]`
}

func ftoa(f float64) string { b, _ := json.Marshal(f); return string(b) }

func decodeFrame(t testing.TB, d *decoder, b *Batch, raw string) error {
	t.Helper()
	f, err := parseFrame([]byte(raw))
	if err != nil {
		return err
	}
	if f.kind != frameArray {
		t.Fatalf("frame %q: kind %d, want array", raw, f.kind)
	}
	return d.decode(f.payload, b)
}

func TestDecodeQuote(t *testing.T) {
	var d decoder
	var b Batch
	if err := decodeFrame(t, &d, &b, quoteFrame); err != nil {
		t.Fatal(err)
	}
	if len(b.Quotes) != 1 || len(b.DOMs) != 0 || len(d.msgs) != 0 {
		t.Fatalf("got %d quotes %d doms %d msgs", len(b.Quotes), len(b.DOMs), len(d.msgs))
	}
	q := b.Quotes[0]
	wantTS := time.Date(2021, 4, 13, 4, 59, 6, 588e6, time.UTC).UnixNano()
	want := Quote{ContractID: 123456, Timestamp: wantTS, Has: HasBid | HasBidSize | HasAsk | HasAskSize | HasTrade | HasTradeSize |
		HasTotalVolume | HasOpenInterest | HasOpen | HasHigh | HasLow | HasSettlement,
		Bid: 18405.25, BidSize: 7, Ask: 18405.5, AskSize: 12.35, Trade: 18405.25, TradeSize: 2, TotalVol: 4118,
		OpenInt: 40702, Open: 18515.75, High: 18520.25, Low: 18355.5, Settlement: 18520.25}
	if q != want {
		t.Fatalf("quote\n got %+v\nwant %+v", q, want)
	}
}

func TestDecodeAbsentEntriesAreNotSet(t *testing.T) {
	var d decoder
	var b Batch
	raw := `a[{"d":{"quotes":[{"contractId":7,"entries":{"Bid":{"price":1.5},"Offer":{"size":3,"price":null},"EmptyBook":{}},"timestamp":"2021-04-13T04:59:06Z","extra":[1,{"x":null}]}],"histograms":[{"contractId":7,"items":{"-1":5}}]},"e":"md"}]`
	if err := decodeFrame(t, &d, &b, raw); err != nil {
		t.Fatal(err)
	}
	if len(b.Quotes) != 1 {
		t.Fatalf("got %d quotes", len(b.Quotes))
	}
	q := b.Quotes[0]
	if q.Has != HasBid|HasAskSize || q.Bid != 1.5 || q.AskSize != 3 || q.ContractID != 7 {
		t.Fatalf("quote %+v", q)
	}
}

func TestDecodeDOMReusesSlices(t *testing.T) {
	var d decoder
	var b Batch
	if err := decodeFrame(t, &d, &b, domFrame(10)); err != nil {
		t.Fatal(err)
	}
	if len(b.DOMs) != 1 || len(b.DOMs[0].Bids) != 10 || len(b.DOMs[0].Offers) != 10 {
		t.Fatalf("dom %+v", b.DOMs)
	}
	if l := b.DOMs[0].Bids[1]; l.Price != 2335 || l.Size != 34 || !l.HasPrice || !l.HasSize {
		t.Fatalf("level %+v", l)
	}
	if err := decodeFrame(t, &d, &b, `a[{"e":"md","d":{"doms":[{"contractId":1,"timestamp":"2021-04-13T11:33:57.1Z","bids":[{"price":5}],"offers":[]}]}}]`); err != nil {
		t.Fatal(err)
	}
	m := b.DOMs[0]
	if len(m.Bids) != 1 || len(m.Offers) != 0 || m.Bids[0].HasSize || m.Bids[0].Price != 5 {
		t.Fatalf("dom after reuse %+v", m)
	}
}

func TestDecodeResponsesAndEvents(t *testing.T) {
	var d decoder
	var b Batch
	raw := `a[{"s":200,"i":3},{"s":404,"i":4,"d":"\"Not found: quote/subscribe\""},{"e":"shutdown","d":{"reasonCode":"Maintenance"}},{"e":"props","d":{}},{"e":"clock","d":"{\"t\":1}"}]`
	if err := decodeFrame(t, &d, &b, raw); err != nil {
		t.Fatal(err)
	}
	if len(d.msgs) != 5 {
		t.Fatalf("got %d messages", len(d.msgs))
	}
	if m := d.msgs[0]; m.kind != msgResponse || m.id != 3 || m.status != 200 || m.d != nil {
		t.Fatalf("msg0 %+v", m)
	}
	if m := d.msgs[1]; m.kind != msgResponse || m.id != 4 || m.status != 404 {
		t.Fatalf("msg1 %+v", m)
	}
	text, _ := responseText(d.msgs[1].d)
	if text != "Not found: quote/subscribe" {
		t.Fatalf("text %q", text)
	}
	if d.msgs[2].kind != msgShutdown || d.msgs[3].kind != msgEvent || string(d.msgs[4].event) != "clock" {
		t.Fatalf("msgs %+v", d.msgs)
	}
}

func TestDecodeMalformed(t *testing.T) {
	cases := []string{
		`a[`, `a[{]`, `a[{"e":"md","d":{"quotes":[{"contractId":1,}]}}]`, `a[{"e":"md"}]x`,
		`a[{"e":"md","d":{"quotes":[{"contractId":01}]}}]`, `a[{"e":"md","d":{"quotes":[{"entries":{"Bid":{"price":1e}}}]}}]`,
		`a["` + "\x01" + `"]`,
	}
	for _, c := range cases {
		var d decoder
		var b Batch
		err := decodeFrame(t, &d, &b, c)
		if err == nil {
			t.Errorf("%q: no error", c)
		}
		if len(b.Quotes) != 0 || len(d.msgs) != 0 {
			t.Errorf("%q: partial output kept", c)
		}
	}
}

func TestDecodeSkipsBadElements(t *testing.T) {
	var d decoder
	var b Batch
	raw := `a[{"e":"md","d":{"quotes":[{"contractId":1,"timestamp":"bad"},{"timestamp":"2021-04-13T04:59:06Z"},{"contractId":2,"timestamp":"2021-04-13T04:59:06.5Z"}]}},{"x":1}]`
	if err := decodeFrame(t, &d, &b, raw); err != nil {
		t.Fatal(err)
	}
	if len(b.Quotes) != 1 || b.Quotes[0].ContractID != 2 || d.skipped != 3 {
		t.Fatalf("quotes %+v skipped %d", b.Quotes, d.skipped)
	}
}

func TestParseNumber(t *testing.T) {
	for _, s := range []string{"0", "-0", "1", "18405.25", "12.35", "0.1", "-7.125", "123456789012345", "1234567890123456789",
		"1e3", "2.5E-3", "0.000000000000000000000001", "9007199254740993", "1.7976931348623157e308"} {
		got, ok := parseNumber([]byte(s))
		var want float64
		if err := json.Unmarshal([]byte(s), &want); err != nil || !ok || (got != want && !(math.IsNaN(got) && math.IsNaN(want))) {
			t.Errorf("%s: got %v ok=%v want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "-", "01", "1.", ".5", "1e", "+1", "1e+", "0x10", "--1", "1.2.3"} {
		if _, ok := parseNumber([]byte(s)); ok {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	for _, s := range []string{"2021-04-13T04:59:06.588Z", "2021-04-13T04:59:06Z", "2021-04-13T04:59:06.123456789Z",
		"2024-02-29T23:59:59.9Z", "1969-12-31T23:59:59.5Z", "2021-04-13T04:59:06.588+02:30", "2021-04-13T04:59:06-05:00", "2400-03-01T00:00:00Z"} {
		got, ok := parseTimestamp([]byte(s))
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !ok || got != want.UnixNano() {
			t.Errorf("%s: got %d ok=%v want %d (%v)", s, got, ok, want.UnixNano(), err)
		}
	}
	for _, s := range []string{"", "2021-04-13", "2021-02-30T00:00:00Z", "2021-04-13T24:00:00Z", "2021-04-13T04:59:06", "2021-04-13T04:59:06.Z"} {
		if _, ok := parseTimestamp([]byte(s)); ok {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestParseFrame(t *testing.T) {
	f, err := parseFrame([]byte(`c[3000,"Go away!"]`))
	if err != nil || f.kind != frameClose || f.code != 3000 || f.reason != "Go away!" {
		t.Fatalf("close frame %+v %v", f, err)
	}
	for raw, kind := range map[string]frameKind{"o": frameOpen, "h": frameHeartbeat, "a[]": frameArray, "c[]": frameClose} {
		f, err := parseFrame([]byte(raw))
		if err != nil || f.kind != kind {
			t.Errorf("%q: %+v %v", raw, f, err)
		}
	}
	for _, raw := range []string{"", "x", "oo", "a", "a{}", "c", "c[1.5]", "c{", "h "} {
		if _, err := parseFrame([]byte(raw)); err == nil {
			t.Errorf("%q accepted", raw)
		}
	}
	got := string(appendRequest(nil, "authorize", 7, "", []byte("tok.en")))
	if got != "authorize\n7\n\ntok.en" {
		t.Fatalf("request %q", got)
	}
}

func benchDecode(b *testing.B, raw string, quotes, doms int) {
	data := []byte(raw)
	var d decoder
	var batch Batch
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var cpu cpuTimer
	cpu.start(b)
	for i := 0; i < b.N; i++ {
		f, err := parseFrame(data)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.decode(f.payload, &batch); err != nil {
			b.Fatal(err)
		}
		if len(batch.Quotes) != quotes || len(batch.DOMs) != doms {
			b.Fatal("wrong count")
		}
	}
	cpu.stop(b)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkDecodeQuoteFrame decodes a realistic one-quote frame with every entry.
func BenchmarkDecodeQuoteFrame(b *testing.B) { benchDecode(b, quoteFrame, 1, 0) }

// BenchmarkDecodeDOMFrame decodes a 10-level DOM frame.
func BenchmarkDecodeDOMFrame(b *testing.B) { benchDecode(b, domFrame(10), 0, 1) }

// BenchmarkDecodeQuoteFrameFastjsonBaseline parses the same frame with
// valyala/fastjson (tree only, no field extraction) as a reference for
// the figures of BenchmarkDecodeQuoteFrame taken on the same machine.
func BenchmarkDecodeQuoteFrameFastjsonBaseline(b *testing.B) {
	data := []byte(quoteFrame)[1:]
	var p fastjson.Parser
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := p.ParseBytes(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

func TestScannerFloatMatchesJSON(t *testing.T) {
	for _, s := range []string{"0", "-0", "7", "18405.25", "0.5", "-12.375", "123456789012345", "1234567890123456", "0.1234567890123456",
		"1e3", "1.5E+2", "01", "1.", "-", "1.2.3", "0.", "00.5", "-.5", "5e", "2.5,", "3]", "9007199254740993", "1.5x"} {
		var sc scanner
		sc.reset([]byte(s))
		got, present, ok := sc.float()
		var want float64
		tok := strings.TrimRight(s, ",]")
		err := json.Unmarshal([]byte(tok), &want)
		fullyRead := sc.i == len(tok)
		if (err == nil) != (ok && present && fullyRead) || (err == nil && got != want) {
			t.Errorf("%q: got %v present=%v ok=%v read=%d; json %v err=%v", s, got, present, ok, sc.i, want, err)
		}
	}
}

func TestStopBytesFindsFirstStop(t *testing.T) {
	for n := 0; n < 200000; n++ {
		var b [8]byte
		for i := range b {
			b[i] = byte((n*131 + i*i*17 + n>>3*i) % 256)
			if (n+i)%5 != 0 && b[i] < 0x20 {
				b[i] += 0x40
			}
		}
		want := 8
		for i, c := range b {
			if strStop[c] {
				want = i
				break
			}
		}
		x := stopBytes(binary.LittleEndian.Uint64(b[:]))
		got := 8
		if x != 0 {
			got = bits.TrailingZeros64(x) / 8
		}
		if got != want {
			t.Fatalf("%q: first stop at %d, want %d", b, got, want)
		}
	}
}
