package main

import "github.com/mdcap/mdcap/storage"

// openFileCap is the dataset's open-file cap for a recording: every
// (table, symbol) it writes keeps one file open (quotes, events, and dom
// with --dom), plus room for a date change. Below that, the least recently
// written file is finalised whenever another symbol's row arrives, so
// each row would open a new file: with 500 symbols and the storage default
// of 512, a blast made 64,000 files in three minutes and fell behind.
func openFileCap(symbols int, dom bool) int {
	perSymbol := 2
	if dom {
		perSymbol = 3
	}
	return max(storage.DefaultMaxOpenFiles, 2*perSymbol*symbols)
}
