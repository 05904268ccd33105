package sim

import (
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

// Workload is the input of the ingest benchmarks: a synthetic market's
// records, as a partition would carry them.
type Workload struct {
	// Boot holds a snapshot of every symbol, to apply before Records.
	Boot []Message
	// Records are the events that follow: deltas of one to four level
	// changes, trades, and a snapshot of every symbol every 20,000 events.
	Records []Message
	// Changes counts the level changes Records carry (the levels of its
	// deltas and snapshots: a book is rebuilt from a snapshot's levels).
	Changes int
}

// NewWorkload generates n events of the exchange of cfg, one millisecond
// apart from a fixed start (2026-01-01 UTC), so that the same cfg gives
// the same records.
func NewWorkload(cfg Config, n int) (Workload, error) {
	ex := New(cfg)
	now := time.Unix(1767225600, 0)
	w := Workload{Boot: ex.Snapshots(now, nil)}
	for i := range n {
		now = now.Add(time.Millisecond)
		w.Records = ex.Next(now, w.Records)
		if i%20000 == 19999 {
			w.Records = ex.Snapshots(now, w.Records)
		}
	}
	var r schemas.Record
	for _, m := range w.Records {
		if err := schemas.DecodeRecord(m.Value, &r); err != nil {
			return Workload{}, err
		}
		if r.Type == schemas.RecordDelta || r.Type == schemas.RecordSnapshot {
			w.Changes += len(r.Bids) + len(r.Asks)
		}
	}
	return w, nil
}
