package config

import (
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/market"
)

// The history keys reach the server's configuration; a zero or too
// small a value is refused, -1 bytes keeps no history.
func TestHistoryKeys(t *testing.T) {
	c, err := Resolve(writeFile(t, "history:\n  window: 30s\n  max_bytes: 65536\n"), noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := c.Server(nil).History; h != (market.HistoryLimits{Window: 30 * time.Second, MaxBytes: 65536}) {
		t.Fatalf("server history %+v", h)
	}
	if _, err := Resolve(writeFile(t, "history:\n  max_bytes: -1\n"), noEnv, nil); err != nil {
		t.Fatalf("max_bytes -1: %v", err)
	}
	for file, key := range map[string]string{
		"history:\n  window: 0s\n":   "history.window",
		"history:\n  max_bytes: 0\n": "history.max_bytes",
		"history:\n  max_bytes: 8\n": "history.max_bytes",
	} {
		if _, err := Resolve(writeFile(t, file), noEnv, nil); err == nil || !strings.Contains(err.Error(), key+":") {
			t.Errorf("%q: %v, want an error of %s", file, err, key)
		}
	}
}
