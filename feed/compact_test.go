package feed

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// decodeBoth decodes payload with the compact paths on and off and fails
// the test if the two differ in anything: error or not, quotes, DOMs
// (every level), messages, skipped elements and why.
func decodeBoth(t testing.TB, payload []byte) (*decoder, *Batch, error) {
	t.Helper()
	fast, slow := &decoder{}, &decoder{noCompact: true}
	var fb, sb Batch
	ferr := fast.decode(payload, &fb)
	serr := slow.decode(payload, &sb)
	if (ferr == nil) != (serr == nil) {
		t.Fatalf("%q: compact error %v, general error %v", payload, ferr, serr)
	}
	if ferr != nil && ferr.Error() != serr.Error() {
		t.Fatalf("%q: compact error %v, general error %v", payload, ferr, serr)
	}
	if len(fb.Quotes) != len(sb.Quotes) || len(fb.DOMs) != len(sb.DOMs) || len(fast.msgs) != len(slow.msgs) {
		t.Fatalf("%q: compact %d quotes %d doms %d msgs, general %d %d %d", payload,
			len(fb.Quotes), len(fb.DOMs), len(fast.msgs), len(sb.Quotes), len(sb.DOMs), len(slow.msgs))
	}
	for i := range fb.Quotes {
		if !sameQuote(fb.Quotes[i], sb.Quotes[i]) {
			t.Fatalf("%q: quote %d\ncompact %+v\ngeneral %+v", payload, i, fb.Quotes[i], sb.Quotes[i])
		}
	}
	for i := range fb.DOMs {
		if err := sameDOM(fb.DOMs[i], sb.DOMs[i]); err != nil {
			t.Fatalf("%q: dom %d: %v", payload, i, err)
		}
	}
	for i := range fast.msgs {
		f, s := fast.msgs[i], slow.msgs[i]
		if f.kind != s.kind || f.id != s.id || f.status != s.status || !bytes.Equal(f.event, s.event) || !bytes.Equal(f.d, s.d) {
			t.Fatalf("%q: message %d: compact %+v general %+v", payload, i, f, s)
		}
	}
	if fast.skipped != slow.skipped || fmt.Sprint(fast.skipErr) != fmt.Sprint(slow.skipErr) {
		t.Fatalf("%q: skipped compact %d (%v) general %d (%v)", payload, fast.skipped, fast.skipErr, slow.skipped, slow.skipErr)
	}
	return fast, &fb, ferr
}

// sameQuote compares two quotes bit for bit (a NaN cannot come from JSON).
func sameQuote(a, b Quote) bool { return a == b }

func sameDOM(a, b DOM) error {
	if a.ContractID != b.ContractID || a.Timestamp != b.Timestamp || len(a.Bids) != len(b.Bids) || len(a.Offers) != len(b.Offers) {
		return fmt.Errorf("compact %+v general %+v", a, b)
	}
	for k := range a.Bids {
		if a.Bids[k] != b.Bids[k] {
			return fmt.Errorf("bid %d: compact %+v general %+v", k, a.Bids[k], b.Bids[k])
		}
	}
	for k := range a.Offers {
		if a.Offers[k] != b.Offers[k] {
			return fmt.Errorf("offer %d: compact %+v general %+v", k, a.Offers[k], b.Offers[k])
		}
	}
	return nil
}

