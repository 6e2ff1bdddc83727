// Package readers runs the independent Parquet readers under
// scripts/readers (DuckDB through @duckdb/node-api, Apache Arrow through
// parquet-wasm) from Go tests, so that tests check the dataset the way
// users read it. When node or the installed readers are missing, the
// helpers skip the test with a message (scripts/readers/install.sh
// installs them).
package readers

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Column is a result column as DuckDB names and types it.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"` // e.g. "TIMESTAMP WITH TIME ZONE", "DOUBLE", "DOUBLE[]", "VARCHAR"
}

// Result is a DuckDB query result. Values are DuckDB's JSON forms: BIGINT
// and timestamps as strings, DOUBLE as numbers, lists as arrays, NULL as
// nil.
type Result struct {
	Columns []Column         `json:"columns"`
	Rows    []map[string]any `json:"rows"`
}

// Type returns the DuckDB type of a result column, or "".
func (r Result) Type(name string) string {
	for _, c := range r.Columns {
		if c.Name == name {
			return c.Type
		}
	}
	return ""
}

// Dir is the scripts/readers folder of the repository.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", "readers")
}

// Available reports whether the readers are installed; the reason says
// what is missing when not.
func Available() (bool, string) {
	if _, err := exec.LookPath("node"); err != nil {
		return false, "node not found"
	}
	for _, p := range []string{"@duckdb/node-api", "parquet-wasm", "apache-arrow"} {
		if _, err := os.Stat(filepath.Join(Dir(), "node_modules", filepath.FromSlash(p))); err != nil {
			return false, p + " not installed (run scripts/readers/install.sh)"
		}
	}
	return true, ""
}

// Require skips the test when the readers are not installed.
func Require(t testing.TB) {
	t.Helper()
	if ok, why := Available(); !ok {
		t.Skipf("independent Parquet readers unavailable: %s", why)
	}
}

// DuckDBQuery runs sql with DuckDB and returns the result; it fails the
// test on a DuckDB error and skips it when DuckDB is not installed. Paths
// in sql should be absolute (the script runs in scripts/readers).
func DuckDBQuery(t testing.TB, sql string) Result {
	t.Helper()
	Require(t)
	out := runNode(t, "duckdb-query.mjs", sql)
	var r Result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("duckdb: decode output: %v\n%s", err, out)
	}
	return r
}

// DuckDB runs sql with DuckDB and returns its rows (see DuckDBQuery).
func DuckDB(t testing.TB, sql string) []map[string]any {
	t.Helper()
	return DuckDBQuery(t, sql).Rows
}

// DuckDBError runs sql that is expected to fail and returns DuckDB's
// message ("" if it succeeded).
func DuckDBError(t testing.TB, sql string) string {
	t.Helper()
	Require(t)
	_, stderr, err := node(t, "duckdb-query.mjs", sql)
	if err == nil {
		return ""
	}
	return stderr
}

// ArrowSummary is what arrow-read.mjs reports about a dataset folder.
type ArrowSummary struct {
	Files  int   `json:"files"`
	Rows   int64 `json:"rows"`
	Schema []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		Nullable bool   `json:"nullable"`
	} `json:"schema"`
	Nulls      map[string]int64    `json:"nulls"`
	Partitions map[string][]string `json:"partitions"`
	Head       []map[string]any    `json:"head"`
}

// Arrow reads a dataset folder (or file) with parquet-wasm and Apache
// Arrow, the stand-in for pandas, and returns its summary with up to
// head rows.
func Arrow(t testing.TB, path string, head int) ArrowSummary {
	t.Helper()
	Require(t)
	out := runNode(t, "arrow-read.mjs", path, itoa(head))
	var s ArrowSummary
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("arrow: decode output: %v\n%s", err, out)
	}
	return s
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func runNode(t testing.TB, script string, args ...string) []byte {
	t.Helper()
	out, stderr, err := node(t, script, args...)
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", script, args, err, stderr)
	}
	return out
}

func node(t testing.TB, script string, args ...string) ([]byte, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = Dir()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.Bytes(), errb.String(), err
}
