package pqw

import (
	"fmt"
	"math/bits"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/mdcap/mdcap/schema"
)

// leaf is one column of a table: a leaf of the schema tree, in schema
// order.
type leaf struct {
	path   []string // from the top-level field down to the leaf
	typ    format.Type
	enc    format.Encoding // PLAIN, DELTA_BINARY_PACKED or BYTE_STREAM_SPLIT
	encs   []format.Encoding
	maxDef uint8
	maxRep uint8
}

// Layout is a table's schema as pqw writes it: the footer's schema
// elements and column orders, and the leaf columns. It is derived from the
// schema parquet-go builds from the row type's struct tags, so that both
// writers produce the same schema. A Layout is immutable and shared.
type Layout struct {
	table    schema.Table
	elements []format.SchemaElement
	orders   []format.ColumnOrder
	leaves   []leaf
}

// LayoutOf returns the layout of a table.
func LayoutOf(t schema.Table) (*Layout, error) {
	var s *parquet.Schema
	switch t {
	case schema.TableQuotes:
		s = parquet.SchemaOf(schema.Quote{})
	case schema.TableDOM:
		s = parquet.SchemaOf(schema.DOM{})
	case schema.TableTicks:
		s = parquet.SchemaOf(schema.Tick{})
	case schema.TableEvents:
		s = parquet.SchemaOf(schema.Event{})
	default:
		return nil, fmt.Errorf("pqw: layout: unknown table %d", t)
	}
	l := &Layout{table: t}
	if err := l.walk(s.Name(), s, true, nil, 0, 0); err != nil {
		return nil, fmt.Errorf("pqw: layout of %s: %w", t, err)
	}
	// The Append methods index the columns by the row type's fields.
	if want := [schema.NumTables]int{17, 9, 12, 8}[t]; len(l.leaves) != want {
		return nil, fmt.Errorf("pqw: layout of %s: %d columns, want %d", t, len(l.leaves), want)
	}
	for _, lf := range l.leaves {
		if lf.maxRep > 0 && (lf.maxRep != 1 || lf.maxDef != 2 || lf.typ != format.Double) {
			return nil, fmt.Errorf("pqw: layout of %s: column %v: only lists of optional doubles are supported", t, lf.path)
		}
	}
	return l, nil
}

// walk appends the schema element of node n and of its children, depth
// first (the order of the footer's flattened schema), and a leaf per leaf
// node. It sets the same fields parquet-go's writer sets.
func (l *Layout) walk(name string, n parquet.Node, root bool, path []string, def, rep uint8) error {
	nt := n.Type()
	elem := format.SchemaElement{Name: name, FieldID: int32(n.ID())}
	if !root {
		path = append(path[:len(path):len(path)], name)
		switch {
		case n.Required():
			elem.RepetitionType = thrift.New(format.Required)
		case n.Optional():
			elem.RepetitionType = thrift.New(format.Optional)
			def++
		case n.Repeated():
			elem.RepetitionType = thrift.New(format.Repeated)
			def++
			rep++
		}
	}
	if lt := nt.LogicalType(); lt != nil {
		elem.LogicalType = *lt
	}
	if k := int32(nt.Length()); k > 0 {
		elem.TypeLength = thrift.New(k)
	}
	if !n.Leaf() {
		elem.NumChildren = thrift.New(int32(len(n.Fields())))
	}
	if pt := nt.PhysicalType(); pt != nil {
		elem.Type = thrift.New(*pt)
	}
	if ct := nt.ConvertedType(); ct != nil {
		elem.ConvertedType = thrift.New(*ct)
	}
	l.elements = append(l.elements, elem)
	if !n.Leaf() {
		for _, f := range n.Fields() {
			if err := l.walk(f.Name(), f, false, path, def, rep); err != nil {
				return err
			}
		}
		return nil
	}
	lf := leaf{path: path, maxDef: def, maxRep: rep, enc: format.Plain}
	pt := nt.PhysicalType()
	if pt == nil {
		return fmt.Errorf("column %v: no physical type", path)
	}
	lf.typ = *pt
	switch lf.typ {
	case format.Int64, format.Double, format.ByteArray:
	default:
		return fmt.Errorf("column %v: physical type %s not supported", path, lf.typ)
	}
	if e := n.Encoding(); e != nil {
		switch e.Encoding() {
		case format.DeltaBinaryPacked:
			if lf.typ == format.Int64 {
				lf.enc = format.DeltaBinaryPacked
			}
		case format.ByteStreamSplit:
			if lf.typ == format.Double {
				lf.enc = format.ByteStreamSplit
			}
		}
		// dictionary-tagged strings are written PLAIN: they are the
		// small tables' few, short strings, which zstd folds anyway.
	}
	lf.encs = []format.Encoding{lf.enc}
	if def > 0 || rep > 0 {
		lf.encs = append(lf.encs, format.RLE)
	}
	order := nt.ColumnOrder()
	if order == nil {
		return fmt.Errorf("column %v: no column order", path)
	}
	l.orders = append(l.orders, *order)
	l.leaves = append(l.leaves, lf)
	return nil
}

// bitWidth is the number of bits of a level up to max.
func bitWidth(max uint8) int { return bits.Len8(max) }

// leafIndex returns the index of the leaf whose path starts with the
// top-level field name.
func (l *Layout) leafIndex(name string) int {
	for i, lf := range l.leaves {
		if lf.path[0] == name {
			return i
		}
	}
	return -1
}
