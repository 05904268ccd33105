package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/gobwas/ws"
)

// Handler receives a Stream's events, one at a time, on the goroutine that
// called Run. A non-nil return stops Run, which returns that error. A
// handler that blocks delays the stream: the server sees a slow reader and
// may end the connection (close 4001), after which the Stream reconnects.
type Handler func(*Event) error

// Stream is a self-healing subscription to a marketfeed server: it
// connects, subscribes, keeps a verified local book per book channel and
// delivers typed events to a Handler. When a book loses continuity it asks
// for a fresh snapshot by itself; when the connection drops or the server
// closes it (1001 shutting down, 4001 slow consumer, ...) it reconnects
// with capped, jittered exponential backoff and subscribes again. When the
// server announces a close (a notice before a shutdown or the end of the
// connection's lifetime) it reconnects at once, within RetryMin. Every
// reconnection resumes each book, bbo, ticker and tickers channel from
// where it was (stream_resume.go): a book the server resumes keeps its
// state, with no snapshot.
type Stream struct {
	cfg StreamConfig
	// resume is kept from one connection to the next (stream_resume.go).
	resume *resumeState
	// trades is the last trade received on each trades channel, from
	// which every connection resumes (stream_trades.go).
	trades *tradePositions
}

// NewStream checks cfg and returns a Stream; nothing happens until Run.
func NewStream(cfg StreamConfig) (*Stream, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Stream{cfg: cfg, resume: newResumeState(), trades: &tradePositions{}}, nil
}

// Run connects and delivers events to h until ctx ends (then it returns
// nil), h returns an error (returned as is), or retrying cannot help: an
// upgrade refused with an HTTP 4xx status (for example a rejected API key),
// a server that sends no welcome or speaks another protocol version. Every
// other failure is followed by an EventDisconnected and a new attempt.
// Run may be called again after it returned, not concurrently.
func (s *Stream) Run(ctx context.Context, h Handler) error {
	failures := 0
	for {
		healthy, err := s.session(ctx, h)
		if ctx.Err() != nil {
			return nil
		}
		var he *handlerError
		if errors.As(err, &he) {
			return he.err
		}
		if fatal(err) {
			return err
		}
		if healthy {
			failures = 0
		}
		var delay time.Duration
		if errors.Is(err, ErrNotice) {
			// A planned close: come back at once, spread over RetryMin so
			// that the server's clients do not all return together.
			delay = time.Duration(rand.Int64N(int64(s.cfg.RetryMin) + 1))
		} else {
			delay = backoff(s.cfg.RetryMin, s.cfg.RetryMax, failures)
			failures++
		}
		if herr := h(&Event{Kind: EventDisconnected, Err: err, Delay: delay}); herr != nil {
			return herr
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// handlerError carries an error returned by the handler out of a session.
type handlerError struct{ err error }

func (e *handlerError) Error() string { return e.err.Error() }

// fatal reports whether reconnecting cannot help.
func fatal(err error) bool {
	var hs ws.StatusError
	if errors.As(err, &hs) {
		return hs >= 400 && hs < 500
	}
	return errors.Is(err, ErrProtocolVersion) || errors.Is(err, ErrNoWelcome)
}

// backoff returns the delay before attempt failures+1: min·2^failures
// capped at max, of which a random half is taken away (jitter), so that
// clients dropped together do not come back together.
func backoff(lo, hi time.Duration, failures int) time.Duration {
	d := lo
	for range min(failures, 32) {
		if d >= hi/2 {
			d = hi
			break
		}
		d *= 2
	}
	d = min(d, hi)
	half := d / 2
	return d - half + time.Duration(rand.Int64N(int64(half)+1))
}
