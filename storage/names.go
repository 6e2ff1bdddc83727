package storage

import (
	"fmt"
	"strings"
)

// File names. A finished file is
//
//	<writer>_<run>_<counter>.parquet
//
// and while it is written it is
//
//	.<writer>_<run>_<counter>.parquet.tmp
//
// in the same folder. <writer> and <run> are the writer id and run id with
// every byte outside A-Z a-z 0-9 and '-' written as ~XX, so '_' separates
// the parts unambiguously and a name never starts with '.'. The run id
// carries the run's start time, the counter numbers the files of a run:
// names are unique across restarts and across writers sharing a root.

const (
	parquetExt = ".parquet"
	tempExt    = ".tmp"
)

// nameSafe encodes s for use inside a file name.
func nameSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '-' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "~%02X", c)
	}
	return b.String()
}

// fileName is the final name of a run's n-th file.
func fileName(writer, run string, n uint64) string {
	return fmt.Sprintf("%s_%s_%06d%s", nameSafe(writer), nameSafe(run), n, parquetExt)
}

// tempName is the name a file is written under before it is finalised.
func tempName(final string) string { return "." + final + tempExt }

// IsTempName reports whether a file name is a dataset writer's
// temporary (not yet finalised) file.
func IsTempName(name string) bool {
	return strings.HasPrefix(name, ".") && strings.HasSuffix(name, parquetExt+tempExt)
}

// tempOfWriter reports whether name is a temporary file of the writer id.
func tempOfWriter(name, writer string) bool {
	return IsTempName(name) && strings.HasPrefix(name, "."+nameSafe(writer)+"_")
}
