package feed

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// TestDecodeMatchesEncodingJSON encodes random md events with
// encoding/json (random entry subsets, nulls, unknown fields, several
// quotes and doms per frame) and checks the decoder reads back exactly
// what was encoded.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"Bid", "Offer", "Trade", "TotalTradeVolume", "OpenInterest", "OpeningPrice", "HighPrice", "LowPrice", "SettlementPrice"}
	num := func() float64 {
		switch rng.IntN(4) {
		case 0:
			return float64(rng.IntN(100000))
		case 1:
			return float64(rng.IntN(10000000)) / 100
		case 2:
			return rng.Float64() * 1e6
		}
		return -rng.Float64()
	}
	var d decoder
	var b Batch
	for iter := 0; iter < 3000; iter++ {
		var want []Quote
		var wantD []DOM
		var quotes, doms []any
		for n := rng.IntN(4); n >= 0; n-- {
			ts := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).UTC()
			ts = ts.Truncate(time.Duration(pow10i(rng.IntN(10))))
			q := Quote{ContractID: rng.Int64N(1 << 40), Timestamp: ts.UnixNano()}
			entries := map[string]any{"Unknown": map[string]any{"x": []any{1, "y"}}}
			for i, name := range names {
				if rng.IntN(3) == 0 {
					continue
				}
				e := map[string]any{}
				p, s := num(), num()
				switch i {
				case 0, 1, 2:
					if rng.IntN(4) > 0 {
						e["price"] = p
					} else if rng.IntN(2) == 0 {
						e["price"] = nil
					}
					if rng.IntN(4) > 0 {
						e["size"] = s
					}
				case 3, 4:
					e["size"] = s
				default:
					e["price"] = p
				}
				entries[name] = e
				setEntry(&q, i, e)
			}
			want = append(want, q)
			quotes = append(quotes, map[string]any{"timestamp": ts.Format(time.RFC3339Nano), "contractId": q.ContractID, "entries": entries, "extra": nil})
		}
		for n := rng.IntN(2); n > 0; n-- {
			m := DOM{ContractID: rng.Int64N(1 << 40), Timestamp: time.Unix(rng.Int64N(4e9), 0).UnixNano()}
			var bids, offers []any
			for k := rng.IntN(12); k > 0; k-- {
				l := Level{Price: num(), Size: num(), HasPrice: true, HasSize: rng.IntN(5) > 0}
				if !l.HasSize {
					l.Size = 0
				}
				m.Bids = append(m.Bids, l)
				lv := map[string]any{"price": l.Price}
				if l.HasSize {
					lv["size"] = l.Size
				}
				bids = append(bids, lv)
			}
			for k := rng.IntN(3); k > 0; k-- {
				m.Offers = append(m.Offers, Level{Size: 1, HasSize: true})
				offers = append(offers, map[string]any{"size": 1, "price": nil})
			}
			wantD = append(wantD, m)
			doms = append(doms, map[string]any{"contractId": m.ContractID, "timestamp": time.Unix(0, m.Timestamp).UTC().Format(time.RFC3339), "bids": bids, "offers": offers})
		}
		msgs := []any{map[string]any{"e": "md", "d": map[string]any{"quotes": quotes, "doms": doms, "histograms": []any{}}}, map[string]any{"s": 200, "i": iter}}
		raw, err := json.Marshal(msgs)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.decode(raw, &b); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if len(b.Quotes) != len(want) || len(b.DOMs) != len(wantD) || len(d.msgs) != 1 || d.msgs[0].id != int64(iter) {
			t.Fatalf("%s: %d quotes %d doms %d msgs", raw, len(b.Quotes), len(b.DOMs), len(d.msgs))
		}
		for i := range want {
			if b.Quotes[i] != want[i] {
				t.Fatalf("%s\nquote %d\n got %+v\nwant %+v", raw, i, b.Quotes[i], want[i])
			}
		}
		for i := range wantD {
			g, w := b.DOMs[i], wantD[i]
			if g.ContractID != w.ContractID || g.Timestamp != w.Timestamp || len(g.Bids) != len(w.Bids) || len(g.Offers) != len(w.Offers) {
				t.Fatalf("%s\ndom %d: got %+v want %+v", raw, i, g, w)
			}
			for k := range w.Bids {
				if g.Bids[k] != w.Bids[k] {
					t.Fatalf("%s\nbid %d: got %+v want %+v", raw, k, g.Bids[k], w.Bids[k])
				}
			}
			for k := range w.Offers {
				if g.Offers[k] != w.Offers[k] {
					t.Fatalf("offer %d: got %+v want %+v", k, g.Offers[k], w.Offers[k])
				}
			}
		}
	}
}

func pow10i(n int) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

func setEntry(q *Quote, i int, e map[string]any) {
	p, hasP := e["price"].(float64)
	s, hasS := e["size"].(float64)
	flags := [][2]uint16{{HasBid, HasBidSize}, {HasAsk, HasAskSize}, {HasTrade, HasTradeSize}, {0, HasTotalVolume}, {0, HasOpenInterest},
		{HasOpen, 0}, {HasHigh, 0}, {HasLow, 0}, {HasSettlement, 0}}
	pd := []*float64{&q.Bid, &q.Ask, &q.Trade, nil, nil, &q.Open, &q.High, &q.Low, &q.Settlement}
	sd := []*float64{&q.BidSize, &q.AskSize, &q.TradeSize, &q.TotalVol, &q.OpenInt, nil, nil, nil, nil}
	if hasP && pd[i] != nil {
		*pd[i] = p
		q.Has |= flags[i][0]
	}
	if hasS && sd[i] != nil {
		*sd[i] = s
		q.Has |= flags[i][1]
	}
}
