package capturetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mdcap/mdcap/schema"
)

// Update is one md update the simulator wrote to a socket (its ground
// truth), reduced to the key a stored row must match.
type Update struct {
	T      int64 // send time, Unix ns
	Conn   int64 // server connection number
	Symbol string
	Table  string // "quotes" or "dom"
	Key    string // QuoteKey / DOMKey of the row it must become
}

// End is the end of a server connection.
type End struct {
	T     int64
	Conn  int64
	Cause string
}

// Truth is a parsed ground-truth JSONL log.
type Truth struct {
	Updates []Update
	Ends    []End
}

type truthLine struct {
	T          int64           `json:"t"`
	Conn       int64           `json:"conn"`
	Symbol     string          `json:"symbol"`
	ContractID int64           `json:"contractId"`
	Type       string          `json:"type"`
	TS         string          `json:"ts"`
	D          json.RawMessage `json:"d"`
	End        string          `json:"end"`
}

type priceSize struct {
	Price *float64 `json:"price"`
	Size  *float64 `json:"size"`
}

// ReadTruth parses the simulator's ground truth.
func ReadTruth(r io.Reader) (*Truth, error) {
	tr := &Truth{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var l truthLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("ground truth line %d: %w", n, err)
		}
		if l.End != "" {
			tr.Ends = append(tr.Ends, End{T: l.T, Conn: l.Conn, Cause: l.End})
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, l.TS)
		if err != nil {
			return nil, fmt.Errorf("ground truth line %d: ts: %w", n, err)
		}
		u := Update{T: l.T, Conn: l.Conn, Symbol: l.Symbol}
		switch l.Type {
		case "quote":
			var d struct {
				Entries map[string]priceSize `json:"entries"`
			}
			if err := json.Unmarshal(l.D, &d); err != nil {
				return nil, fmt.Errorf("ground truth line %d: %w", n, err)
			}
			e := d.Entries
			u.Table = "quotes"
			u.Key = quoteKey(ts.UnixNano(), l.ContractID, [12]*float64{
				e["Bid"].Price, e["Bid"].Size, e["Offer"].Price, e["Offer"].Size, e["Trade"].Price, e["Trade"].Size,
				e["TotalTradeVolume"].Size, e["OpenInterest"].Size, e["OpeningPrice"].Price, e["HighPrice"].Price,
				e["LowPrice"].Price, e["SettlementPrice"].Price,
			})
		case "dom":
			var d struct {
				Bids   []priceSize `json:"bids"`
				Offers []priceSize `json:"offers"`
			}
			if err := json.Unmarshal(l.D, &d); err != nil {
				return nil, fmt.Errorf("ground truth line %d: %w", n, err)
			}
			side := func(ls []priceSize) (p, s []*float64) {
				for _, l := range ls {
					p, s = append(p, l.Price), append(s, l.Size)
				}
				return p, s
			}
			bp, bs := side(d.Bids)
			ap, as := side(d.Offers)
			u.Table = "dom"
			u.Key = domKey(ts.UnixNano(), l.ContractID, bp, bs, ap, as)
		default:
			return nil, fmt.Errorf("ground truth line %d: unknown type %q", n, l.Type)
		}
		tr.Updates = append(tr.Updates, u)
	}
	return tr, sc.Err()
}

func num(p *float64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}

func quoteKey(ts, contract int64, v [12]*float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d", ts, contract)
	for _, p := range v {
		b.WriteByte('/')
		b.WriteString(num(p))
	}
	return b.String()
}

func domKey(ts, contract int64, lists ...[]*float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d", ts, contract)
	for _, l := range lists {
		b.WriteString("/[")
		for i, p := range l {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(num(p))
		}
		b.WriteByte(']')
	}
	return b.String()
}

// QuoteKey is the key of a stored quotes row.
func QuoteKey(q *schema.Quote) string {
	return quoteKey(q.TS, q.ContractID, [12]*float64{q.BidPrice, q.BidSize, q.AskPrice, q.AskSize, q.TradePrice,
		q.TradeSize, q.TotalVolume, q.OpenInterest, q.OpenPrice, q.HighPrice, q.LowPrice, q.SettlementPrice})
}

// DOMKey is the key of a stored dom row.
func DOMKey(d *schema.DOM) string {
	return domKey(d.TS, d.ContractID, d.BidPrices, d.BidSizes, d.AskPrices, d.AskSizes)
}

// Report is the outcome of comparing a dataset with the ground truth.
type Report struct {
	Sent     int      // updates the server wrote
	Stored   int      // rows in the dataset
	Covered  int      // updates sent, not stored, inside a gap of their symbol
	Problems []string // each a violation of the contract
}

// Compare checks the dataset against the truth: every update sent is stored
// (at least once, and never more often than it was sent — an update sent on
// two connections during a rotation is stored once), or was sent inside a
// gap of its symbol; no stored row lacks a sent update. slack widens each
// gap's start to allow for the send-to-receive delay (gap bounds are
// receive times, truth times are send times).
func Compare(d *Dataset, tr *Truth, slack time.Duration) Report {
	type k struct{ sym, table, key string }
	stored := map[k]int{}
	var r Report
	for sym, rows := range d.Quotes {
		for i := range rows {
			stored[k{sym, "quotes", QuoteKey(&rows[i])}]++
			r.Stored++
		}
	}
	for sym, rows := range d.DOMs {
		for i := range rows {
			stored[k{sym, "dom", DOMKey(&rows[i])}]++
			r.Stored++
		}
	}
	sent := map[k][]Update{}
	for _, u := range tr.Updates {
		kk := k{u.Symbol, u.Table, u.Key}
		sent[kk] = append(sent[kk], u)
	}
	r.Sent = len(tr.Updates)
	inGap := func(sym string, t int64) bool {
		for _, g := range d.Kind(sym, schema.KindGap) {
			if g.GapStart != nil && g.GapEnd != nil && *g.GapStart-int64(slack) <= t && t <= *g.GapEnd {
				return true
			}
		}
		return false
	}
	keys := make([]k, 0, len(sent))
	for kk := range sent {
		keys = append(keys, kk)
	}
	sort.Slice(keys, func(i, j int) bool { return sent[keys[i]][0].T < sent[keys[j]][0].T })
	for _, kk := range keys {
		us := sent[kk]
		n := stored[kk]
		switch {
		case n > len(us):
			r.Problems = append(r.Problems, fmt.Sprintf("%s %s %s stored %d times, sent %d", kk.sym, kk.table, kk.key, n, len(us)))
		case n == 0:
			for _, u := range us {
				if !inGap(u.Symbol, u.T) {
					r.Problems = append(r.Problems, fmt.Sprintf("%s %s sent at %s on server conn %d is neither stored nor inside a gap",
						u.Symbol, u.Table, time.Unix(0, u.T).UTC().Format(time.RFC3339Nano), u.Conn))
				} else {
					r.Covered++
				}
			}
		}
	}
	for kk, n := range stored {
		if _, ok := sent[kk]; !ok {
			r.Problems = append(r.Problems, fmt.Sprintf("phantom %s row %s %s (%d)", kk.table, kk.sym, kk.key, n))
		}
	}
	return r
}
