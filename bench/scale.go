package bench

import (
	"fmt"
	"runtime"
	"time"
)

// ScaleResult is what RunScale measured: the figures of W4b, D1, O1, R1
// and M1 (or, on X1's 10M events, of X1) in one process.
type ScaleResult struct {
	Workload          string  `json:"workload"`
	Events            int     `json:"events"`
	WriteEventsPerSec float64 `json:"write_events_per_sec"`
	AllocatedBytes    int64   `json:"allocated_bytes"` // D1: Stat_t.Blocks*512 after Close
	ApparentBytes     int64   `json:"apparent_bytes"`
	OpenSeconds       float64 `json:"open_seconds"`    // O1: Open of the closed journal
	OpenHeapBytes     int64   `json:"open_heap_bytes"` // live heap added by Open (≈ the index), after GC
	LoadedEvents      int     `json:"loaded_events"`   // R1
	LoadEventsPerSec  float64 `json:"load_events_per_sec"`
	PeakRSS           int64   `json:"peak_rss"` // M1: VmHWM of the process after all of the above
}

// BytesPerEvent is AllocatedBytes / Events.
func (r ScaleResult) BytesPerEvent() float64 { return float64(r.AllocatedBytes) / float64(r.Events) }

// RunScale runs the write workload w (normally W4b or X1) in the fresh dir
// with open, closes, measures the disk usage, reopens with reopen (timed:
// O1), reads everything back with LoadAll if the engine is a Loader
// (timed: R1), closes, and reads the process's peak RSS (M1; meaningful
// only when this process did nothing else, so run it in a child process).
// Only Open is timed for O1, only LoadAll for R1.
func RunScale(open, reopen Opener, dir string, w Workload) (ScaleResult, error) {
	res := ScaleResult{Workload: w.Name, Events: w.Events()}
	wr, err := RunFresh(open, dir, w)
	if err != nil {
		return res, fmt.Errorf("write: %w", err)
	}
	res.WriteEventsPerSec = wr.EventsPerSec()
	if res.AllocatedBytes, res.ApparentBytes, err = DiskUsage(dir); err != nil {
		return res, err
	}

	runtime.GC()
	runtime.GC() // twice: sync.Pool victims of the writer go too
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap0 := ms.HeapAlloc
	t0 := time.Now()
	e, err := reopen(dir, w.Durability)
	if err != nil {
		return res, fmt.Errorf("reopen: %w", err)
	}
	res.OpenSeconds = time.Since(t0).Seconds()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	res.OpenHeapBytes = int64(ms.HeapAlloc) - int64(heap0)

	if l, ok := e.(Loader); ok {
		t0 = time.Now()
		evs, err := l.LoadAll()
		d := time.Since(t0)
		if err != nil {
			e.Close()
			return res, fmt.Errorf("load: %w", err)
		}
		res.LoadedEvents = len(evs)
		res.LoadEventsPerSec = float64(len(evs)) / d.Seconds()
		runtime.KeepAlive(evs)
	}
	if err := e.Close(); err != nil {
		return res, fmt.Errorf("close: %w", err)
	}
	if res.PeakRSS, err = PeakRSS(); err != nil {
		return res, err
	}
	return res, nil
}
