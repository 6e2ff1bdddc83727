package pqw

import "github.com/mdcap/mdcap/schema"

// The Append methods copy a row into the column buffers, one column per
// field in the row type's field order (which is the schema's leaf order:
// TestLayoutFieldOrder checks it).

// int64Bytes is the estimate of a required int64 field.
const int64Bytes = 8

// AppendQuote buffers a quotes row.
func (w *Writer) AppendQuote(r *schema.Quote) {
	c := w.cols[:17:17]
	c[0].int64(r.RecvTS)
	c[1].int64(r.TS)
	c[2].int64(r.ContractID)
	n := c[3].optDouble(r.BidPrice) +
		c[4].optDouble(r.BidSize) +
		c[5].optDouble(r.AskPrice) +
		c[6].optDouble(r.AskSize) +
		c[7].optDouble(r.TradePrice) +
		c[8].optDouble(r.TradeSize) +
		c[9].optDouble(r.TotalVolume) +
		c[10].optDouble(r.OpenInterest) +
		c[11].optDouble(r.OpenPrice) +
		c[12].optDouble(r.HighPrice) +
		c[13].optDouble(r.LowPrice) +
		c[14].optDouble(r.SettlementPrice)
	c[15].int64(r.ConnID)
	c[16].int64(r.Seq)
	w.added(int64(5*int64Bytes + n))
}

// AppendDOM buffers a dom row.
func (w *Writer) AppendDOM(r *schema.DOM) {
	c := w.cols[:9:9]
	c[0].int64(r.RecvTS)
	c[1].int64(r.TS)
	c[2].int64(r.ContractID)
	c[3].int64(r.ConnID)
	c[4].int64(r.Seq)
	n := c[5].list(r.BidPrices) +
		c[6].list(r.BidSizes) +
		c[7].list(r.AskPrices) +
		c[8].list(r.AskSizes)
	w.added(int64(5*int64Bytes + n))
}

// AppendTick buffers a ticks row.
func (w *Writer) AppendTick(r *schema.Tick) {
	c := w.cols[:12:12]
	c[0].int64(r.RecvTS)
	c[1].int64(r.TS)
	c[2].int64(r.ContractID)
	c[3].int64(r.ConnID)
	c[4].int64(r.TickID)
	c[5].double(r.Price)
	c[6].double(r.Size)
	n := c[7].optDouble(r.BidPrice) +
		c[8].optDouble(r.AskPrice) +
		c[9].optDouble(r.BidSize) +
		c[10].optDouble(r.AskSize) +
		c[11].bytes(r.Source)
	w.added(int64(7*int64Bytes + n))
}

// AppendEvent buffers an events row.
func (w *Writer) AppendEvent(r *schema.Event) {
	c := w.cols[:8:8]
	c[0].int64(r.RecvTS)
	n := c[1].bytes(r.RunID) +
		c[2].bytes(r.Kind) +
		c[3].optInt64(r.GapStart) +
		c[4].optInt64(r.GapEnd) +
		c[5].bytes(r.Reason)
	c[6].int64(r.ConnID)
	n += c[7].bytes(r.Detail)
	w.added(int64(2*int64Bytes + n))
}
