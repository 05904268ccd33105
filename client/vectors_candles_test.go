package client

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/marketfeed/marketfeed/schemas"
)

// TestVectorsCandlesAndTickers applies the candles messages of the shared
// vectors to Candles and checks the tickers messages' nested tickers, as
// the JavaScript and Python clients do.
func TestVectorsCandlesAndTickers(t *testing.T) {
	var v struct {
		Cases []struct {
			Name   string                `json:"name"`
			Text   string                `json:"text"`
			Expect schemas.ServerMessage `json:"expect"`
		} `json:"cases"`
	}
	loadVectors(t, "messages", &v)
	seen := map[string]int{}
	for _, c := range v.Cases {
		var m schemas.ServerMessage
		if err := json.Unmarshal([]byte(c.Text), &m); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		seen[m.Type]++
		switch m.Type {
		case schemas.TypeCandles:
			cs := NewCandles(m.Channel)
			if !m.Snapshot {
				if err := cs.Apply(&m); err != ErrCandlesNotSynced {
					t.Errorf("%s: update before the snapshot: %v", c.Name, err)
				}
				_ = cs.Apply(&schemas.ServerMessage{Type: schemas.TypeCandles, Channel: m.Channel, Resolution: m.Resolution, Snapshot: true})
			}
			if err := cs.Apply(&m); err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			if got := cs.List(); !reflect.DeepEqual(got, c.Expect.Candles) || cs.WindowStart() != c.Expect.WindowStart {
				t.Errorf("%s: candles %+v (window %d), want %+v", c.Name, got, cs.WindowStart(), c.Expect.Candles)
			}
		case schemas.TypeTickers:
			if !reflect.DeepEqual(m.Tickers, c.Expect.Tickers) {
				t.Errorf("%s: tickers %+v, want %+v", c.Name, m.Tickers, c.Expect.Tickers)
			}
		}
	}
	if seen[schemas.TypeCandles] == 0 || seen[schemas.TypeTickers] == 0 {
		t.Errorf("vectors hold %d candles and %d tickers messages", seen[schemas.TypeCandles], seen[schemas.TypeTickers])
	}
}
