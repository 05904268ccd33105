package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/marketfeed/marketfeed/schemas"
)

// The shared protocol test vectors of testdata/protocol, which the Python
// client and marketfeed.js test against too, so that the three clients
// agree byte for byte.

func loadVectors(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "protocol", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
}

func TestVectorsChecksum(t *testing.T) {
	var v struct {
		CRC32 []struct {
			Text  string `json:"text"`
			CRC32 uint32 `json:"crc32"`
		} `json:"crc32"`
		Views []struct {
			Name      string      `json:"name"`
			Bids      [][2]string `json:"bids"`
			Asks      [][2]string `json:"asks"`
			Canonical string      `json:"canonical"`
			Checksum  uint32      `json:"checksum"`
		} `json:"views"`
	}
	loadVectors(t, "checksum", &v)
	for _, c := range v.CRC32 {
		if got := crc32.ChecksumIEEE([]byte(c.Text)); got != c.CRC32 {
			t.Errorf("CRC-32 of %q = %d, want %d", c.Text, got, c.CRC32)
		}
	}
	if len(v.Views) == 0 {
		t.Fatal("no views")
	}
	// The worked example of websocket.md 5.7.1 is the spec's, to the byte.
	spec, err := os.ReadFile(filepath.Join("..", "schemas", "websocket.md"))
	if err != nil {
		t.Fatal(err)
	}
	worked := 0
	for _, c := range v.Views {
		if !strings.HasPrefix(c.Name, "worked example") {
			continue
		}
		worked++
		if !bytes.Contains(spec, []byte("```text\n"+c.Canonical+"\n```")) || !bytes.Contains(spec, []byte(strconv.FormatUint(uint64(c.Checksum), 10))) {
			t.Errorf("%s: canonical string or checksum %d not in websocket.md 5.7.1", c.Name, c.Checksum)
		}
	}
	if worked != 2 {
		t.Errorf("%d worked example views, want 2", worked)
	}
	for _, c := range v.Views {
		if got := schemas.AppendChecksumString(nil, c.Bids, c.Asks); string(got) != c.Canonical {
			t.Errorf("%s: canonical string %q, want %q", c.Name, got, c.Canonical)
		}
		if got := schemas.BookChecksum(c.Bids, c.Asks); got != c.Checksum {
			t.Errorf("%s: BookChecksum %d, want %d", c.Name, got, c.Checksum)
		}
		b := NewBook("book.X")
		ck := c.Checksum
		if err := b.Apply(&schemas.ServerMessage{Type: schemas.TypeSnapshot, Channel: "book.X", Seq: 1, Checksum: &ck, Bids: c.Bids, Asks: c.Asks}); err != nil {
			t.Errorf("%s: snapshot: %v", c.Name, err)
		}
	}
}

func TestVectorsDecimal(t *testing.T) {
	var v struct {
		Valid   [][2]any `json:"valid"`
		Zero    [][2]any `json:"zero"`
		Compare [][3]any `json:"compare"`
	}
	loadVectors(t, "decimal", &v)
	for _, c := range v.Valid {
		if got := validDecimal(c[0].(string)); got != c[1].(bool) {
			t.Errorf("validDecimal(%q) = %v", c[0], got)
		}
	}
	for _, c := range v.Zero {
		if got := isZeroDecimal(c[0].(string)); got != c[1].(bool) {
			t.Errorf("isZeroDecimal(%q) = %v", c[0], got)
		}
	}
	for _, c := range v.Compare {
		if got := cmpDecimal(c[0].(string), c[1].(string)); got != int(c[2].(float64)) {
			t.Errorf("cmpDecimal(%q, %q) = %d, want %v", c[0], c[1], got, c[2])
		}
	}
	if len(v.Valid) == 0 || len(v.Zero) == 0 || len(v.Compare) == 0 {
		t.Fatal("empty decimal vectors")
	}
}

// vectorResult names the outcome of Book.Apply as the vectors do.
func vectorResult(err error) string {
	switch {
	case err == nil:
		return "applied"
	case errors.Is(err, ErrNotSynced):
		return "ignored"
	case errors.Is(err, ErrGap):
		return "sequence"
	case errors.Is(err, ErrInvalidLevel):
		return "level"
	case errors.Is(err, ErrChecksum):
		return "checksum"
	}
	return "error: " + err.Error()
}

func TestVectorsBooks(t *testing.T) {
	var v struct {
		Cases []struct {
			Name    string `json:"name"`
			Channel string `json:"channel"`
			Steps   []struct {
				Message json.RawMessage `json:"message"`
				Result  string          `json:"result"`
			} `json:"steps"`
			State string      `json:"state"`
			Seq   uint64      `json:"seq"`
			Bids  [][2]string `json:"bids"`
			Asks  [][2]string `json:"asks"`
		} `json:"cases"`
	}
	loadVectors(t, "books", &v)
	if len(v.Cases) == 0 {
		t.Fatal("no book cases")
	}
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			b := NewBook(c.Channel)
			for i, s := range c.Steps {
				var m schemas.ServerMessage
				if err := json.Unmarshal(s.Message, &m); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got := vectorResult(b.Apply(&m)); got != s.Result {
					t.Errorf("step %d: %s, want %s", i, got, s.Result)
				}
			}
			if b.State().String() != c.State || b.Seq() != c.Seq {
				t.Errorf("state %s seq %d, want %s seq %d", b.State(), b.Seq(), c.State, c.Seq)
			}
			if c.Bids != nil || c.Asks != nil {
				if got := b.Bids(); !reflect.DeepEqual(got, nonNil(c.Bids)) {
					t.Errorf("bids %v, want %v", got, c.Bids)
				}
				if got := b.Asks(); !reflect.DeepEqual(got, nonNil(c.Asks)) {
					t.Errorf("asks %v, want %v", got, c.Asks)
				}
			}
		})
	}
}

func nonNil(s [][2]string) [][2]string {
	if s == nil {
		return [][2]string{}
	}
	return s
}

// TestVectorsMessages decodes each message as the client does and checks
// the fields the vectors expect, integers exactly.
func TestVectorsMessages(t *testing.T) {
	var v struct {
		Cases []struct {
			Name   string          `json:"name"`
			Text   string          `json:"text"`
			Expect json.RawMessage `json:"expect"`
		} `json:"cases"`
	}
	loadVectors(t, "messages", &v)
	if len(v.Cases) == 0 {
		t.Fatal("no message cases")
	}
	for _, c := range v.Cases {
		var m schemas.ServerMessage
		if err := json.Unmarshal([]byte(c.Text), &m); err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		enc, _ := json.Marshal(&m)
		got, want := decodeNumbers(t, enc), decodeNumbers(t, c.Expect)
		for k, w := range want {
			g, ok := got[k]
			if !ok {
				if l, isList := w.([]any); isList && len(l) == 0 {
					continue // an empty list, omitted when encoded again
				}
				t.Errorf("%s: field %s not decoded", c.Name, k)
				continue
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s: field %s = %v, want %v", c.Name, k, g, w)
			}
		}
	}
}

func decodeNumbers(t *testing.T, data []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}
