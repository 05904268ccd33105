package auth_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/schemas"
)

// stream reads c's messages in the background and records them with their
// arrival time until the connection ends.
type stream struct {
	mu     sync.Mutex
	msgs   []timed
	closed *closedError
	closAt time.Time
	done   chan struct{}
}

type timed struct {
	at time.Time
	m  *schemas.ServerMessage
}

func record(c *client) *stream {
	s := &stream{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			m, err := c.read(10 * time.Second)
			now := time.Now()
			s.mu.Lock()
			if err != nil {
				errors.As(err, &s.closed)
				s.closAt = now
				s.mu.Unlock()
				return
			}
			s.msgs = append(s.msgs, timed{now, m})
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *stream) snapshot() ([]timed, *closedError, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]timed(nil), s.msgs...), s.closed, s.closAt
}

// waitFor polls until ok holds for the recorded messages or d passes.
func (s *stream) waitFor(d time.Duration, ok func([]timed, *closedError) bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		msgs, ce, _ := s.snapshot()
		if ok(msgs, ce) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	msgs, ce, _ := s.snapshot()
	return ok(msgs, ce)
}

func dataOn(msgs []timed, channel string, after time.Time) int {
	n := 0
	for _, t := range msgs {
		if isData(t.m) && t.m.Channel == channel && t.at.After(after) {
			n++
		}
	}
	return n
}

// TestLiveChanges edits the key file while clients stream: a revoked key,
// an expiring key and a narrowed plan are applied within a second, and a
// client of an unchanged key streams on undisturbed.
func TestLiveChanges(t *testing.T) {
	full := &auth.Plan{Symbols: []string{"*"}}
	alice, ka := newKey(t, "alice", "full", nil)
	bob, kb := newKey(t, "bob", "", &auth.Plan{Symbols: []string{"BTC-USD", "ETH-USD"}})
	carol, kc := newKey(t, "carol", "full", nil)
	kc.Expires = time.Now().Add(1500 * time.Millisecond)
	dave, kd := newKey(t, "dave", "full", nil)
	e := startEnv(t, envConfig{
		file:    &auth.File{Plans: map[string]*auth.Plan{"full": full}, Keys: []*auth.KeyEntry{ka, kb, kc, kd}},
		symbols: []string{"BTC-USD", "ETH-USD"},
	})
	const book, ticker = "book.BTC-USD", "ticker.ETH-USD"
	streams := map[string]*stream{}
	for _, who := range []struct{ name, key string }{{"alice", alice}, {"bob", bob}, {"carol", carol}, {"dave", dave}} {
		c := dial(t, e.url, who.key)
		c.send(`{"op":"subscribe","id":1,"channel":"` + book + `","depth":1000}`)
		c.send(`{"op":"subscribe","id":2,"channel":"` + ticker + `"}`)
		streams[who.name] = record(c)
	}
	for name, s := range streams {
		if !s.waitFor(5*time.Second, func(m []timed, _ *closedError) bool {
			return dataOn(m, book, time.Time{}) > 0 && dataOn(m, ticker, time.Time{}) > 0
		}) {
			t.Fatalf("%s receives no data", name)
		}
	}

	// Revoke alice and narrow bob's plan to ETH-USD.
	edited := e.rewrite(func(f *auth.File) {
		f.Find("alice").Revoked = true
		f.Find("bob").Entitlements.Symbols = []string{"ETH-USD"}
	})

	// alice: an unauthorized error, then close 4003, within a second.
	sa := streams["alice"]
	<-sa.done
	msgs, ce, at := sa.snapshot()
	if ce == nil || ce.code != schemas.CloseUnauthorized {
		t.Fatalf("alice: connection ended with %v, want close %d", ce, schemas.CloseUnauthorized)
	}
	t.Logf("revoked key's connection closed %v after the file was written", at.Sub(edited))
	if d := at.Sub(edited); d > time.Second {
		t.Errorf("alice closed %v after the revocation, want within 1s", d)
	}
	if last := msgs[len(msgs)-1].m; last.Type != schemas.TypeError || last.Code != schemas.CodeUnauthorized {
		t.Errorf("alice: last message before the close %+v, want an unauthorized error", last)
	}

	// bob: not_entitled then unsubscribed for the book, within a second;
	// nothing of the book afterwards, the ticker goes on.
	sb := streams["bob"]
	var unsubAt time.Time
	if !sb.waitFor(2*time.Second, func(m []timed, _ *closedError) bool {
		sawErr := false
		for _, x := range m {
			if x.m.Type == schemas.TypeError && x.m.Code == schemas.CodeNotEntitled && x.m.Channel == book {
				sawErr = true
			}
			if sawErr && x.m.Type == schemas.TypeUnsubscribed && x.m.Channel == book {
				unsubAt = x.at
				return true
			}
		}
		return false
	}) {
		t.Fatal("bob: no not_entitled error followed by unsubscribed for the narrowed book")
	}
	t.Logf("narrowed subscription ended %v after the file was written", unsubAt.Sub(edited))
	if d := unsubAt.Sub(edited); d > time.Second {
		t.Errorf("bob's book ended %v after the change, want within 1s", d)
	}
	if !sb.waitFor(5*time.Second, func(m []timed, _ *closedError) bool { return dataOn(m, ticker, unsubAt) > 3 }) {
		t.Fatal("bob's ticker stopped")
	}
	if msgs, ce, _ := sb.snapshot(); ce != nil || dataOn(msgs, book, unsubAt) > 0 {
		t.Fatalf("bob: closed %v, %d book messages after unsubscribed", ce, dataOn(msgs, book, unsubAt))
	}

	// carol: closed within a second of her key's expiry.
	sc := streams["carol"]
	<-sc.done
	if _, ce, at := sc.snapshot(); ce == nil || ce.code != schemas.CloseUnauthorized {
		t.Fatalf("carol: connection ended with %v, want close %d", ce, schemas.CloseUnauthorized)
	} else if d := at.Sub(kc.Expires); d > time.Second || d < 0 {
		t.Errorf("carol closed %v after expiry, want within 1s", d)
	} else {
		t.Logf("expired key's connection closed %v after the expiry time", d)
	}

	// dave: unaffected, still streaming both channels.
	sd := streams["dave"]
	now := time.Now()
	if !sd.waitFor(5*time.Second, func(m []timed, _ *closedError) bool {
		return dataOn(m, book, now) > 3 && dataOn(m, ticker, now) > 3
	}) {
		t.Fatal("dave stopped streaming")
	}
	msgs, ce, _ = sd.snapshot()
	if ce != nil {
		t.Fatalf("dave closed: %v", ce)
	}
	for _, x := range msgs {
		if x.m.Type == schemas.TypeError || x.m.Type == schemas.TypeUnsubscribed {
			t.Fatalf("dave got %+v", x.m)
		}
	}
	// A revoked key cannot come back.
	if _, status, _ := dialErr(e.url, map[string][]string{"Authorization": {"Bearer " + alice}}); status != 401 {
		t.Fatalf("revoked key: status %d, want 401", status)
	}
}
