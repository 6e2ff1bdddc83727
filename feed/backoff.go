package feed

import (
	"math/rand/v2"
	"time"
)

// backoff computes reconnect delays: exponential with full jitter
// (uniform in [0, min(max, min·2ⁿ)]), capped; reset after a connection
// has lived long enough.
type backoff struct {
	min, max time.Duration
	n        int
}

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max} }

// next returns the next delay and advances the exponent.
func (b *backoff) next() time.Duration {
	ceil := b.min
	for i := 0; i < b.n && ceil < b.max; i++ {
		ceil *= 2
	}
	if ceil > b.max {
		ceil = b.max
	}
	b.n++
	return rand.N(ceil + 1)
}

// reset starts over from the smallest delay.
func (b *backoff) reset() { b.n = 0 }
