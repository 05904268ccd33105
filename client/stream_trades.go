package client

import (
	"strings"
	"sync"

	"github.com/marketfeed/marketfeed/schemas"
)

// tradePositions is where a Stream's trades channels were: the last trade
// received on each, kept across its connections, so that every
// reconnection subscribes from there (websocket.md §3.1 "Resume") and the
// handler gets every trade once, none lost while the connection was down
// (within what the server still holds; beyond, the subscribed event says
// "resumed":false). Safe for concurrent use; a Stream's sessions use it
// one after another.
type tradePositions struct {
	mu   sync.Mutex
	last map[string]schemas.Resume // by channel
}

// saw records the last trade of a trades message.
func (p *tradePositions) saw(m *schemas.ServerMessage) {
	if len(m.Trades) == 0 || !strings.HasPrefix(m.Channel, "trades.") {
		return
	}
	tr := m.Trades[len(m.Trades)-1]
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		p.last = map[string]schemas.Resume{}
	}
	p.last[m.Channel] = schemas.Resume{Channel: m.Channel, TradeID: tr.ID, TS: tr.TS, HasTrade: true}
}

// position returns the resume option of trades channel ch (for
// SubscribeOptions.Resume): the last trade received, nil before any.
func (p *tradePositions) position(ch string) []schemas.Resume {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.last[ch]; ok {
		return []schemas.Resume{r}
	}
	return nil
}

// TradePosition returns the last trade the Stream received on trades
// channel ch (its id and exchange time), from which it resumes the channel
// on its next connection; ok is false before any. Safe from any goroutine.
func (s *Stream) TradePosition(ch string) (r schemas.Resume, ok bool) {
	s.trades.mu.Lock()
	defer s.trades.mu.Unlock()
	r, ok = s.trades.last[ch]
	return r, ok
}
