package pqw

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// checkStats recomputes every column chunk's statistics from its values
// as parquet-go reads them and compares: NULL count, and min/max of the
// non-NULL non-NaN values (absent when there is none), -0 for a zero
// minimum and +0 for a zero maximum.
func checkStats(t *testing.T, f *parquet.File) {
	t.Helper()
	if n := len(f.Metadata().ColumnOrders); n != len(f.Schema().Columns()) {
		t.Fatalf("%d column orders for %d columns", n, len(f.Schema().Columns()))
	}
	for gi, rg := range f.RowGroups() {
		for ci, cc := range rg.ColumnChunks() {
			st := f.Metadata().RowGroups[gi].Columns[ci].MetaData.Statistics
			var nulls int64
			var vals []parquet.Value
			pages := cc.Pages()
			for {
				p, err := pages.ReadPage()
				if err != nil {
					break
				}
				buf := make([]parquet.Value, p.NumValues())
				n, _ := p.Values().ReadValues(buf)
				for _, v := range buf[:n] {
					if v.IsNull() {
						nulls++
					} else {
						vals = append(vals, v)
					}
				}
			}
			pages.Close()
			if st.NullCount != nulls {
				t.Errorf("row group %d column %d: null count %d, values say %d", gi, ci, st.NullCount, nulls)
			}
			lo, hi, ok := bounds(cc.Type().Kind(), vals)
			if !ok {
				if st.MinValue != nil || st.MaxValue != nil {
					t.Errorf("row group %d column %d: min/max %x/%x with no qualifying value", gi, ci, st.MinValue, st.MaxValue)
				}
				continue
			}
			if cc.Type().Kind() == parquet.ByteArray && (len(lo) > maxStatBytes || len(hi) > maxStatBytes || len(lo) == 0) {
				if st.MinValue != nil {
					t.Errorf("row group %d column %d: long or empty string bounds written", gi, ci)
				}
				continue
			}
			if !bytes.Equal(st.MinValue, lo) || !bytes.Equal(st.MaxValue, hi) {
				t.Errorf("row group %d column %d: min/max %x/%x, want %x/%x", gi, ci, st.MinValue, st.MaxValue, lo, hi)
			}
		}
	}
}

func bounds(kind parquet.Kind, vals []parquet.Value) (lo, hi []byte, ok bool) {
	switch kind {
	case parquet.Int64:
		var mn, mx int64
		for i, v := range vals {
			x := v.Int64()
			if i == 0 || x < mn {
				mn = x
			}
			if i == 0 || x > mx {
				mx = x
			}
		}
		if len(vals) == 0 {
			return nil, nil, false
		}
		return binary.LittleEndian.AppendUint64(nil, uint64(mn)), binary.LittleEndian.AppendUint64(nil, uint64(mx)), true
	case parquet.Double:
		mn, mx := math.Inf(1), math.Inf(-1)
		for _, v := range vals {
			x := v.Double()
			if math.IsNaN(x) {
				continue
			}
			ok = true
			mn, mx = math.Min(mn, x), math.Max(mx, x)
		}
		if !ok {
			return nil, nil, false
		}
		if mn == 0 {
			mn = math.Copysign(0, -1)
		}
		if mx == 0 {
			mx = 0
		}
		return binary.LittleEndian.AppendUint64(nil, math.Float64bits(mn)), binary.LittleEndian.AppendUint64(nil, math.Float64bits(mx)), true
	case parquet.ByteArray:
		for i, v := range vals {
			b := v.ByteArray()
			if i == 0 || bytes.Compare(b, lo) < 0 {
				lo = b
			}
			if i == 0 || bytes.Compare(b, hi) > 0 {
				hi = b
			}
		}
		return lo, hi, len(vals) > 0
	}
	return nil, nil, false
}

// TestStatsNaNAndZeros: NaN is never a bound, an all-NaN or all-NULL
// chunk has none, and signed zeros follow the format's rule.
func TestStatsNaNAndZeros(t *testing.T) {
	nan, negz := math.NaN(), math.Copysign(0, -1)
	for _, tc := range []struct {
		name   string
		vals   []*float64
		lo, hi *float64
	}{
		{"nan-only", []*float64{&nan, &nan}, nil, nil},
		{"null-only", []*float64{nil, nil}, nil, nil},
		{"nan-and-values", []*float64{&nan, f(3), f(-2), &nan}, f(-2), f(3)},
		{"positive-zero", []*float64{f(0), f(5)}, &negz, f(5)},
		{"negative-zero", []*float64{&negz, f(-5)}, f(-5), f(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := LayoutOf(0)
			c := column{leaf: &l.leaves[3]} // bid_price: optional double
			for _, v := range tc.vals {
				c.optDouble(v)
			}
			c.fold()
			st := c.chunk.st.statistics(c.leaf.typ)
			if st.NullCount != int64(countNil(tc.vals)) {
				t.Errorf("null count %d", st.NullCount)
			}
			check := func(what string, got []byte, want *float64) {
				if want == nil {
					if got != nil {
						t.Errorf("%s %x, want none", what, got)
					}
					return
				}
				if len(got) != 8 || binary.LittleEndian.Uint64(got) != math.Float64bits(*want) {
					t.Errorf("%s %x, want %v", what, got, *want)
				}
			}
			check("min", st.MinValue, tc.lo)
			check("max", st.MaxValue, tc.hi)
		})
	}
}

func f(v float64) *float64 { return &v }

func countNil(v []*float64) int {
	n := 0
	for _, p := range v {
		if p == nil {
			n++
		}
	}
	return n
}

var _ = format.Zstd
