package schemas

import (
	"bytes"
	"encoding/json"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/marketfeed/marketfeed/fixedpoint"
)

// TestChecksumWorkedExample checks the worked example of websocket.md
// section 5.7.1: the canonical strings printed there are those of the
// snapshot and update examples, and their CRC-32 values are the checksums
// those examples carry and the values the text states.
func TestChecksumWorkedExample(t *testing.T) {
	doc, err := os.ReadFile("websocket.md")
	if err != nil {
		t.Fatal(err)
	}
	sec := doc[bytes.Index(doc, []byte("### 5.7.1")):]
	sec = sec[:bytes.Index(sec, []byte("### 5.8"))]
	blocks := regexp.MustCompile("(?s)```text\n(.*?)\n```").FindAllSubmatch(sec, -1)
	if len(blocks) != 2 {
		t.Fatalf("section 5.7.1 has %d text blocks, want the 2 canonical strings", len(blocks))
	}
	stated := regexp.MustCompile(`\*\*([0-9]+)\*\*`).FindAllSubmatch(sec, -1)
	if len(stated) != 2 {
		t.Fatalf("section 5.7.1 states %d bold checksums, want 2", len(stated))
	}

	var snap, upd *ServerMessage
	for _, ex := range extractExamples(t, "websocket.md") {
		var m ServerMessage
		if ex.role != "server" || json.Unmarshal(ex.body, &m) != nil || m.Channel != "book.BTC-USD" {
			continue
		}
		switch m.Type {
		case TypeSnapshot:
			snap = &m
		case TypeUpdate:
			upd = &m
		}
	}
	if snap == nil || upd == nil || snap.Checksum == nil || upd.Checksum == nil {
		t.Fatal("websocket.md lacks the BTC-USD snapshot and update examples with checksums")
	}

	// The view after the snapshot, then after applying the update's entries.
	views := [2][2][][2]string{{snap.Bids, snap.Asks}, {applyEntries(snap.Bids, upd.Bids, true), applyEntries(snap.Asks, upd.Asks, false)}}
	for i, want := range []uint32{*snap.Checksum, *upd.Checksum} {
		v := views[i]
		canon := AppendChecksumString(nil, v[0], v[1])
		if !bytes.Equal(canon, blocks[i][1]) {
			t.Errorf("view %d: canonical string %q, document prints %q", i, canon, blocks[i][1])
		}
		if got := BookChecksum(v[0], v[1]); got != want {
			t.Errorf("view %d: BookChecksum %d, example carries %d", i, got, want)
		}
		if got := crc32.ChecksumIEEE(blocks[i][1]); got != want {
			t.Errorf("view %d: CRC-32 of the printed string %d, example carries %d", i, got, want)
		}
		if s := strconv.FormatUint(uint64(want), 10); s != string(stated[i][1]) {
			t.Errorf("view %d: text states %s, example carries %s", i, stated[i][1], s)
		}
	}
	if got := BookChecksum(nil, nil); !bytes.Contains(sec, []byte("checksum "+strconv.FormatUint(uint64(got), 10))) {
		t.Errorf("section 5.7.1 does not state the empty view's checksum %d", got)
	}
}

// applyEntries applies update entries to a side by the protocol's rule
// (set the level at the price; size zero deletes), with the simplest
// possible code: decimal strings of one scale compare by length, then
// bytes, for the positive prices of the examples.
func applyEntries(side, entries [][2]string, desc bool) [][2]string {
	m := map[string]string{}
	for _, l := range side {
		m[l[0]] = l[1]
	}
	for _, e := range entries {
		if len(bytes.Trim([]byte(e[1]), "0.")) == 0 {
			delete(m, e[0])
		} else {
			m[e[0]] = e[1]
		}
	}
	out := [][2]string{}
	for p, q := range m {
		out = append(out, [2]string{p, q})
	}
	less := func(a, b string) bool {
		if len(a) != len(b) {
			return len(a) < len(b)
		}
		return a < b
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if less(out[j][0], out[i][0]) != desc {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestChecksumPieces checks the pieces a server uses to keep a view's text
// between messages (the level text from fixed point, the hash of the two
// sides) against the whole-view form over the decimal strings a client
// receives, at every scale.
func TestChecksumPieces(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 500 {
		sc := Scales{Price: rng.IntN(fixedpoint.MaxScale + 1), Size: rng.IntN(fixedpoint.MaxScale + 1)}
		var text [2][]byte
		var strs [2][][2]string
		for side := range 2 {
			for _, l := range randomLevels(rng, rng.IntN(30)) {
				p, s := fixedpoint.Format(l.Price, sc.Price), fixedpoint.Format(l.Size, sc.Size)
				strs[side] = append(strs[side], [2]string{p, s})
				n := len(text[side])
				text[side] = AppendChecksumLevelFixed(text[side], l, sc)
				if got, want := string(text[side][n:]), string(AppendChecksumLevel(nil, []byte(p), []byte(s))); got != want {
					t.Fatalf("level %v at %v: fixed text %q, string text %q", l, sc, got, want)
				}
			}
		}
		if got, want := ChecksumSides(text[0], text[1]), BookChecksum(strs[0], strs[1]); got != want {
			t.Fatalf("ChecksumSides %d, BookChecksum %d", got, want)
		}
		canon := AppendChecksumString(nil, strs[0], strs[1])
		if want := string(text[0]) + "|" + string(text[1]); string(canon) != want {
			t.Fatalf("AppendChecksumString %q, want %q", canon, want)
		}
	}
}
