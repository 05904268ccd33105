package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// asyncDoc is the part of schemas/asyncapi.yaml this test reads.
type asyncDoc struct {
	Channels map[string]struct {
		Messages map[string]struct {
			Ref string `yaml:"$ref"`
		} `yaml:"messages"`
	} `yaml:"channels"`
	Operations map[string]struct {
		Action   string `yaml:"action"`
		Messages []struct {
			Ref string `yaml:"$ref"`
		} `yaml:"messages"`
		Reply *struct {
			Messages []struct {
				Ref string `yaml:"$ref"`
			} `yaml:"messages"`
		} `yaml:"reply"`
	} `yaml:"operations"`
	Components struct {
		Messages map[string]struct {
			Name    string `yaml:"name"`
			Payload struct {
				Ref string `yaml:"$ref"`
			} `yaml:"payload"`
			Examples []struct {
				Payload any `yaml:"payload"`
			} `yaml:"examples"`
		} `yaml:"messages"`
	} `yaml:"components"`
}

// componentKey returns the key of the component message that a channel
// message reference (#/channels/C/messages/M) names.
func (d *asyncDoc) componentKey(ref string) string {
	ch, m, _ := strings.Cut(strings.TrimPrefix(ref, "#/channels/"), "/messages/")
	return strings.TrimPrefix(d.Channels[ch].Messages[m].Ref, "#/components/messages/")
}

// asyncSchemas returns, by channel and message name, the compiled JSON
// payload schema of every JSON message of the document.
func asyncSchemas(t *testing.T, d *asyncDoc) map[string]*jsonschema.Schema {
	t.Helper()
	base, _ := url.Parse("file:///marketfeed/schemas/asyncapi.yaml")
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	for _, p := range []string{schemas.ClientMessageSchema, schemas.ServerMessageSchema} {
		raw, err := schemas.JSONSchemas.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		addResource(t, c, base.ResolveReference(&url.URL{Path: p}).String(), raw)
	}
	out := map[string]*jsonschema.Schema{}
	for ch, channel := range d.Channels {
		for _, r := range channel.Messages {
			m := d.Components.Messages[strings.TrimPrefix(r.Ref, "#/components/messages/")]
			if m.Payload.Ref == "" {
				continue // a binary frame
			}
			ref, _ := url.Parse(m.Payload.Ref)
			s, err := c.Compile(base.ResolveReference(ref).String())
			if err != nil {
				t.Fatal(err)
			}
			out[ch+" "+m.Name] = s
		}
	}
	return out
}

