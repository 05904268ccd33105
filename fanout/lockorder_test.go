package fanout_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
)

// stuckOwner is an owner whose queue is full: Exec waits until release
// is closed, then runs fn.
type stuckOwner struct {
	entered chan struct{}
	release chan struct{}
}

func (o *stuckOwner) Exec(fn func()) bool {
	o.entered <- struct{}{}
	<-o.release
	fn()
	return true
}

// allowAll admits everybody with a session that allows everything.
type allowAll struct{}

func (allowAll) Admit(*http.Request) (fanout.Session, *fanout.Refusal)     { return openSession{}, nil }
func (allowAll) AdmitKey(string, string) (fanout.Session, *fanout.Refusal) { return openSession{}, nil }

type openSession struct{}

func (openSession) Start() *fanout.Refusal { return nil }
func (openSession) End()                   {}
func (openSession) Check() *fanout.Refusal { return nil }
func (openSession) Allow(schemas.ChannelKind, string, int, time.Duration) *fanout.Refusal {
	return nil
}
func (openSession) Limits() (int, int) { return 0, 0 }

// A reader waiting for room in an owner's queue holds no lock that
// Hub.Recheck needs: re-checking entitlements never waits for an owner.
func TestRecheckDoesNotWaitForOwner(t *testing.T) {
	hub, err := fanout.NewHub(fanout.Config{Authorizer: allowAll{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hub)
	owner := &stuckOwner{entered: make(chan struct{}, 1), release: make(chan struct{})}
	released := false
	release := func() {
		if !released {
			released = true
			close(owner.release)
		}
	}
	t.Cleanup(func() {
		release()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hub.Shutdown(ctx)
		srv.Close()
	})
	hub.NewStreams(market.NewSymbol(market.Instrument{Symbol: "X", PriceScale: 2, SizeScale: 4, Tick: 1, Lot: 1}, owner, nil))

	c := dial(t, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws")
	c.sendText(`{"op":"subscribe","id":3,"channel":"book.X"}`)
	select {
	case <-owner.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the subscribe never reached the owner")
	}
	done := make(chan struct{})
	go func() { hub.Recheck(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Recheck waited for a reader blocked on a full owner queue")
	}
	release()
	if ack := c.next(); ack.Type != schemas.TypeSubscribed || ack.ID != 3 {
		t.Fatalf("ack %+v", ack)
	}
}
