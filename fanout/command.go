package fanout

import (
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

// subscription is one channel a connection subscribed to. It is created
// and read by the connection's reader and handed to the symbol's
// owner, which treats it as immutable.
type subscription struct {
	channel  string
	kind     schemas.ChannelKind
	streams  *Streams
	depth    int // book only
	interval schemas.Interval
	// resolution is the candles' resolution (candles only).
	resolution schemas.Resolution
	lag        bool        // book, bbo and ticker: conflate on lag (skip ahead to a fresh state) rather than evict
	gone       atomic.Bool // set by the reader when the subscription ends
	// reallow (tickers only) asks the board to check the symbols against
	// the session again (Hub.Recheck).
	reallow atomic.Bool
	// resume is the position the subscribe gave for the channel, nil
	// when none (resume.go).
	resume *schemas.Resume
}

// symbol is the subscription's symbol, "" for tickers.
func (s *subscription) symbol() string {
	if s.streams == nil {
		return ""
	}
	return s.streams.symbol
}

func (s *subscription) info() schemas.SubscriptionInfo {
	info := schemas.SubscriptionInfo{Channel: s.channel, Depth: s.depth, Interval: s.interval.String()}
	if s.kind == schemas.ChannelCandles {
		info.Resolution = s.resolution.String()
	}
	return info
}

// handleText handles one client text message (valid UTF-8: the frame
// reader checked it). It returns false when the connection must stop
// reading. smu is taken around each step that reads or changes subs and
// sess, never across a post to an owner (subscribe, unsubscribe).
func (c *Conn) handleText(msg []byte) bool {
	c.msgs++
	// Parsed first, so that a command dropped by the rate limit is
	// answered with its id (and its channel when it names one): the
	// client knows which command to send again.
	var cmd schemas.Command
	err := schemas.ParseCommand(msg, &cmd)
	if !c.rateOK() {
		channel := ""
		if err == nil && len(cmd.Channels) == 1 {
			channel = cmd.Channels[0]
		}
		c.sendError(cmd.ID, schemas.CodeRateLimited, "too many messages; this one was dropped", channel)
		return c.countInvalid()
	}
	if err != nil {
		var pe *schemas.ProtocolError
		if !errors.As(err, &pe) {
			pe = &schemas.ProtocolError{Code: schemas.CodeInvalidRequest, Message: err.Error()}
		}
		c.sendError(cmd.ID, pe.Code, pe.Message, pe.Channel)
		return c.countInvalid()
	}
	var each func(id int64, ch string) bool
	switch cmd.Op {
	case schemas.OpSubscribe:
		each = func(id int64, ch string) bool {
			return c.subscribe(id, ch, cmd.Depth, cmd.Interval, cmd.Lag, cmd.Resolution, resumeFor(&cmd, ch))
		}
	case schemas.OpUnsubscribe:
		each = func(id int64, ch string) bool { return c.unsubscribe(id, ch) }
	case schemas.OpResync:
		each = c.resync
	case schemas.OpAuth:
		c.smu.Lock()
		defer c.smu.Unlock()
		return c.authenticate(cmd.ID, cmd.Key)
	case schemas.OpPing:
		c.send(&schemas.ServerMessage{Type: schemas.TypePong, ID: cmd.ID, TS: time.Now().UnixMicro()})
	case schemas.OpList:
		c.smu.Lock()
		list := make([]schemas.SubscriptionInfo, 0, len(c.subs))
		for _, s := range c.subs {
			list = append(list, s.info())
		}
		c.smu.Unlock()
		sort.Slice(list, func(i, j int) bool { return list[i].Channel < list[j].Channel })
		c.send(&schemas.ServerMessage{Type: schemas.TypeSubscriptions, ID: cmd.ID, Subscriptions: list})
	}
	for _, ch := range cmd.Channels {
		if each != nil && !each(cmd.ID, ch) && !c.countInvalid() {
			return false
		}
	}
	return true
}

// countInvalid counts an invalid message and closes the connection when
// there were too many; it returns false then.
func (c *Conn) countInvalid() bool {
	c.invalid++
	if c.invalid >= c.hub.cfg.MaxInvalidMessages {
		c.closeWith(schemas.CloseTooManyErrors, "too many invalid messages", "too_many_errors")
		return false
	}
	return true
}

// subscribe validates one channel and hands the subscription to the
// symbol's owner, which acknowledges it and sends the initial state (or
// continues from resume, the channel's resume position, if any).
func (c *Conn) subscribe(id int64, channel string, depth int, interval, lag, resolution string, resume *schemas.Resume) bool {
	c.smu.Lock()
	s := c.newSubscription(id, channel, depth, interval, lag, resolution, resume)
	if s != nil {
		c.subs[channel] = s
		c.updateLagSet() // before the owner sees s, for a skip-ahead under way
		c.hub.metrics.Subscriptions.Inc()
	}
	c.smu.Unlock()
	if s == nil {
		return false
	}
	if s.kind == schemas.ChannelTickers {
		c.hub.subscribeTickers(c, s, id)
		return true
	}
	if resume != nil && s.kind == schemas.ChannelTrades {
		return c.subscribeTradesFrom(id, s, *resume)
	}
	t := s.streams
	// Posted without smu: Hub.Recheck may end s meanwhile (gone), and its
	// unsubscribe may reach the owner first; the owner then leaves s out.
	if c.postInOrder(t, func() {
		if !s.gone.Load() {
			t.subscribe(c, s, id)
		}
	}) {
		return true
	}
	c.smu.Lock()
	if c.subs[channel] == s {
		delete(c.subs, channel)
		s.gone.Store(true)
		c.updateLagSet()
		c.hub.metrics.Subscriptions.Dec()
	}
	c.smu.Unlock()
	c.sendError(id, schemas.CodeUnknownSymbol, "symbol "+t.symbol+" is no longer served", channel)
	return false
}

// newSubscription validates a subscription to channel, replying with the
// error when it is refused (nil). smu is held.
func (c *Conn) newSubscription(id int64, channel string, depth int, interval, lag, resolution string, resume *schemas.Resume) *subscription {
	kind, symbol, err := schemas.ParseChannel(channel)
	if err != nil {
		msg := err.Error()
		var pe *schemas.ProtocolError
		if errors.As(err, &pe) {
			msg = pe.Message
		}
		c.sendError(id, schemas.CodeUnknownChannel, msg, channel)
		return nil
	}
	if _, dup := c.subs[channel]; dup {
		c.sendError(id, schemas.CodeAlreadySubscribed, "already subscribed to "+channel, channel)
		return nil
	}
	if max := c.maxSubscriptions(); len(c.subs) >= max {
		c.sendError(id, schemas.CodeTooManySubscriptions,
			fmt.Sprintf("at most %d subscriptions per connection", max), channel)
		return nil
	}
	var t *Streams
	if kind != schemas.ChannelTickers {
		if t = c.hub.Streams(symbol); t == nil {
			c.sendError(id, schemas.CodeUnknownSymbol, "unknown symbol "+symbol, channel)
			return nil
		}
	}
	s := &subscription{channel: channel, kind: kind, streams: t, interval: defaultInterval(kind),
		lag: kind != schemas.ChannelTrades && kind != schemas.ChannelTickers && lag != schemas.LagEvict}
	if interval != "" {
		iv, ok := schemas.ParseInterval(interval)
		if !ok || (kind == schemas.ChannelTickers && iv == schemas.Raw) {
			c.sendError(id, schemas.CodeInvalidInterval, "unknown interval "+interval, channel)
			return nil
		}
		s.interval = iv
	}
	if kind == schemas.ChannelCandles && !s.parseResolution(c, id, resolution) {
		return nil
	}
	if kind == schemas.ChannelBook {
		s.depth = schemas.DefaultDepth
		if depth != 0 {
			if !schemas.ValidDepth(depth) {
				c.sendError(id, schemas.CodeInvalidDepth, fmt.Sprintf("depth %d is not offered", depth), channel)
				return nil
			}
			s.depth = depth
		}
	}
	if resume != nil {
		if err := resume.Check(kind); err != nil {
			c.sendError(id, schemas.CodeInvalidRequest, err.(*schemas.ProtocolError).Message, channel)
			return nil
		}
		s.resume = resume
	}
	if !c.allowed(id, s) {
		return nil
	}
	return s
}

// unsubscribe ends the subscription to channel; the owner acknowledges it
// once nothing more of the stream can follow, and the reader waits for
// that before it goes on (postInOrder).
func (c *Conn) unsubscribe(id int64, channel string) bool {
	c.smu.Lock()
	s := c.removeSub(id, channel)
	c.smu.Unlock()
	if s == nil {
		return false
	}
	if s.kind == schemas.ChannelTickers {
		c.hub.unsubscribeTickers(c, s, id, true)
		return true
	}
	if !c.postInOrder(s.streams, func() { s.streams.unsubscribe(c, s, id, true) }) {
		c.send(&schemas.ServerMessage{Type: schemas.TypeUnsubscribed, ID: id, Channel: channel})
	}
	return true
}

// removeSub takes the subscription to channel out of subs and returns it,
// or replies not_subscribed and returns nil. smu is held; the caller posts
// the unsubscribe to its owner once smu is released.
func (c *Conn) removeSub(id int64, channel string) *subscription {
	s, ok := c.subs[channel]
	if !ok {
		c.sendError(id, schemas.CodeNotSubscribed, "not subscribed to "+channel, channel)
		return nil
	}
	delete(c.subs, channel)
	s.gone.Store(true)
	c.updateLagSet()
	c.hub.metrics.Subscriptions.Dec()
	return s
}

// ownerWait bounds how long the reader waits for a symbol's owner to run a
// subscribe or unsubscribe (postInOrder). An owner runs it between two
// batches, within milliseconds; the bound only matters for an owner that
// stopped after accepting it, whose reply never comes.
const ownerWait = time.Second

// postInOrder runs fn, which replies to the client, on t's owner and waits
// until it has run, so that its replies precede whatever the reader sends
// next: the channels of a command, and successive commands, are answered
// in request order (websocket.md §3.1) although their symbols have
// different owners. It reports false if the owner has stopped. Read
// goroutine only, without smu: the post may wait for room in the owner's
// queue.
func (c *Conn) postInOrder(t *Streams, fn func()) bool {
	done := make(chan struct{})
	if !t.post(func() { fn(); close(done) }) {
		return false
	}
	wait := time.NewTimer(ownerWait)
	select {
	case <-done:
	case <-wait.C:
	}
	wait.Stop()
	return true
}
