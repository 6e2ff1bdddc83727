package feed

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU is the CPU time the calling thread has used (Linux
// RUSAGE_THREAD): unlike the wall clock it does not count the time the
// thread waited for a core, so it stays meaningful on a shared machine.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuTimer reports the benchmark loop's CPU time per operation as
// cpu-ns/op next to ns/op. Call start right before the loop (it locks the
// goroutine to its thread) and stop right after.
type cpuTimer struct{ t0 time.Duration }

func (c *cpuTimer) start(b *testing.B) {
	runtime.LockOSThread()
	b.ResetTimer()
	c.t0 = threadCPU()
}

func (c *cpuTimer) stop(b *testing.B) {
	d := threadCPU() - c.t0
	b.StopTimer()
	runtime.UnlockOSThread()
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
