package demo

import (
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/schemas"
)

// TestDemoKeyFile checks the demo's key file: clients without a key get
// the narrow anonymous plan, the printed key everything.
func TestDemoKeyFile(t *testing.T) {
	path, secret, err := WriteKeyFile(t.TempDir(), 20)
	if err != nil {
		t.Fatal(err)
	}
	st, err := auth.Open(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	anon, err := st.Authenticate("")
	if err != nil {
		t.Fatal(err)
	}
	key, err := st.Authenticate(secret)
	if err != nil || key.ID != "demo" {
		t.Fatalf("demo key: %v %v", key, err)
	}
	for _, c := range []struct {
		p            auth.Principal
		depth        int
		period       time.Duration
		wantAllowed  bool
		wantDeniedBy string
	}{
		{anon, 20, 100 * time.Millisecond, true, ""},
		{anon, 50, time.Second, false, auth.DenyDepth},
		{anon, 10, 0, false, auth.DenyInterval},
		{key, 1000, 0, true, ""},
	} {
		e, err := st.Entitlements(c.p)
		if err != nil {
			t.Fatal(err)
		}
		reason, _ := e.Allow(schemas.ChannelBook, "BTC-USD", c.depth, c.period)
		if (reason == "") != c.wantAllowed || reason != c.wantDeniedBy {
			t.Errorf("%s depth %d %v: denied by %q, want %q", c.p.ID, c.depth, c.period, reason, c.wantDeniedBy)
		}
	}
}
