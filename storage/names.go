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

// ParseFileName reads the writer id, run id and counter back from a file
// name the Dataset made, final or temporary. ok is false for any other
// name.
func ParseFileName(name string) (writerID, runID string, counter uint64, temp, ok bool) {
	if IsTempName(name) {
		temp = true
		name = strings.TrimSuffix(strings.TrimPrefix(name, "."), tempExt)
	}
	base, isParquet := strings.CutSuffix(name, parquetExt)
	if !isParquet {
		return "", "", 0, false, false
	}
	parts := strings.Split(base, "_")
	if len(parts) != 3 || parts[2] == "" {
		return "", "", 0, false, false
	}
	for _, c := range parts[2] {
		if c < '0' || c > '9' {
			return "", "", 0, false, false
		}
		counter = counter*10 + uint64(c-'0')
	}
	w, ok1 := nameUnsafe(parts[0])
	r, ok2 := nameUnsafe(parts[1])
	if !ok1 || !ok2 || w == "" {
		return "", "", 0, false, false
	}
	return w, r, counter, temp, true
}

// nameUnsafe reverses nameSafe.
func nameUnsafe(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '-' {
			b.WriteByte(c)
			continue
		}
		if c != '~' {
			return "", false
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}
	return b.String(), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// EncodeName encodes a writer or run id as file names carry it (every
// byte outside A-Z a-z 0-9 and '-' as ~XX), for other files that must name
// a writer or a run the same way (journals, locks).
func EncodeName(s string) string { return nameSafe(s) }

// DecodeName reverses EncodeName; ok is false for a string EncodeName
// cannot have made.
func DecodeName(s string) (string, bool) { return nameUnsafe(s) }
