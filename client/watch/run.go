package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gobwas/ws"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/schemas"
)

// frameInterval is the minimum time between two redraws of the live view.
const frameInterval = 100 * time.Millisecond

// Run watches cfg.Channel and writes to out until ctx ends (then it
// returns nil) or a fatal error occurs: an invalid configuration, a
// subscription refused by the server (other than rate_limited), an upgrade
// refused with an HTTP 4xx status, a server speaking another protocol, or a
// failed write to out. Other failures (connection refused, dropped
// connection, close frames such as 4001 slow consumer) are retried with
// exponential backoff between Config.RetryMin and Config.RetryMax.
func Run(ctx context.Context, cfg Config, out io.Writer) error {
	cfg, kind, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	r := &runner{cfg: cfg, kind: kind, out: out, st: style{color: cfg.Color, barWidth: cfg.BarWidth}}
	if !cfg.Raw {
		r.view = newView(cfg, kind)
		defer r.restore()
	}
	delay := cfg.RetryMin
	for {
		healthy, err := r.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if fatal(err) {
			return err
		}
		if healthy {
			delay = cfg.RetryMin
		}
		if err := r.notice(fmt.Sprintf("disconnected: %v; retrying in %s", err, delay)); err != nil {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, cfg.RetryMax)
	}
}

// outputError marks a failed write to out.
type outputError struct{ err error }

func (e *outputError) Error() string { return "watch: writing output: " + e.err.Error() }
func (e *outputError) Unwrap() error { return e.err }

// fatal reports whether retrying cannot help.
func fatal(err error) bool {
	var oe *outputError
	var se *client.ServerError
	var hs ws.StatusError
	switch {
	case errors.As(err, &oe):
		return true
	case errors.As(err, &se):
		return se.Code != "rate_limited"
	case errors.As(err, &hs):
		return hs >= 400 && hs < 500
	}
	return errors.Is(err, client.ErrProtocolVersion) || errors.Is(err, client.ErrNoWelcome)
}

type runner struct {
	cfg  Config
	kind string
	out  io.Writer
	st   style

	view  *view // nil in raw mode
	drawn bool  // the screen was cleared once
	id    int64 // last command id
	subID int64 // id of the current subscribe command
}

// session runs one connection. healthy reports whether the subscription was
// confirmed, which resets the backoff.
func (r *runner) session(ctx context.Context) (healthy bool, err error) {
	if err := r.notice("connecting to " + r.cfg.URL); err != nil {
		return false, err
	}
	conn, err := client.Dial(ctx, r.cfg.URL, client.Options{Header: r.cfg.Header})
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if r.cfg.Raw {
		if err := r.writeLine(conn.WelcomeRaw()); err != nil {
			return false, err
		}
	} else {
		r.view.book = client.NewBook(r.cfg.Channel)
		r.view.conn, r.view.connOK = "connected, subscribing to "+r.cfg.Channel, false
	}
	if err := r.subscribe(conn); err != nil {
		return false, err
	}
	if r.cfg.Raw {
		return r.rawLoop(ctx, conn)
	}
	return r.liveLoop(ctx, conn)
}

func (r *runner) subscribe(conn *client.Conn) error {
	r.id++
	r.subID = r.id
	depth := 0
	if r.kind == kindBook {
		depth = r.cfg.Depth
	}
	return conn.Subscribe(r.subID, []string{r.cfg.Channel}, depth, r.cfg.Interval)
}

// reply inspects control replies. ok reports a confirmed subscription; err
// a refused one.
func (r *runner) reply(m *schemas.ServerMessage) (ok bool, err error) {
	switch {
	case m.Type == schemas.TypeSubscribed && m.ID == r.subID:
		return true, nil
	case m.Type == schemas.TypeError && m.ID == r.subID:
		return false, client.ServerErrorOf(m)
	}
	return false, nil
}

func (r *runner) rawLoop(ctx context.Context, conn *client.Conn) (healthy bool, err error) {
	for {
		data, err := conn.NextRaw(ctx)
		if err != nil {
			return healthy, err
		}
		if err := r.writeLine(data); err != nil {
			return healthy, err
		}
		var m schemas.ServerMessage
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		ok, err := r.reply(&m)
		if err != nil {
			return healthy, err
		}
		healthy = healthy || ok
	}
}

func (r *runner) liveLoop(ctx context.Context, conn *client.Conn) (healthy bool, err error) {
	var last time.Time
	dirty := true
	for {
		if dirty && time.Since(last) >= frameInterval {
			if err := r.draw(); err != nil {
				return healthy, err
			}
			last, dirty = time.Now(), false
		}
		wait := ctx
		cancel := context.CancelFunc(func() {})
		if dirty {
			wait, cancel = context.WithDeadline(ctx, last.Add(frameInterval))
		}
		data, err := conn.NextRaw(wait)
		cancel()
		if err != nil {
			if ctx.Err() == nil && wait.Err() != nil {
				continue // time to redraw
			}
			return healthy, err
		}
		m := new(schemas.ServerMessage)
		if json.Unmarshal(data, m) != nil {
			continue
		}
		ok, err := r.reply(m)
		if err != nil {
			return healthy, err
		}
		if ok {
			healthy = true
			r.view.conn, r.view.connOK = "connected", true
			dirty = true
		}
		changed, resync := r.view.apply(m)
		dirty = dirty || changed
		if resync {
			// A fresh subscription starts with a snapshot.
			r.id++
			if err := conn.Unsubscribe(r.id, []string{r.cfg.Channel}); err != nil {
				return healthy, err
			}
			if err := r.subscribe(conn); err != nil {
				return healthy, err
			}
		}
	}
}

// notice reports a connection event: on screen in the live view, on
// cfg.Log in raw mode.
func (r *runner) notice(msg string) error {
	if r.cfg.Raw {
		fmt.Fprintln(r.cfg.Log, "marketfeed watch: "+msg)
		return nil
	}
	r.view.conn, r.view.connOK = msg, false
	return r.draw()
}

func (r *runner) draw() error {
	_, err := r.out.Write(screen(r.view.lines(r.st), !r.drawn))
	r.drawn = true
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
