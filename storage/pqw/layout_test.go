package pqw

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/mdcap/mdcap/schema"
)

// TestSchemaMatchesParquetGo: a pqw file's schema reads back exactly as
// the schema of a file parquet-go writes from the same row type, and so
// do the footer's schema elements and column orders.
func TestSchemaMatchesParquetGo(t *testing.T) {
	for _, tc := range []struct {
		table schema.Table
		row   any
		pqw   func() []byte
	}{
		{schema.TableQuotes, schema.Quote{}, func() []byte {
			return writeFile(t, schema.TableQuotes, []schema.Quote{newGen(1).quote()}, 10, 0, (*Writer).AppendQuote)
		}},
		{schema.TableDOM, schema.DOM{}, func() []byte {
			return writeFile(t, schema.TableDOM, []schema.DOM{newGen(1).dom()}, 10, 0, (*Writer).AppendDOM)
		}},
		{schema.TableTicks, schema.Tick{}, func() []byte {
			return writeFile(t, schema.TableTicks, []schema.Tick{newGen(1).tick()}, 10, 0, (*Writer).AppendTick)
		}},
		{schema.TableEvents, schema.Event{}, func() []byte {
			return writeFile(t, schema.TableEvents, []schema.Event{newGen(1).event()}, 10, 0, (*Writer).AppendEvent)
		}},
	} {
		t.Run(tc.table.String(), func(t *testing.T) {
			var ref bytes.Buffer
			w := parquet.NewWriter(&ref, parquet.SchemaOf(tc.row))
			if err := w.Write(tc.row); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			want, err := parquet.OpenFile(bytes.NewReader(ref.Bytes()), int64(ref.Len()))
			if err != nil {
				t.Fatal(err)
			}
			b := tc.pqw()
			got, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if g, w := got.Schema().String(), want.Schema().String(); g != w {
				t.Fatalf("schema:\n%s\nparquet-go:\n%s", g, w)
			}
			if g, w := got.Metadata().Schema, want.Metadata().Schema; !reflect.DeepEqual(g, w) {
				t.Errorf("schema elements:\n%+v\nparquet-go:\n%+v", g, w)
			}
			if g, w := got.Metadata().ColumnOrders, want.Metadata().ColumnOrders; !reflect.DeepEqual(g, w) {
				t.Errorf("column orders %+v, parquet-go %+v", g, w)
			}
			if !strings.Contains(got.Schema().String(), "message ") {
				t.Errorf("schema string %q", got.Schema().String())
			}
		})
	}
}

// TestLayoutFieldOrder: the Append methods put field i of the row type
// into column i, so the leaves must follow the fields' order.
func TestLayoutFieldOrder(t *testing.T) {
	for tb, row := range map[schema.Table]any{
		schema.TableQuotes: schema.Quote{}, schema.TableDOM: schema.DOM{},
		schema.TableTicks: schema.Tick{}, schema.TableEvents: schema.Event{},
	} {
		l, err := LayoutOf(tb)
		if err != nil {
			t.Fatal(err)
		}
		rt := reflect.TypeOf(row)
		if rt.NumField() != len(l.leaves) {
			t.Fatalf("%s: %d fields, %d columns", tb, rt.NumField(), len(l.leaves))
		}
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("parquet"), ",")
			if got := l.leaves[i].path[0]; got != name {
				t.Errorf("%s: column %d is %q, field %d is %q", tb, i, got, i, name)
			}
		}
	}
	if _, err := LayoutOf(schema.NumTables); err == nil {
		t.Error("LayoutOf accepted an unknown table")
	}
}
