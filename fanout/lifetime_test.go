package fanout_test

import (
	"context"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/schemas"
)

func TestLifetimeNoticeThenClose(t *testing.T) {
	s := startServer(t, fanout.Config{Transport: wsconn.Config{MaxLifetime: 400 * time.Millisecond, LifetimeNotice: 150 * time.Millisecond}})
	c := dial(t, s.url)
	start := time.Now()
	m := c.next()
	if m.Type != schemas.TypeNotice || m.Code != schemas.NoticeLifetime || m.CloseInMS != 150 || m.TS == 0 {
		t.Fatalf("want lifetime notice, got %+v", m)
	}
	c.expectClose(schemas.CloseLifetime)
	// 400 ms ± 10 %, with some slack for a loaded machine.
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Fatalf("closed %v after the notice", d)
	}
}

func TestShutdownNoticeThenGoingAway(t *testing.T) {
	s := startServer(t, fanout.Config{})
	c := dial(t, s.url)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.hub.Shutdown(ctx)
	}()
	m := c.next()
	if m.Type != schemas.TypeNotice || m.Code != schemas.NoticeShutdown {
		t.Fatalf("want shutdown notice, got %+v", m)
	}
	c.expectClose(ws.StatusGoingAway)
	_ = ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, ""))))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
