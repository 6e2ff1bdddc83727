package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/urfave/cli/v2"
)

// profileFlags are hidden global flags for performance work:
// `mdcap --cpuprofile cpu.out --memprofile mem.out record …`.
func profileFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "cpuprofile", Hidden: true, Usage: "write a CPU profile of the whole run to this file"},
		&cli.StringFlag{Name: "memprofile", Hidden: true, Usage: "write a heap profile (after the run) to this file"},
		&cli.StringFlag{Name: "heapprofile", Hidden: true, Usage: "write the in-use heap to this file once --heapprofile-after has passed"},
		&cli.DurationFlag{Name: "heapprofile-after", Hidden: true, Value: 10 * time.Second, Usage: "when to write --heapprofile"},
	}
}

// profiler starts and stops the profiles the global flags ask for.
type profiler struct {
	cpu  *os.File
	heap *time.Timer
}

// start begins the CPU profile, if asked.
func (p *profiler) start(c *cli.Context) error {
	if hp := c.String("heapprofile"); hp != "" {
		p.heap = time.AfterFunc(c.Duration("heapprofile-after"), func() {
			f, err := os.Create(hp)
			if err != nil {
				fmt.Fprintf(c.App.ErrWriter, "mdcap: --heapprofile: %v\n", err)
				return
			}
			defer f.Close()
			runtime.GC()
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				fmt.Fprintf(c.App.ErrWriter, "mdcap: --heapprofile: %v\n", err)
			}
		})
	}
	path := c.String("cpuprofile")
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return usageError(fmt.Errorf("--cpuprofile: %w", err))
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return usageError(fmt.Errorf("--cpuprofile: %w", err))
	}
	p.cpu = f
	return nil
}

// stop ends the CPU profile and writes the heap profile, if asked.
func (p *profiler) stop(c *cli.Context) error {
	if p.heap != nil {
		p.heap.Stop()
	}
	if p.cpu != nil {
		pprof.StopCPUProfile()
		if err := p.cpu.Close(); err != nil {
			return fatalError(fmt.Errorf("close CPU profile: %w", err))
		}
		p.cpu = nil
	}
	path := c.String("memprofile")
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fatalError(fmt.Errorf("--memprofile: %w", err))
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		return fatalError(fmt.Errorf("write heap profile: %w", err))
	}
	return nil
}
