package fanout_test

import (
	"crypto/tls"
	"fmt"
	"testing"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/schemas"
)

// Over TLS, whose batches are coalesced into one write, a burst arrives
// whole and in order: every update follows the previous one's seq, and
// every trade arrives once.
func TestTLSBurstInOrder(t *testing.T) {
	s := startServerWith(t, fanout.Config{}, true)
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 1, bookBids, bookAsks))
	s.sync(t)

	c := dialWith(t, ws.Dialer{TLSConfig: &tls.Config{InsecureSkipVerify: true}}, s.url)
	c.sendText(`{"op":"subscribe","id":1,"channels":["book.BTC-USD","trades.BTC-USD"],"depth":1}`)
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot })

	const n = 300
	var burst []string
	for i := range n {
		seq := 2 + i
		burst = append(burst, delta("BTC-USD", seq, fmt.Sprintf(`[["100.00","%d"]]`, 2+i%7), `[]`),
			trade("BTC-USD", fmt.Sprint("t", i), "100.50", "1", "buy"))
	}
	s.feed(burst...)
	seq, trades := uint64(1), 0
	for seq < 1+n || trades < n {
		m := c.next()
		switch m.Type {
		case schemas.TypeUpdate:
			if m.FirstSeq != seq+1 {
				t.Fatalf("update %d..%d after seq %d", m.FirstSeq, m.Seq, seq)
			}
			seq = m.Seq
		case schemas.TypeTrades:
			for _, tr := range m.Trades {
				if want := fmt.Sprint("t", trades); tr.ID != want {
					t.Fatalf("trade %q, want %q", tr.ID, want)
				}
				trades++
			}
		}
	}
}
