package client

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

// session is one connection of a Stream. It lives on Run's goroutine.
type session struct {
	cfg    StreamConfig
	conn   *Conn
	h      Handler
	resume *resumeState

	subs      map[string]Subscription
	books     map[string]*Book     // book channels, unless RawBooks
	pending   map[int64]string     // subscribe command id → channel
	resyncing map[string]bool      // a fresh snapshot was requested
	resyncIDs map[int64]string     // resync command id → channel
	retryAt   map[string]time.Time // rate-limited subscriptions to send again
	trades    *tradePositions      // the Stream's, kept across sessions
	id        int64
	healthy   bool // a subscription was confirmed
}

// session runs one connection until it ends. healthy reports whether a
// subscription was confirmed, which resets the backoff.
func (s *Stream) session(ctx context.Context, h Handler) (healthy bool, err error) {
	if err := h(&Event{Kind: EventConnecting}); err != nil {
		return false, &handlerError{err}
	}
	conn, err := Dial(ctx, s.resume.nextURL(s.cfg.urls), s.cfg.Dial)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	ss := &session{
		cfg: s.cfg, conn: conn, h: h, resume: s.resume,
		subs: map[string]Subscription{}, books: s.resume.books, pending: map[int64]string{},
		resyncing: map[string]bool{}, resyncIDs: map[int64]string{}, retryAt: map[string]time.Time{},
		trades: s.trades,
	}
	err = ss.run(ctx)
	return ss.healthy, err
}

func (ss *session) emit(ev *Event) error {
	if err := ss.h(ev); err != nil {
		return &handlerError{err}
	}
	return nil
}

func (ss *session) run(ctx context.Context) error {
	welcome := ss.conn.Welcome()
	if err := ss.emit(&Event{Kind: EventConnected, Msg: &welcome, Raw: ss.conn.WelcomeRaw()}); err != nil {
		return err
	}
	for _, sub := range ss.cfg.Subscriptions {
		ss.subs[sub.Channel] = sub
		if strings.HasPrefix(sub.Channel, "book.") && !ss.cfg.RawBooks && ss.books[sub.Channel] == nil {
			ss.books[sub.Channel] = NewBook(sub.Channel)
		}
		if err := ss.subscribe(sub.Channel); err != nil {
			return err
		}
	}
	var nextTick time.Time
	if ss.cfg.Tick > 0 {
		nextTick = time.Now().Add(ss.cfg.Tick)
	}
	for {
		deadline := nextTick
		for _, at := range ss.retryAt {
			if deadline.IsZero() || at.Before(deadline) {
				deadline = at
			}
		}
		wait, cancel := ctx, context.CancelFunc(func() {})
		if !deadline.IsZero() {
			wait, cancel = context.WithDeadline(ctx, deadline)
		}
		raw, binary, err := ss.conn.NextFrame(wait)
		cancel()
		if err != nil && (ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded)) {
			return err // not just the wait for a tick or a retry ending
		}
		if err == nil {
			if err := ss.handleFrame(raw, binary); err != nil {
				return err
			}
		}
		now := time.Now()
		for ch, at := range ss.retryAt {
			if !now.Before(at) {
				delete(ss.retryAt, ch)
				if err := ss.subscribe(ch); err != nil {
					return err
				}
			}
		}
		if !nextTick.IsZero() && !now.Before(nextTick) {
			nextTick = now.Add(ss.cfg.Tick)
			if err := ss.emit(&Event{Kind: EventTick}); err != nil {
				return err
			}
		}
	}
}

func (ss *session) nextID() int64 {
	ss.id++
	return ss.id
}

func (ss *session) subscribe(ch string) error {
	sub := ss.subs[ch]
	id := ss.nextID()
	ss.pending[id] = ch
	return ss.conn.SubscribeWith(id, []string{ch}, SubscribeOptions{Depth: sub.Depth, Interval: sub.Interval, Lag: sub.Lag,
		Resolution: sub.Resolution, Resume: append(ss.resume.position(ch), ss.trades.position(ch)...)})
}

