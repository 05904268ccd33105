package auth_test

import (
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/schemas"
)

var (
	randSymbols  = []string{"BTC-USD", "BTC-EUR", "ETH-USD", "ETH-EUR", "SOL-USD", "ADA-USD"}
	randPatterns = []string{"*", "BTC-*", "*-EUR", "?TH-*", "[BS]*", "SOL-USD", "ADA-USD", "ETH-USD"}
	randKinds    = []string{"book", "ticker", "trades"}
	randDepths   = []int{1, 5, 10, 20, 50, 100, 500, 1000}
	randInterval = []string{"raw", "100ms", "1s"}
)

// model is the test's own reading of a plan, kept independent of the
// package's compiled matcher.
type model struct {
	symbols  []string
	kinds    map[string]bool
	maxDepth int
	minIv    int // index into randInterval
}

func (m *model) allows(kind, symbol string, depth, iv int) bool {
	okSym := false
	for _, p := range m.symbols {
		if ok, _ := path.Match(p, symbol); ok {
			okSym = true
		}
	}
	return okSym && m.kinds[kind] && (kind != "book" || depth <= m.maxDepth) && iv >= m.minIv
}

type randSub struct {
	channel string
	kind    string
	depth   int
	iv      int
	allowed bool
}

// TestRandomEntitlements gives many keys random plans and many clients
// random subscriptions, then checks every message each client received: no
// data of a channel it was not entitled to (nor deeper or faster than its
// plan), an error not_entitled for each refused subscription, and data
// for each allowed one.
func TestRandomEntitlements(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	const keys, clients, subsPerClient = 12, 24, 6

	file := &auth.File{Plans: map[string]*auth.Plan{}}
	secrets := make([]string, keys)
	models := make([]*model, keys)
	for i := range keys {
		m := &model{kinds: map[string]bool{}, maxDepth: randDepths[rng.IntN(len(randDepths))], minIv: rng.IntN(3)}
		p := &auth.Plan{MaxDepth: m.maxDepth, MinInterval: randInterval[m.minIv], MaxSubscriptions: 50}
		for range 1 + rng.IntN(2) {
			pat := randPatterns[rng.IntN(len(randPatterns))]
			p.Symbols = append(p.Symbols, pat)
			m.symbols = append(m.symbols, pat)
		}
		for _, k := range randKinds {
			if rng.IntN(3) > 0 {
				p.Channels = append(p.Channels, k)
				m.kinds[k] = true
			}
		}
		if len(p.Channels) == 0 {
			p.Channels, m.kinds["trades"] = []string{"trades"}, true
		}
		var k *auth.KeyEntry
		secrets[i], k = newKey(t, fmt.Sprintf("key-%d", i), "", p)
		file.Keys = append(file.Keys, k)
		models[i] = m
	}
	e := startEnv(t, envConfig{file: file, symbols: randSymbols})

	type result struct {
		key  int
		subs []randSub
		msgs []*schemas.ServerMessage
	}
	results := make([]*result, clients)
	var wg sync.WaitGroup
	for ci := range clients {
		r := &result{key: rng.IntN(keys)}
		seen := map[string]bool{}
		for len(r.subs) < subsPerClient {
			kind := randKinds[rng.IntN(3)]
			sym := randSymbols[rng.IntN(len(randSymbols))]
			ch := kind + "." + sym
			if seen[ch] {
				continue
			}
			seen[ch] = true
			s := randSub{channel: ch, kind: kind, iv: rng.IntN(3)}
			if kind == "book" {
				s.depth = randDepths[rng.IntN(len(randDepths))]
			}
			s.allowed = models[r.key].allows(kind, sym, s.depth, s.iv)
			r.subs = append(r.subs, s)
		}
		results[ci] = r
		c := dial(t, e.url, secrets[r.key])
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, s := range r.subs {
				cmd := fmt.Sprintf(`{"op":"subscribe","id":%d,"channel":%q,"interval":%q`, i+1, s.channel, randInterval[s.iv])
				if s.depth != 0 {
					cmd += fmt.Sprintf(`,"depth":%d`, s.depth)
				}
				if err := writeText(c, cmd+"}"); err != nil {
					t.Error(err)
					return
				}
			}
			// Read for long enough that 1s streams flush at least once.
			end := time.Now().Add(1500 * time.Millisecond)
			for time.Now().Before(end) {
				m, err := c.read(time.Until(end) + 10*time.Millisecond)
				if err != nil {
					if !strings.Contains(err.Error(), "timeout") {
						t.Errorf("client %d: %v", ci, err)
					}
					return
				}
				r.msgs = append(r.msgs, m)
			}
		}()
	}
	wg.Wait()

	for ci, r := range results {
		byChannel := map[string]randSub{}
		for _, s := range r.subs {
			byChannel[s.channel] = s
		}
		acked := map[string]bool{}
		refused := map[string]bool{}
		data := map[string]int{}
		for _, m := range r.msgs {
			switch {
			case m.Type == schemas.TypeSubscribed:
				acked[m.Channel] = true
				s := byChannel[m.Channel]
				if !s.allowed || m.Interval != randInterval[s.iv] || m.Depth != s.depth {
					t.Errorf("client %d (key %d): subscribed %+v, model %+v", ci, r.key, m, s)
				}
			case m.Type == schemas.TypeError:
				if m.Code != schemas.CodeNotEntitled {
					t.Errorf("client %d: error %+v", ci, m)
				}
				refused[m.Channel] = true
			case isData(m):
				s, ok := byChannel[m.Channel]
				if !ok || !s.allowed || !acked[m.Channel] {
					t.Fatalf("client %d (key %d, plan %+v) received %s data it is not entitled to: %+v",
						ci, r.key, models[r.key], m.Channel, m)
				}
				if s.kind == "book" && (len(m.Bids) > s.depth || len(m.Asks) > s.depth) {
					t.Fatalf("client %d: %d/%d levels on a depth-%d subscription", ci, len(m.Bids), len(m.Asks), s.depth)
				}
				data[m.Channel]++
			}
		}
		for _, s := range r.subs {
			switch {
			case s.allowed && (!acked[s.channel] || data[s.channel] == 0):
				t.Errorf("client %d (key %d): allowed %+v: acked %v, %d data messages", ci, r.key, s, acked[s.channel], data[s.channel])
			case !s.allowed && !refused[s.channel]:
				t.Errorf("client %d (key %d): %+v not refused", ci, r.key, s)
			}
		}
	}
}
