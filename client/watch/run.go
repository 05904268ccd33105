package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/marketfeed/marketfeed/client"
)

// frameInterval is the minimum time between two redraws of the live view.
const frameInterval = 100 * time.Millisecond

// Run watches cfg.Channel and writes to out until ctx ends (then it
// returns nil) or a fatal error occurs: an invalid configuration, a
// subscription refused by the server (other than rate_limited), an upgrade
// refused with an HTTP 4xx status, a server speaking another protocol, or a
// failed write to out. Other failures (connection refused, dropped
// connection, close frames such as 4001 slow consumer) are retried with
// jittered exponential backoff between Config.RetryMin and Config.RetryMax
// by the client.Stream underneath, which also resynchronises the book.
func Run(ctx context.Context, cfg Config, out io.Writer) error {
	cfg, kind, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	sub := client.Subscription{Channel: cfg.Channel, Interval: cfg.Interval}
	if kind == kindBook {
		sub.Depth = cfg.Depth
	}
	if kind == kindCandles {
		sub.Resolution = cfg.Resolution
	}
	scfg := client.StreamConfig{
		URL:           cfg.URL,
		Header:        cfg.Header,
		APIKey:        cfg.APIKey,
		Subscriptions: []client.Subscription{sub},
		RawBooks:      cfg.Raw,
		RetryMin:      cfg.RetryMin,
		RetryMax:      cfg.RetryMax,
	}
	r := &runner{cfg: cfg, out: out, st: style{color: cfg.Color, barWidth: cfg.BarWidth}}
	handle := r.raw
	if !cfg.Raw {
		scfg.Tick = frameInterval / 2
		r.view = newView(cfg, kind)
		handle = r.live
		defer r.restore()
	}
	s, err := client.NewStream(scfg)
	if err != nil {
		return err
	}
	return s.Run(ctx, handle)
}

// outputError marks a failed write to out.
type outputError struct{ err error }

func (e *outputError) Error() string { return "watch: writing output: " + e.err.Error() }
func (e *outputError) Unwrap() error { return e.err }

type runner struct {
	cfg Config
	out io.Writer
	st  style

	view  *view // nil in raw mode
	drawn bool  // the screen was cleared once
	last  time.Time
	dirty bool
}

// refused returns the error that ends Run for a refused subscription.
func refused(ev *client.Event) error {
	var se *client.ServerError
	if ev.Kind == client.EventRefused && errors.As(ev.Err, &se) && se.Code != "rate_limited" {
		return se
	}
	return nil
}

// raw prints every server message as one line; connection notices go to
// cfg.Log.
func (r *runner) raw(ev *client.Event) error {
	switch ev.Kind {
	case client.EventConnecting:
		r.log("connecting to " + r.cfg.URL)
	case client.EventDisconnected:
		r.log(fmt.Sprintf("disconnected: %v; retrying in %s", ev.Err, ev.Delay.Round(time.Millisecond)))
	}
	if ev.Raw != nil {
		if err := r.writeLine(ev.Raw); err != nil {
			return err
		}
	}
	return refused(ev)
}

// live folds events into the view and redraws at most once per
// frameInterval; connection changes are drawn at once.
func (r *runner) live(ev *client.Event) error {
	if err := refused(ev); err != nil {
		return err
	}
	v := r.view
	switch ev.Kind {
	case client.EventConnecting:
		return r.notice("connecting to " + r.cfg.URL)
	case client.EventDisconnected:
		return r.notice(fmt.Sprintf("disconnected: %v; retrying in %s", ev.Err, ev.Delay.Round(time.Millisecond)))
	case client.EventConnected:
		v.book = client.NewBook(r.cfg.Channel)
		v.conn, v.connOK = "connected, subscribing to "+r.cfg.Channel, false
		r.dirty = true
	case client.EventSubscribed:
		if ev.Channel == r.cfg.Channel {
			v.conn, v.connOK = "connected", true
			r.dirty = true
		}
	case client.EventTick:
	default:
		r.dirty = v.apply(ev) || r.dirty
	}
	if r.dirty && time.Since(r.last) >= frameInterval {
		return r.draw()
	}
	return nil
}

func (r *runner) log(msg string) {
	fmt.Fprintln(r.cfg.Log, "marketfeed watch: "+msg)
}

// notice shows a connection event on screen at once.
func (r *runner) notice(msg string) error {
	r.view.conn, r.view.connOK = msg, false
	return r.draw()
}

func (r *runner) draw() error {
	_, err := r.out.Write(screen(r.view.lines(r.st), !r.drawn))
	r.drawn, r.dirty, r.last = true, false, time.Now()
	if err != nil {
		return &outputError{err}
	}
	return nil
}

// restore shows the cursor again when the live view ends.
func (r *runner) restore() {
	if r.drawn {
		io.WriteString(r.out, escShowCursor)
	}
}

// writeLine writes one message as one line. A message with line breaks
// (JSON whitespace; marketfeed never sends one) is compacted so that the
// output stays one message per line.
func (r *runner) writeLine(data []byte) error {
	line := make([]byte, 0, len(data)+1)
	if bytes.ContainsAny(data, "\r\n") {
		var b bytes.Buffer
		if json.Compact(&b, data) == nil {
			data = b.Bytes()
		}
	}
	line = append(append(line, data...), '\n')
	if _, err := r.out.Write(line); err != nil {
		return &outputError{err}
	}
	return nil
}
