package capture_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mdcap/mdcap/capture"
	"github.com/mdcap/mdcap/feed"
)

// A roll that succeeds because it had nothing to write (every file was
// given up, every new row refused) does not prove the disk works: the
// streak of refused rows goes on and the pipeline gives up after
// WriteErrorLimit, as the recorder's exit 1 requires.
func TestPipeline_PersistentWriteErrorIsFatalDespiteIdleRolls(t *testing.T) {
	sink := newMemSink()
	sink.failing = true
	cfg := testConfig("ESZ6")
	cfg.WriteErrorLimit = 100 * time.Millisecond
	cfg.RollEvery = 2 * time.Millisecond // many successful rolls inside the limit
	p, err := capture.New(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = p.Run(ctx, func(ctx context.Context, h feed.Handler) error {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		for i := 0; ctx.Err() == nil; i++ { // until the pipeline gives up
			quote(h, 1, 10+i, 11, 1)
			time.Sleep(time.Millisecond) // a feed's pace, not a wait
		}
		return nil
	})
	if !errors.Is(err, errDisk) {
		t.Fatalf("Run = %v, want the disk error (rolls: %d)", err, sink.rolls)
	}
}
