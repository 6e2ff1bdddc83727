// Package schema defines the row types of mdcap's four tables and the
// rules that turn a row's partition values into folder names.
//
// The column names, types and nullability are the user-facing contract
// (CONTRACT.md, "The dataset"). The partition columns `date` and `symbol`
// are not fields of the row types: they live in the folder names only.
package schema

// Table names one of the dataset's tables; its String is the folder name
// under the dataset root.
type Table uint8

const (
	TableQuotes Table = iota
	TableDOM
	TableTicks
	TableEvents
	NumTables
)

var tableNames = [NumTables]string{"quotes", "dom", "ticks", "events"}

func (t Table) String() string {
	if t < NumTables {
		return tableNames[t]
	}
	return "unknown"
}

// ParseTable maps a folder name back to its table.
func ParseTable(name string) (Table, bool) {
	for i, n := range tableNames {
		if n == name {
			return Table(i), true
		}
	}
	return 0, false
}
