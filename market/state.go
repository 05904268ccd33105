package market

import "github.com/marketfeed/marketfeed/schemas"

// BookState is the serving state of a symbol's book.
type BookState uint32

// Book states.
const (
	// Waiting: no snapshot seen yet (or the instrument was redefined);
	// nothing is served.
	Waiting BookState = iota
	// Live: the book is known and served.
	Live
	// Stale: the book must not be trusted (the reason says why); nothing
	// is served until it is fresh again.
	Stale
)

// String returns the state's name as used in status messages and listings:
// "waiting", "live" or "stale".
func (s BookState) String() string {
	switch s {
	case Live:
		return "live"
	case Stale:
		return schemas.StatusStale
	}
	return schemas.StatusWaiting
}

// Rejection reasons of a record that decodes but does not fit the symbol,
// beside those of schemas.DecodeError (invalid_field, bad_decimal, ...).
const (
	ReasonPrecision     = "precision"       // more fractional digits than the instrument's scale
	ReasonOutOfRange    = "out_of_range"    // value too large for the instrument's scale
	ReasonOffTick       = "off_tick"        // price not a multiple of the tick size
	ReasonOffLot        = "off_lot"         // size not a multiple of the lot size
	ReasonSeqBackwards  = "seq_backwards"   // delta sequence not above the book's
	ReasonStaleSnapshot = "stale_snapshot"  // snapshot older than the live book
	ReasonDuplicate     = "duplicate_level" // snapshot lists a price twice on one side
	ReasonOldEpoch      = "old_epoch"       // snapshot or delta of an epoch older than the book's
)

// SnapshotOutcome is what an accepted snapshot did (Change.Snapshot).
type SnapshotOutcome uint8

// Snapshot outcomes.
const (
	SnapshotNone      SnapshotOutcome = iota // not a snapshot, or rejected
	SnapshotApplied                          // the book follows the snapshot
	SnapshotNewEpoch                         // a new publisher epoch replaced the book
	SnapshotCorrected                        // it differed from the book at the same seq, and replaced it
	SnapshotVerified                         // it matched the book at the same seq
)

// String returns the outcome's label in the snapshot metric: "applied",
// "new_epoch", "corrected", "verified" ("" for none).
func (o SnapshotOutcome) String() string {
	switch o {
	case SnapshotApplied:
		return "applied"
	case SnapshotNewEpoch:
		return "new_epoch"
	case SnapshotCorrected:
		return "corrected"
	case SnapshotVerified:
		return "verified"
	}
	return ""
}

// staleReasons are the reasons of the Stale state, indexed by their code
// in the published state; 0 is none.
var staleReasons = [...]string{"", schemas.ReasonGap, schemas.ReasonFeedDown, schemas.ReasonSilent, schemas.ReasonCrossed}

func reasonCode(reason string) uint32 {
	for i, r := range staleReasons {
		if r == reason {
			return uint32(i)
		}
	}
	return 0
}

// Rejection says why a record was refused; the zero value means it was
// not.
type Rejection struct {
	// Reason is a Reason* constant or a schemas.Reason; "" when accepted.
	Reason string
	// Err details the reason (a decimal that did not parse), or is nil.
	Err error
}

// Change reports what one call changed. It is a plain value of a few
// words: building and returning it does not allocate.
type Change struct {
	// Rejection is set when the record was refused; nothing changed then.
	Rejection
	// Applied: the record was applied (a definition, a snapshot other
	// than a verified one, a delta, a trade).
	Applied bool
	// Skipped: the book's sequence state (SeqState: Waiting or Stale)
	// kept a delta from applying.
	Skipped bool
	// Gap: the sequence broke (a gap, or a delta of a new publisher
	// epoch); the book is stale until the next snapshot.
	Gap bool
	// NewEpoch: the record belongs to a newer publisher epoch than the
	// book (a delta that breaks the sequence, or a snapshot that replaced
	// the book).
	NewEpoch bool
	// Snapshot is the outcome of an accepted snapshot; SnapshotNone for
	// other records.
	Snapshot SnapshotOutcome
	// Recovered: a snapshot replaced a book that was stale or crossed.
	Recovered bool
	// Book: a delta changed levels of the book; the change logs in use
	// hold them.
	Book bool
	// Crossed: the book is crossed after the snapshot or delta applied.
	Crossed bool
	// BecameCrossed: a delta crossed a book that was not crossed.
	BecameCrossed bool
	// Reset: the book is served from its current state, as a whole: it
	// was replaced by a snapshot, or served again after being stale. The
	// change logs were reset.
	Reset bool
	// Status: the serving state or the stale reason changed (a Reset that
	// serves a book that was not served says Status too).
	Status bool
	// Silenced: the book became stale because nothing advanced it for the
	// silence bound.
	Silenced bool
	// Redefined: the instrument's scales changed; the book was emptied,
	// the ticker replaced, and the book waits for a snapshot.
	Redefined bool
	// Trade: a trade was added to the ticker.
	Trade bool
	// CandleLate: the trade was older than the candle in progress of a
	// resolution, whose closed candles are final: it was left out of it.
	CandleLate bool
}

// Status is a symbol's published serving state.
type Status struct {
	State BookState
	// Reason says why a Stale book is stale (schemas.ReasonGap, ...); ""
	// otherwise.
	Reason string
	// Seq is the book's sequence, Epoch the publisher epoch of Seq.
	Seq, Epoch uint64
}