// TestAsyncAPIExamplesAgainstServer sends every example of every send
// operation of schemas/asyncapi.yaml to a real server, each on a fresh
// connection (subscribed first to the channels a resync or unsubscribe
// names), and checks that the answer is one of the operation's replies
// and that every message received on the way is valid against the payload
// schema the document gives for its channel and type.
func TestAsyncAPIExamplesAgainstServer(t *testing.T) {
	var doc asyncDoc
	if err := yaml.Unmarshal(schemas.AsyncAPI, &doc); err != nil {
		t.Fatal(err)
	}
	addr := startAsyncServer(t)
	check := asyncSchemas(t, &doc)
	var ids []string
	for id, op := range doc.Operations {
		if op.Action == "send" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	sent := 0
	for _, id := range ids {
		op := doc.Operations[id]
		var replies []string
		for _, r := range op.Reply.Messages {
			replies = append(replies, doc.Components.Messages[doc.componentKey(r.Ref)].Name)
		}
		for _, r := range op.Messages {
			for _, ex := range doc.Components.Messages[doc.componentKey(r.Ref)].Examples {
				body, err := json.Marshal(ex.Payload)
				if err != nil {
					t.Fatal(err)
				}
				got := sendAsyncExample(t, addr, check, body)
				if !slices.Contains(replies, got) {
					t.Errorf("operation %s: %s answered by %s, the document's replies are %v", id, body, got, replies)
				}
				sent++
			}
		}
	}
	if sent < len(ids) {
		t.Fatalf("%d examples for %d send operations", sent, len(ids))
	}
}

// startAsyncServer runs a server with the example's symbols BTC-USD and
// ETH-USD live, for anonymous clients and with a key file (so that auth is
// answered), and returns its address.
func startAsyncServer(t *testing.T) string {
	t.Helper()
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := auth.WriteFile(path, &auth.File{Anonymous: "free", Plans: map[string]*auth.Plan{"free": {Symbols: []string{"*"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.CreateKey(path, "alice", "free", time.Time{}); err != nil {
		t.Fatal(err)
	}
	srv, _ := runServer(t, server.Config{
		Feed: feed.Config{Brokers: b.Addrs(), Topic: "marketdata", Start: feed.StartEarliest},
		Keys: path, KeysPoll: time.Hour, SilentAfter: -1,
	})
	ex := sim.New(sim.Config{Symbols: 2, Seed: 5, TradeRatio: 0.5})
	if syms := ex.Symbols(); !slices.Equal(syms, []string{"BTC-USD", "ETH-USD"}) {
		t.Fatalf("simulated symbols %v, the examples' are BTC-USD and ETH-USD", syms)
	}
	e := &env{broker: b, srv: srv, writer: newWriter(b)}
	t.Cleanup(func() { e.writer.Close() })
	now := time.Now()
	msgs := ex.Snapshots(now, nil)
	for i := range 50 {
		msgs = ex.Next(now.Add(time.Duration(i)*time.Millisecond), msgs)
	}
	e.produce(t, msgs)
	e.waitLive(t, ex.Symbols())
	return srv.Addr()
}

// sendAsyncExample sends one client example on a fresh connection and
// returns the type of its answer: the first message with its id, or for a
// resync (answered without id) the next book message of its channel.
func sendAsyncExample(t *testing.T, addr string, check map[string]*jsonschema.Schema, body []byte) string {
	t.Helper()
	var c schemas.Command
	if err := schemas.ParseCommand(body, &c); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, "ws://"+addr+"/ws")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	// What the server sent with its handshake answer is in br.
	nc := io.ReadWriter(conn)
	if br != nil {
		nc = struct {
			io.Reader
			io.Writer
		}{br, conn}
	}
	readAsync(t, nc, check, func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeWelcome })
	if c.Op == schemas.OpResync || c.Op == schemas.OpUnsubscribe {
		pre := schemas.Command{Op: schemas.OpSubscribe, ID: c.ID + 1000, Channels: c.Channels}
		if err := wsutil.WriteClientText(nc, schemas.AppendCommand(nil, &pre)); err != nil {
			t.Fatal(err)
		}
		for range c.Channels {
			readAsync(t, nc, check, func(m *schemas.ServerMessage) bool { return m.ID == pre.ID })
		}
	}
	if err := wsutil.WriteClientText(nc, body); err != nil {
		t.Fatal(err)
	}
	answer := readAsync(t, nc, check, func(m *schemas.ServerMessage) bool {
		if c.Op == schemas.OpResync {
			return m.Channel == c.Channels[0] && m.ID == 0 && (m.Type == schemas.TypeSnapshot || m.Type == schemas.TypeStatus)
		}
		return m.ID == c.ID
	})
	return answer.Type
}

// readAsync reads messages, each checked against the document's schema
// for its channel and type, until one that done accepts, and returns it.
func readAsync(t *testing.T, nc io.ReadWriter, check map[string]*jsonschema.Schema, done func(*schemas.ServerMessage) bool) *schemas.ServerMessage {
	t.Helper()
	for {
		raw, err := wsutil.ReadServerText(nc)
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		var m schemas.ServerMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		channel := "control"
		if kind, _, err := schemas.ParseChannel(m.Channel); err == nil && check[kind.String()+" "+m.Type] != nil {
			channel = kind.String()
		}
		s := check[channel+" "+m.Type]
		if s == nil {
			t.Fatalf("%s: the document has no %s message on channel %s", raw, m.Type, channel)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("%s: not as the document's %s message of channel %s says: %v", raw, m.Type, channel, err)
		}
		if done(&m) {
			return &m
		}
	}
}