// resync asks the server for a fresh snapshot of a book channel whose local
// book lost continuity, with the resync operation: the subscription stays,
// and its next book message is the snapshot. Messages already in flight
// find the book not synced and are ignored. Should the server refuse the
// resync, the channel is unsubscribed and subscribed again instead (see
// resyncRefused).
func (ss *session) resync(ch string) error {
	if ss.resyncing[ch] {
		return nil
	}
	ss.resyncing[ch] = true
	id := ss.nextID()
	ss.resyncIDs[id] = ch
	return ss.conn.Resync(id, []string{ch})
}

// resyncRefused falls back to a new subscription, which starts with a
// snapshot, for a channel whose resync the server refused.
func (ss *session) resyncRefused(ch string) error {
	if err := ss.conn.Unsubscribe(ss.nextID(), []string{ch}); err != nil {
		return err
	}
	return ss.subscribe(ch)
}

// handle decodes one server message, updates the local book it concerns
// and delivers the corresponding event.
func (ss *session) handle(raw []byte) error { return ss.handleFrame(raw, false) }

// handleFrame is handle of a message that is a binary market-data message
// if binary, else JSON text.
func (ss *session) handleFrame(raw []byte, binary bool) error {
	m, err := Decode(raw, binary)
	if err != nil {
		return ss.emit(&Event{Kind: EventError, Raw: raw, Err: err})
	}
	ev := &Event{Channel: m.Channel, Msg: m, Raw: raw}
	switch m.Type {
	case schemas.TypeSubscribed:
		ev.Kind = EventSubscribed
		if _, ok := ss.pending[m.ID]; ok {
			delete(ss.pending, m.ID)
			ss.healthy = true
		}
		ss.resume.confirmed[m.Channel] = true
		ev.Resumed = m.Resumed != nil && *m.Resumed
	case schemas.TypeError:
		se := ServerErrorOf(m)
		ev.Kind, ev.Err = EventError, se
		if ch, ok := ss.resyncIDs[m.ID]; ok {
			delete(ss.resyncIDs, m.ID)
			ev.Channel = ch
			if err := ss.resyncRefused(ch); err != nil {
				return err
			}
		}
		if ch, ok := ss.pending[m.ID]; ok {
			delete(ss.pending, m.ID)
			ev.Kind, ev.Channel = EventRefused, ch
			if se.Code == "rate_limited" {
				ss.retryAt[ch] = time.Now().Add(backoff(ss.cfg.RetryMin, ss.cfg.RetryMax, 1))
			}
		}
	case schemas.TypeSnapshot, schemas.TypeUpdate:
		ev.Kind = EventBook
		if b := ss.books[m.Channel]; b != nil {
			ev.Book = b
			if err := b.Apply(m); err != nil && !errors.Is(err, ErrNotSynced) {
				// Any failure of Book.Apply (gap, invalid level, ...)
				// means the local book can no longer be trusted.
				ev.Kind, ev.Err = EventResync, err
				if err := ss.resync(m.Channel); err != nil {
					return err
				}
			} else if m.Type == schemas.TypeSnapshot && err == nil {
				delete(ss.resyncing, m.Channel)
				for id, ch := range ss.resyncIDs {
					if ch == m.Channel {
						delete(ss.resyncIDs, id)
					}
				}
			}
		}
	case schemas.TypeStatus:
		ev.Kind = EventStatus
		ss.resume.noteBBO(m)
		if b := ss.books[m.Channel]; b != nil {
			ev.Book = b
			_ = b.Apply(m)
		}
	case schemas.TypeNotice:
		ev.Kind = EventNotice
		if err := ss.emit(ev); err != nil {
			return err
		}
		return ErrNotice // ends the session: Run reconnects at once
	case schemas.TypeTicker:
		ev.Kind = EventTicker
	case schemas.TypeBBO:
		ev.Kind = EventBBO
		ss.resume.noteBBO(m)
	case schemas.TypeTickers:
		ev.Kind = EventTickers
	case schemas.TypeTrades:
		ev.Kind = EventTrades
		ss.trades.saw(m)
	case schemas.TypeCandles:
		ev.Kind = EventCandles
	default:
		ev.Kind = EventMessage
	}
	return ss.emit(ev)
}
