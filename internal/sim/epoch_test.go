package sim

import (
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

// With an epoch, every snapshot and delta carries it and the records stay
// valid; NewEpoch grows with the start time.
func TestEpochOnBookRecords(t *testing.T) {
	t0 := time.Unix(1767225600, 0)
	epoch := NewEpoch(t0)
	if epoch != 1767225600000000 || NewEpoch(t0.Add(time.Microsecond)) <= epoch || epoch > schemas.MaxEpoch {
		t.Fatalf("NewEpoch = %d", epoch)
	}
	ex := New(Config{Symbols: 3, Epoch: epoch})
	msgs := ex.Snapshots(t0, nil)
	for i := range 200 {
		msgs = ex.Next(t0.Add(time.Duration(i)*time.Millisecond), msgs)
	}
	var r schemas.Record
	book := 0
	for _, m := range msgs {
		if err := schemas.DecodeRecord(m.Value, &r); err != nil {
			t.Fatalf("%s: %v", m.Value, err)
		}
		switch r.Type {
		case schemas.RecordSnapshot, schemas.RecordDelta:
			book++
			if r.Epoch != epoch {
				t.Fatalf("%s: epoch %d, want %d", m.Value, r.Epoch, epoch)
			}
		}
	}
	if book < 100 {
		t.Fatalf("only %d book records", book)
	}
}
