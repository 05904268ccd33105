package watch

import (
	"strings"
	"testing"

	"github.com/marketfeed/marketfeed/client/internal/wstest"
)

func TestRunLiveCandles(t *testing.T) {
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.WriteText(welcome)
		cmd, err := p.ReadCommand()
		if err != nil || cmd["channel"] != "candles.ETH-USD" || cmd["resolution"] != "5m" {
			t.Errorf("subscribe %v (%v)", cmd, err)
		}
		p.WriteText(`{"type":"subscribed","id":1,"channel":"candles.ETH-USD","interval":"1s","resolution":"5m"}`)
		p.WriteText(`{"type":"candles","channel":"candles.ETH-USD","resolution":"5m","snapshot":true,"window_start":1767225480000000,"candles":[` +
			`{"start":1767225600000000,"open":"3000.10","high":"3010.00","low":"2990.00","close":"2995.50","volume":"4.0000","quote_volume":"12000.00000000","count":3,"final":true}]}`)
		p.WriteText(`{"type":"candles","channel":"candles.ETH-USD","resolution":"5m","window_start":1767225480000000,"candles":[` +
			`{"start":1767225900000000,"open":"2995.50","high":"3001.25","low":"2995.50","close":"3001.25","volume":"1.0000","quote_volume":"3001.25000000","count":2,"final":false}]}`)
		p.WaitClosed()
	})
	out := &syncBuffer{}
	stop, _, _ := runAsync(t, Config{URL: s.URL, Channel: "candles.ETH-USD", Resolution: "5m", Interval: "1s", Color: true}, out)
	waitFor(t, out, "the candle in progress", func(s string) bool { return strings.Contains(lastFrame(s), "3001.25") })
	frame := lastFrame(out.String())
	for _, want := range []string{"resolution 5m", "2026-01-01 00:00", "2026-01-01 00:05", "3010.00", escRed + "     2995.50", escGreen + "     3001.25", "in progress"} {
		if !strings.Contains(frame, want) {
			t.Errorf("candles frame lacks %q:\n%q", want, frame)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}
