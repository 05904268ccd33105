package client

import (
	"errors"
	"fmt"
	"sort"

	"github.com/marketfeed/marketfeed/schemas"
)

// ErrCandlesNotSynced reports a candles update applied before the
// channel's snapshot.
var ErrCandlesNotSynced = errors.New("client: candles update before the snapshot")

// Candles are the candles of one candles channel as the server sent them:
// Apply each candles message of the channel; the snapshot replaces every
// candle, and each candle received replaces the one held with the same
// start. A Candles is not safe for concurrent use.
type Candles struct {
	channel     string
	resolution  string
	windowStart int64
	synced      bool
	list        []schemas.CandleMessage // by start
}

// NewCandles returns the empty candles of channel (candles.<SYMBOL>).
func NewCandles(channel string) *Candles { return &Candles{channel: channel} }

// Apply applies a candles message of the channel. Before the first
// snapshot an update is ErrCandlesNotSynced, and a message of another
// channel or resolution is an error; neither changes anything.
func (c *Candles) Apply(m *schemas.ServerMessage) error {
	if m.Type != schemas.TypeCandles || m.Channel != c.channel {
		return fmt.Errorf("client: %s message of %s applied to the candles of %s", m.Type, m.Channel, c.channel)
	}
	switch {
	case m.Snapshot:
		c.list, c.synced, c.resolution = c.list[:0], true, m.Resolution
	case !c.synced:
		return ErrCandlesNotSynced
	case m.Resolution != c.resolution:
		return fmt.Errorf("client: candles of resolution %s applied to %s", m.Resolution, c.resolution)
	}
	if m.Snapshot || m.WindowStart != 0 {
		c.windowStart = m.WindowStart
	}
	for _, k := range m.Candles {
		i := sort.Search(len(c.list), func(i int) bool { return c.list[i].Start >= k.Start })
		switch {
		case i < len(c.list) && c.list[i].Start == k.Start:
			c.list[i] = k
		default:
			c.list = append(c.list, schemas.CandleMessage{})
			copy(c.list[i+1:], c.list[i:])
			c.list[i] = k
		}
	}
	return nil
}

// Synced reports whether the snapshot was applied.
func (c *Candles) Synced() bool { return c.synced }

// Resolution returns the resolution of the snapshot applied, "" before.
func (c *Candles) Resolution() string { return c.resolution }

// WindowStart returns the exchange time (µs) from which the candles hold
// every trade the server read (0 when the server did not say).
func (c *Candles) WindowStart() int64 { return c.windowStart }

// List returns a copy of the candles, oldest first.
func (c *Candles) List() []schemas.CandleMessage {
	return append([]schemas.CandleMessage(nil), c.list...)
}

// Last returns the newest candle (the candle in progress when there is
// one); false when there is none.
func (c *Candles) Last() (schemas.CandleMessage, bool) {
	if len(c.list) == 0 {
		return schemas.CandleMessage{}, false
	}
	return c.list[len(c.list)-1], true
}
