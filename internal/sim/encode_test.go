package sim

import (
	"encoding/json"
	"testing"
)

// TestEncodeContract compares encoded records with the wire contract's
// examples (decimals at the instrument's scale).
func TestEncodeContract(t *testing.T) {
	btc := builtin[0].instrument()
	s := &symbol{in: btc, seq: 1042}
	s.bids = side{bid: true, levels: []level{{6412310, 50000000}, {6412300, 125000000}}}
	s.asks = side{levels: []level{{6412320, 30000000}}}
	ts := t0.UnixMicro()
	var enc encoder
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"instrument", enc.appendInstrument(nil, &btc, ts),
			`{"type":"instrument","symbol":"BTC-USD","ts":1767225600000000,"base":"BTC","quote":"USD","price_scale":2,"size_scale":8,"tick_size":"0.01","lot_size":"0.00000001","status":"trading"}`},
		{"snapshot", enc.appendSnapshot(nil, s, 0, ts),
			`{"type":"snapshot","symbol":"BTC-USD","ts":1767225600000000,"seq":1042,"bids":[["64123.10","0.50000000"],["64123.00","1.25000000"]],"asks":[["64123.20","0.30000000"]]}`},
		{"delta", enc.appendDelta(nil, &symbol{in: btc, seq: 1043}, []change{{bid: true, price: 6412310}, {price: 6412330, size: 200000000}}, 0, ts),
			`{"type":"delta","symbol":"BTC-USD","ts":1767225600000000,"seq":1043,"bids":[["64123.10","0.00000000"]],"asks":[["64123.30","2.00000000"]]}`},
		{"delta one side", enc.appendDelta(nil, &symbol{in: btc, seq: 7}, []change{{price: 6412330, size: 1}}, 0, ts),
			`{"type":"delta","symbol":"BTC-USD","ts":1767225600000000,"seq":7,"bids":[],"asks":[["64123.30","0.00000001"]]}`},
		{"snapshot of an epoch", enc.appendSnapshot(nil, s, 1767225595000000, ts),
			`{"type":"snapshot","symbol":"BTC-USD","ts":1767225600000000,"epoch":1767225595000000,"seq":1042,"bids":[["64123.10","0.50000000"],["64123.00","1.25000000"]],"asks":[["64123.20","0.30000000"]]}`},
		{"delta of an epoch", enc.appendDelta(nil, &symbol{in: btc, seq: 7}, []change{{price: 6412330, size: 1}}, 9, ts),
			`{"type":"delta","symbol":"BTC-USD","ts":1767225600000000,"epoch":9,"seq":7,"bids":[],"asks":[["64123.30","0.00000001"]]}`},
		{"trade buy", enc.appendTrade(nil, s, 987654, 6412310, 1500000, true, ts),
			`{"type":"trade","symbol":"BTC-USD","ts":1767225600000000,"trade_id":"987654","price":"64123.10","size":"0.01500000","side":"buy"}`},
		{"trade sell", enc.appendTrade(nil, s, 987655, 6412300, 1, false, ts),
			`{"type":"trade","symbol":"BTC-USD","ts":1767225600000000,"trade_id":"987655","price":"64123.00","size":"0.00000001","side":"sell"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if string(tc.got) != tc.want {
				t.Fatalf("got  %s\nwant %s", tc.got, tc.want)
			}
			if !json.Valid(tc.got) {
				t.Fatalf("invalid JSON")
			}
		})
	}
	// The first record of a stream is that instrument definition.
	if got := New(Config{}).Snapshots(t0, nil)[0].Value; string(got) != tests[0].want {
		t.Fatalf("first record %s", got)
	}
}
