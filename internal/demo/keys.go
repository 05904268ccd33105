package demo

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/marketfeed/marketfeed/auth"
)

// Demo plans: anonymous clients get what the browser page needs (every
// ticker, one book and its trades, at 100ms or slower), the printed demo
// key the lot.
var demoPlan = &auth.Plan{Symbols: []string{"*"}, MaxDepth: 1000, MinInterval: "raw",
	MaxConnections: 10, MaxSubscriptions: 100, MessagesPerSecond: 50}

// anonymousExtra is how many subscriptions the anonymous plan allows beyond
// one ticker per symbol: the page's book and trades, and some to spare.
const anonymousExtra = 10

// anonymousPlan returns the plan of clients without a key for a demo of
// the given number of symbols.
func anonymousPlan(symbols int) *auth.Plan {
	return &auth.Plan{Symbols: []string{"*"}, MaxDepth: 20, MinInterval: "100ms",
		MaxSubscriptions: symbols + anonymousExtra, MessagesPerSecond: 20}
}

// WriteKeyFile writes the key file of a demo of the given number of
// symbols into dir: an anonymous plan covering the browser page and one
// key, "demo", with every right. It returns the file and the key.
func WriteKeyFile(dir string, symbols int) (path, secret string, err error) {
	secret, err = auth.NewSecret()
	if err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, "keys.json")
	f := &auth.File{
		Anonymous: "anonymous",
		Plans:     map[string]*auth.Plan{"anonymous": anonymousPlan(symbols), "demo": demoPlan},
		Keys:      []*auth.KeyEntry{{ID: "demo", Hash: auth.HashSecret(secret), Plan: "demo"}},
	}
	return path, secret, auth.WriteFile(path, f)
}

// keyFile returns the key file the demo serves with: cfg.Keys, or a fresh
// one in a temporary directory (removed by cleanup) with the demo key.
func keyFile(cfg Config) (path, secret string, cleanup func(), err error) {
	if cfg.Keys != "" {
		return cfg.Keys, "", func() {}, nil
	}
	dir, err := os.MkdirTemp("", "marketfeed-demo-")
	if err != nil {
		return "", "", nil, err
	}
	path, secret, err = WriteKeyFile(dir, cfg.Symbols)
	if err != nil {
		os.RemoveAll(dir)
		return "", "", nil, err
	}
	return path, secret, func() { os.RemoveAll(dir) }, nil
}

func printKeys(out io.Writer, path, secret, watchCmd string, symbols []string) {
	sym := "BTC-USD"
	if len(symbols) > 0 {
		sym = symbols[0]
	}
	switch {
	case path == "":
		fmt.Fprintln(out, "\nNo API keys: every client may receive everything.")
	case secret == "":
		fmt.Fprintf(out, "\nAPI keys from %s.\n", path)
	default:
		fmt.Fprintf(out, `
API keys in %s. Clients without a key get the anonymous
plan (depth up to 20, intervals 100ms and 1s, a ticker of every symbol and
%d more subscriptions); the demo key has every right (raw, depth 1000):
  %s
  %[4]s -api-key %[3]s -interval raw -depth 50 book.%[5]s
`, path, anonymousExtra, secret, watchCmd, sym)
	}
}