// serverFrame writes a random frame the way the server (and the
// simulator) writes them: one md event of quotes or of DOMs, compact.
func serverFrame(rng *rand.Rand) []byte {
	num := func() string {
		switch rng.IntN(4) {
		case 0:
			return strconv.Itoa(rng.IntN(100000))
		case 1:
			return strconv.FormatFloat(float64(rng.IntN(10000000))/4, 'f', -1, 64)
		case 2:
			return strconv.FormatFloat(float64(rng.IntN(100000000))/100, 'f', -1, 64)
		}
		return strconv.FormatFloat(rng.Float64()*1e4, 'f', -1, 64)
	}
	ts := func() string {
		return time.UnixMilli(1.7e12 + rng.Int64N(1e11)).UTC().Format("2006-01-02T15:04:05.000Z")
	}
	b := []byte(`[{"e":"md","d":{"`)
	n := 1 + rng.IntN(3)
	if rng.IntN(4) > 0 {
		b = append(b, `quotes":[`...)
		for i := 0; i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"timestamp":"`+ts()+`","contractId":`+strconv.Itoa(1+rng.IntN(9999999))+`,"entries":{`...)
			first := true
			for _, e := range []struct {
				name        string
				price, size bool
			}{{"Bid", true, true}, {"Offer", true, true}, {"Trade", true, true}, {"TotalTradeVolume", false, true},
				{"OpenInterest", false, true}, {"OpeningPrice", true, false}, {"HighPrice", true, false},
				{"LowPrice", true, false}, {"SettlementPrice", true, false}} {
				if rng.IntN(3) == 0 {
					continue
				}
				if !first {
					b = append(b, ',')
				}
				first = false
				b = append(b, `"`+e.name+`":{`...)
				if e.price {
					b = append(b, `"price":`+num()...)
				}
				if e.size && e.price && rng.IntN(5) > 0 {
					b = append(b, `,"size":`+num()...)
				} else if e.size && !e.price {
					b = append(b, `"size":`+num()...)
				}
				b = append(b, '}')
			}
			b = append(b, "}}"...)
		}
	} else {
		b = append(b, `doms":[`...)
		for i := 0; i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"contractId":`+strconv.Itoa(1+rng.IntN(9999999))+`,"timestamp":"`+ts()+`","bids":[`...)
			for side := 0; side < 2; side++ {
				if side == 1 {
					b = append(b, `],"offers":[`...)
				}
				for k := rng.IntN(12); k > 0; k-- {
					b = append(b, `{"price":`+num()+`,"size":`+num()+`}`...)
					if k > 1 {
						b = append(b, ',')
					}
				}
			}
			b = append(b, "]}"...)
		}
	}
	return append(b, "]}}]"...)
}

// TestCompactMatchesGeneral decodes server-shaped frames, and the same
// frames with random edits (white space, nulls, other keys, broken
// bytes), with the compact paths on and off: the results are identical.
func TestCompactMatchesGeneral(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	edits := []string{" ", "\n", "null", `"x":1,`, ",", "}", "]", "{", "e", ".", "0", "-", `\"`, `"`, "\x01", "9", `"price":`, `"size":`, "Bid", "Offer", "Open", "Trade", "Price", "x"}
	compact := 0
	for iter := 0; iter < 20000; iter++ {
		frame := serverFrame(rng)
		if iter%2 == 1 {
			for k := 1 + rng.IntN(3); k > 0; k-- {
				at := rng.IntN(len(frame) + 1)
				e := edits[rng.IntN(len(edits))]
				cut := at
				if rng.IntN(2) == 0 && at < len(frame) {
					cut = at + 1 + rng.IntN(min(4, len(frame)-at))
				}
				frame = append(frame[:at:at], append([]byte(e), frame[cut:]...)...)
			}
		}
		d, b, err := decodeBoth(t, frame)
		if iter%2 == 0 {
			if err != nil || d.skipped != 0 || len(b.Quotes)+len(b.DOMs) == 0 {
				t.Fatalf("%s: server frame: %v, %d skipped", frame, err, d.skipped)
			}
			compact++
		}
	}
	// The unedited frames do take the compact paths.
	var d decoder
	var b Batch
	d.s.reset(serverFrame(rng))
	d.b = &b
	d.s.i++
	if !d.compactMD() {
		t.Fatalf("compact path refused a server frame %s", d.s.b)
	}
}

// TestCompactDepthLimitAsGeneral: an element nested near the depth limit
// fails or passes the same way on both paths.
func TestCompactDepthLimitAsGeneral(t *testing.T) {
	for depth := 55; depth < 64; depth++ {
		deep := bytes.Repeat([]byte("["), depth)
		deep = append(deep, bytes.Repeat([]byte("]"), depth)...)
		frame := `[{"e":"md","d":{"quotes":[{"timestamp":"2021-04-13T04:59:06.588Z","contractId":1,"entries":{},"x":` + string(deep) + `}]}}]`
		decodeBoth(t, []byte(frame))
	}
}

// TestMinuteCacheMatchesParse: timestamps one after another (most share
// their minute, some are broken in any byte) parse through the cache
// exactly as without it, and as time.Parse does.
func TestMinuteCacheMatchesParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	var mc minuteCache
	ms := int64(1.7e12)
	layouts := []string{"2006-01-02T15:04:05.000Z", "2006-01-02T15:04:05Z", "2006-01-02T15:04:05.999999999Z", "2006-01-02T15:04:05.000-07:00"}
	zones := []*time.Location{time.UTC, time.FixedZone("x", -5*3600), time.FixedZone("y", 5*3600+1800)}
	for n := 0; n < 200000; n++ {
		ms += rng.Int64N(3000)
		if rng.IntN(50) == 0 {
			ms += rng.Int64N(1e10)
		}
		tm := time.UnixMilli(ms).In(zones[rng.IntN(len(zones))])
		s := []byte(tm.Format(layouts[rng.IntN(len(layouts))]))
		if rng.IntN(10) == 0 {
			s[rng.IntN(len(s))] = "0123456789:-TZ.+x"[rng.IntN(17)]
		}
		got, ok := mc.parse(s)
		want, wantOK := parseTimestampFast(s)
		if ok != wantOK || got != want {
			t.Fatalf("%s: cache %d %v, parse %d %v", s, got, ok, want, wantOK)
		}
		if p, err := time.Parse(time.RFC3339Nano, string(s)); ok && (err != nil || p.UnixNano() != got) {
			t.Fatalf("%s: %d, time.Parse %v %v", s, got, p, err)
		}
	}
}
