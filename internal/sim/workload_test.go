package sim

import (
	"bytes"
	"testing"

	"github.com/marketfeed/marketfeed/schemas"
)

// The workload is the same for the same config, boots every symbol, and
// counts exactly the levels of its deltas and snapshots.
func TestWorkload(t *testing.T) {
	a, err := NewWorkload(Config{Seed: 3}, 30000)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewWorkload(Config{Seed: 3}, 30000)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Records) != len(b.Records) || a.Changes != b.Changes {
		t.Fatalf("two workloads of one config differ: %d/%d records, %d/%d changes", len(a.Records), len(b.Records), a.Changes, b.Changes)
	}
	for i := range a.Records {
		if !bytes.Equal(a.Records[i].Value, b.Records[i].Value) {
			t.Fatalf("record %d differs", i)
		}
	}
	symbols := len(New(Config{}).Symbols())
	var r schemas.Record
	booted := 0
	for _, m := range a.Boot {
		if err := schemas.DecodeRecord(m.Value, &r); err != nil {
			t.Fatal(err)
		}
		if r.Type == schemas.RecordSnapshot {
			booted++
		}
	}
	if booted != symbols {
		t.Fatalf("%d boot snapshots for %d symbols", booted, symbols)
	}
	changes, snapshots := 0, 0
	for _, m := range a.Records {
		if err := schemas.DecodeRecord(m.Value, &r); err != nil {
			t.Fatal(err)
		}
		switch r.Type {
		case schemas.RecordSnapshot:
			snapshots++
			fallthrough
		case schemas.RecordDelta:
			changes += len(r.Bids) + len(r.Asks)
		}
	}
	if changes != a.Changes || changes == 0 {
		t.Fatalf("Changes %d, counted %d", a.Changes, changes)
	}
	if snapshots != symbols { // one round of snapshots at event 20,000
		t.Fatalf("%d snapshots in 30,000 events, want %d", snapshots, symbols)
	}
}
