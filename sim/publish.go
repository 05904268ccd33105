package sim

import (
	"context"
	"time"

	"github.com/segmentio/kafka-go"
)

// Defaults applied by Publish to zero PublishConfig fields.
const (
	// DefaultRate is the default PublishConfig.Rate, in events per second.
	DefaultRate = 200
	// DefaultSnapshotEvery is the default PublishConfig.SnapshotEvery.
	DefaultSnapshotEvery = 5 * time.Second
)

// publishTick is the pacing period: events due are written in one batch per
// tick.
const publishTick = 5 * time.Millisecond

// PublishConfig configures Publish.
type PublishConfig struct {
	// Rate is the number of market events per second (a trade and the delta
	// it causes count as one event). Zero means 200.
	Rate float64
	// SnapshotEvery is the period of the instrument and snapshot records of
	// every symbol. Zero means 5s.
	SnapshotEvery time.Duration
}

// Publish writes Snapshots at start and every SnapshotEvery, and Next events
// at Rate per second, smoothly in small batches (one per few milliseconds),
// through w until ctx ends. It returns ctx.Err() when ctx ends, or the first
// write error. When writes fall behind, the backlog is capped at one
// second's worth of events; older due events are skipped, not burst.
//
// The Writer is configured by the caller; see the package documentation for
// the recommended settings.
func (e *Exchange) Publish(ctx context.Context, w *kafka.Writer, cfg PublishConfig) error {
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.SnapshotEvery <= 0 {
		cfg.SnapshotEvery = DefaultSnapshotEvery
	}
	var (
		msgs   []Message
		kmsgs  []kafka.Message
		start  = time.Now()
		nextSn = start
		done   int64 // events generated since start
		tick   = time.NewTicker(publishTick)
	)
	defer tick.Stop()
	maxBacklog := int64(cfg.Rate) + 1
	for {
		now := time.Now()
		msgs = msgs[:0]
		if !now.Before(nextSn) {
			msgs = e.Snapshots(now, msgs)
			nextSn = now.Add(cfg.SnapshotEvery)
		}
		due := int64(now.Sub(start).Seconds() * cfg.Rate)
		if due-done > maxBacklog {
			done = due - maxBacklog
		}
		for ; done < due; done++ {
			msgs = e.Next(now, msgs)
		}
		if len(msgs) > 0 {
			kmsgs = kmsgs[:0]
			for _, m := range msgs {
				kmsgs = append(kmsgs, kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time})
			}
			if err := w.WriteMessages(ctx, kmsgs...); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
