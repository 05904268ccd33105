package market

import (
	"math/rand/v2"
	"testing"

	"github.com/marketfeed/marketfeed/schemas"
)

// BenchmarkApplyDelta applies deltas of one to four level changes to a
// live symbol whose history is off or on (at its bound: the ring is
// reused, the steady state), so that the two give the cost of recording.
func BenchmarkApplyDelta(b *testing.B) {
	for _, tc := range []struct {
		name   string
		limits HistoryLimits
	}{{"history=off", HistoryLimits{Window: -1}}, {"history=on", HistoryLimits{MaxBytes: 64 << 10}}} {
		b.Run(tc.name, func(b *testing.B) {
			s := live(b)
			s.SetHistoryLimits(tc.limits)
			rng := rand.New(rand.NewPCG(7, 8))
			rs := make([]*schemas.Record, 256)
			for i := range rs {
				rs[i] = randomDelta(b, rng, 0, 0)
			}
			seq := uint64(10)
			apply := func(i int) {
				r := rs[i%len(rs)]
				seq++
				r.Seq, r.TS = seq, int64(seq)
				if c := s.ApplyDelta(r); !c.Applied {
					b.Fatalf("delta %d: %+v", seq, c)
				}
			}
			for i := range 10000 { // fills the ring to its bound
				apply(i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				apply(i)
			}
		})
	}
}
