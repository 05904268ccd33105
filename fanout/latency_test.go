package fanout_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/schemas"
	dto "github.com/prometheus/client_model/go"
)

// latency returns the delivery latency histogram's sample count and sum.
func latency(t *testing.T, m *fanout.Metrics) (uint64, float64) {
	t.Helper()
	var d dto.Metric
	if err := m.DeliveryLatency.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetHistogram().GetSampleCount(), d.GetHistogram().GetSampleSum()
}

// waitSamples waits until the histogram has n samples: the writer
// observes once its write has returned, which may be after the client has
// read the frame.
func waitSamples(t *testing.T, m *fanout.Metrics, n uint64) float64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, sum := latency(t, m)
		if got == n {
			return sum
		}
		if got > n || time.Now().After(deadline) {
			t.Fatalf("%d latency samples, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// The delivery latency is sampled from the event time of book updates
// and trades, handed with the frame, from the exchange's timestamp to the
// end of the write; acknowledgements, snapshots and tickers carry no
// sample.
func TestDeliveryLatencySample(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 10, bookBids, bookAsks))
	s.sync(t)

	c := dial(t, s.url)
	c.sendText(`{"op":"subscribe","id":1,"channels":["book.BTC-USD","trades.BTC-USD","ticker.BTC-USD"],"depth":1}`)
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot })
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeTicker })
	time.Sleep(50 * time.Millisecond)
	if n, _ := latency(t, s.m); n != 0 {
		t.Fatalf("%d latency samples before any update or trade", n)
	}

	ts := time.Now().Add(-200 * time.Millisecond).UnixMicro()
	s.feed(fmt.Sprintf(`{"type":"delta","symbol":"BTC-USD","ts":%d,"seq":11,"bids":[["100.00","0"]],"asks":[]}`, ts))
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeUpdate })
	if sum := waitSamples(t, s.m, 1); sum < 0.2 || sum > 5 {
		t.Fatalf("update latency %.3fs, want about 0.2s", sum)
	}

	ts = time.Now().Add(-300 * time.Millisecond).UnixMicro()
	s.feed(fmt.Sprintf(`{"type":"trade","symbol":"BTC-USD","ts":%d,"trade_id":"t1","price":"100.50","size":"1","side":"buy"}`, ts))
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeTrades })
	if sum := waitSamples(t, s.m, 2); sum < 0.5 || sum > 10 {
		t.Fatalf("latency sum %.3fs after a trade 0.3s old, want about 0.5s", sum)
	}
}

// The sample of an update is taken by the write that carries it, not by a
// later one: on a connection that then stays quiet, the sample is there
// with nothing more written.
func TestDeliveryLatencySampleOfTheLastWrite(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 10, bookBids, bookAsks))
	s.sync(t)
	c := dial(t, s.url)
	c.sendText(`{"op":"subscribe","id":1,"channel":"book.BTC-USD","depth":1}`)
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot })
	for i := range 20 {
		s.feed(fmt.Sprintf(`{"type":"delta","symbol":"BTC-USD","ts":%d,"seq":%d,"bids":[["100.00","%d"]],"asks":[]}`, time.Now().UnixMicro(), 11+i, 2+i))
		c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeUpdate })
		// Nothing else is written to this connection until the next
		// update: the sample of this one must arrive on its own.
		waitSamples(t, s.m, uint64(i+1))
	}
}
