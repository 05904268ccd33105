package sim

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"
)

// Defaults applied by Publish to zero PublishConfig fields.
const (
	// DefaultRate is the default PublishConfig.Rate, in events per second.
	DefaultRate = 200
	// DefaultSnapshotEvery is the default PublishConfig.SnapshotEvery.
	DefaultSnapshotEvery = 5 * time.Second
	// DefaultRetryMin is the default PublishConfig.RetryMin.
	DefaultRetryMin = 100 * time.Millisecond
	// DefaultRetryMax is the default PublishConfig.RetryMax.
	DefaultRetryMax = 5 * time.Second
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
	// RetryMin is the pause before a failed write is retried; it doubles
	// with every failure in a row up to RetryMax. Zero means 100ms.
	RetryMin time.Duration
	// RetryMax caps the pause between retries. Zero means 5s.
	RetryMax time.Duration
	// OnError, when set, is called on Publish's goroutine after each failed
	// write with the error, the number of failures in a row and the pause
	// before the next attempt.
	OnError func(err error, failures int, retryIn time.Duration)
}

// Publish writes Snapshots at start and every SnapshotEvery, and Next events
// at Rate per second, smoothly in small batches (one per few milliseconds),
// through w until ctx ends, and returns ctx.Err(). A failed write is
// retried, after a pause from RetryMin doubling up to RetryMax, for as long
// as it fails: only the records the Writer reports as failed
// (kafka.WriteErrors) are written again, or the whole batch for another
// error, and once a write succeeds after a failure every symbol's snapshot
// follows at once, as kafka.md asks of a publisher after a discontinuity.
// When writes fall behind (or fail), the backlog is capped at one second's
// worth of events; older due events are skipped, not burst, and never
// generated, so sequence numbers stay contiguous.
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
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = DefaultRetryMin
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = DefaultRetryMax
	}
	cfg.RetryMax = max(cfg.RetryMax, cfg.RetryMin)
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
			recovered, err := writeRetrying(ctx, w, kmsgs, cfg)
			if err != nil {
				return err
			}
			if recovered {
				nextSn = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// writeRetrying writes msgs through w, retrying what fails with capped
// exponential backoff until it is written or ctx ends (then it returns
// ctx.Err()). It reports whether any attempt failed.
func writeRetrying(ctx context.Context, w *kafka.Writer, msgs []kafka.Message, cfg PublishConfig) (failed bool, err error) {
	pause := cfg.RetryMin
	for failures := 0; ; {
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			return failures > 0, nil
		}
		if ctx.Err() != nil {
			return failures > 0, ctx.Err()
		}
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(msgs) {
			left := msgs[:0:0]
			for i, e := range werrs {
				if e != nil {
					left = append(left, msgs[i])
				}
			}
			if len(left) > 0 {
				msgs = left
			}
		}
		failures++
		if cfg.OnError != nil {
			cfg.OnError(err, failures, pause)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return true, ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, cfg.RetryMax)
	}
}
