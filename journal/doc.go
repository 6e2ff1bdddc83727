// Package journal is mdcap's write-ahead journal: it makes the rows the
// writer goroutine takes durable every --sync-interval, long before the
// Parquet file holding them is finalised, and it replays the journal of a
// dead run into finalised Parquet files at the next start.
//
// # What is journaled
//
// Rows, as the writer hands them to the dataset — after normalising,
// symbol mapping, seq numbering and gap accounting — not raw frames.
// Replaying rows needs no feed, no pipeline state and no second pass of
// the gap logic: recovery writes them back as they were, with the dead
// run's seq and run id, and recognises what is already finalised by
// (table, symbol, seq) alone; events rows — disconnects, gaps, stop —
// survive the crash with the data next to them.
//
// Most rows are journaled in the form the dataset's column writer gives
// them anyway: each page it encodes for a file (a few compressed bytes
// per row, storage.Tap) is copied into the journal as it is cut (page.go).
// The rows a file holds that are in no page yet — its tail — are copied
// row by row when the journal syncs (storage.Dataset.Tails) and encoded
// against the symbol's previous row (codec_delta.go); a page record says
// how many of its first rows were journaled that way, and recovery reads
// the page back with parquet-go and replays the others.
//
// # Layout
//
//	<out>/.journal/<writer>/<run>/run.json        who wrote it, when the run started,
//	                                               the crash gaps it inherited
//	<out>/.journal/<writer>/<run>/00000001.seg    segments, numbered in order
//	<out>/.quarantine/<writer>/<run>/…            damaged tails cut off at recovery
//
// (<writer> and <run> encoded as in file names, storage.EncodeName.)
// A segment is the magic "MDCAPJ1\n" followed by frames:
//
//	u32 length | u32 CRC-32C of the payload | payload: records
//
// The length's top bit is set on the frames written now, whose payload
// is the records as they are; a frame without it (written by an earlier
// recorder) holds an S2 block of records.
//
// A frame holds about 256 KiB of records; records are framed by their
// encoding (see codec.go). A segment is released — deleted — once the
// dataset's oldest unfinished file is newer than every file its rows went
// to (storage.Dataset.OldestUnfinished), so a segment lives about one
// --roll-interval; a file the dataset had to abandon holds it back, so
// that its rows are replayed by the next start. A clean stop finalises
// every file and removes the run's journal; a journal found at start
// therefore belongs to a run that did not stop cleanly (or could not
// finalise everything).
//
// # Durability and cost
//
// Every --sync-interval the writer's Roll has the open files' tails
// copied into the journal's chunk (chunk.go), hands the chunk to the
// journal's flusher goroutine and queues an fsync, before the dataset
// rolls its files (flusher.go): every row written before it — in a page
// or in a tail — is durable once that fsync ends, so a kill loses at
// most the rows of the last --sync-interval plus those still in the
// pipeline's queue. Between syncs the writer only copies the pages its
// files cut (about 2–8 B per row); the per-row work is the tails', at
// most a page's worth of rows per file and sync. The flusher frames each
// 256 KiB block of records (CRC-32C) and writes it. A chunk is handed
// over when it holds 2048 rows or 256 KiB of pages; at most two wait for
// the flusher, then the writer waits. A failed write keeps its bytes and
// retries them into the same segment (bounded by Config.MaxPending); a
// failed fsync seals the segment, which is no longer trusted, and starts
// a new one; either error is returned by the next Sync. A file the
// dataset abandons hands the rows of its tail to the journal first.
//
// # Bounds
//
// A segment held back only by abandoned files is kept up to
// Config.MaxHeld bytes (Journal.Bound), then released oldest first: its
// rows are inside the abandoned file's write_error gap already. Each
// segment's name carries the oldest dataset file its rows may be in
// (Journal.MarkLow), so recovery reads only the files from there on, and
// the newest file of each table and symbol: start-up does not grow with
// the length of the dead run.
package journal
