package schemas

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// asyncRef is an AsyncAPI Reference Object.
type asyncRef struct {
	Ref string `yaml:"$ref"`
}

// asyncMessage is the part of an AsyncAPI Message Object the tests read.
type asyncMessage struct {
	Name        string     `yaml:"name"`
	ContentType string     `yaml:"contentType"`
	Traits      []asyncRef `yaml:"traits"`
	Payload     struct {
		Ref    string `yaml:"$ref"`
		Type   string `yaml:"type"`
		Format string `yaml:"format"`
	} `yaml:"payload"`
	Examples []struct {
		Name    string `yaml:"name"`
		Payload any    `yaml:"payload"`
	} `yaml:"examples"`
}

// asyncOperation is the part of an AsyncAPI Operation Object the tests
// read.
type asyncOperation struct {
	Action   string     `yaml:"action"`
	Channel  asyncRef   `yaml:"channel"`
	Messages []asyncRef `yaml:"messages"`
	Reply    *struct {
		Channel  asyncRef   `yaml:"channel"`
		Messages []asyncRef `yaml:"messages"`
	} `yaml:"reply"`
}

// asyncAPIDoc is the part of asyncapi.yaml the tests read.
type asyncAPIDoc struct {
	AsyncAPI           string `yaml:"asyncapi"`
	DefaultContentType string `yaml:"defaultContentType"`
	Info               struct {
		Description string `yaml:"description"`
	} `yaml:"info"`
	Channels map[string]struct {
		Address    *string             `yaml:"address"`
		Parameters map[string]asyncRef `yaml:"parameters"`
		Messages   map[string]asyncRef `yaml:"messages"`
	} `yaml:"channels"`
	Operations map[string]asyncOperation `yaml:"operations"`
	Components struct {
		Messages      map[string]asyncMessage `yaml:"messages"`
		MessageTraits map[string]struct {
			ContentType string `yaml:"contentType"`
		} `yaml:"messageTraits"`
		ChannelBindings map[string]struct {
			WS struct {
				Headers struct {
					Properties map[string]struct {
						Description string `yaml:"description"`
					} `yaml:"properties"`
				} `yaml:"headers"`
			} `yaml:"ws"`
		} `yaml:"channelBindings"`
	} `yaml:"components"`
}

// binaryContentType is the content type of the binary frames of the
// marketfeed.v1.bin subprotocol in asyncapi.yaml.
const binaryContentType = "application/vnd.marketfeed.v1+bin"

func loadAsyncAPI(t *testing.T) *asyncAPIDoc {
	t.Helper()
	var doc asyncAPIDoc
	dec := yaml.NewDecoder(bytes.NewReader(AsyncAPI))
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.AsyncAPI != "3.0.0" {
		t.Fatalf("asyncapi %q, want 3.0.0", doc.AsyncAPI)
	}
	return &doc
}

// message returns the component message a channel message reference
// (#/channels/C/messages/M) or a component reference names, and its key.
func (d *asyncAPIDoc) message(t *testing.T, ref string) (string, asyncMessage) {
	t.Helper()
	if rest, ok := strings.CutPrefix(ref, "#/channels/"); ok {
		ch, m, _ := strings.Cut(rest, "/messages/")
		r, ok := d.Channels[ch].Messages[m]
		if !ok {
			t.Fatalf("%s: no such channel message", ref)
		}
		ref = r.Ref
	}
	key, ok := strings.CutPrefix(ref, "#/components/messages/")
	m, found := d.Components.Messages[key]
	if !ok || !found {
		t.Fatalf("%s: not a component message", ref)
	}
	return key, m
}

// contentType is the message's content type: its own, a trait's, or the
// document's default.
func (d *asyncAPIDoc) contentType(m asyncMessage) string {
	ct := m.ContentType
	for _, tr := range m.Traits {
		if c := d.Components.MessageTraits[strings.TrimPrefix(tr.Ref, "#/components/messageTraits/")].ContentType; c != "" && ct == "" {
			ct = c
		}
	}
	if ct == "" {
		return d.DefaultContentType
	}
	return ct
}

// asyncBase is where the tests place asyncapi.yaml, so that its relative
// payload references resolve to the schema files beside it.
const asyncBase = "file:///marketfeed/schemas/asyncapi.yaml"

// payloadSchemas compiles the payload schema of every JSON message,
// resolved as the AsyncAPI document's references say.
func payloadSchemas(t *testing.T, d *asyncAPIDoc) map[string]*jsonschema.Schema {
	t.Helper()
	base, _ := url.Parse(asyncBase)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	for _, p := range []string{ClientMessageSchema, ServerMessageSchema} {
		raw, err := JSONSchemas.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(base.ResolveReference(&url.URL{Path: p}).String(), v); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]*jsonschema.Schema{}
	for key, m := range d.Components.Messages {
		if d.contentType(m) != "application/json" {
			continue
		}
		if !strings.HasPrefix(m.Payload.Ref, "./jsonschema/") {
			t.Errorf("message %s: payload %q is not a reference to a schema of jsonschema/", key, m.Payload.Ref)
			continue
		}
		ref, err := url.Parse(m.Payload.Ref)
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile(base.ResolveReference(ref).String())
		if err != nil {
			t.Fatalf("message %s: %v", key, err)
		}
		out[key] = s
	}
	return out
}

// TestAsyncAPIExamples checks every example of asyncapi.yaml as the
// specification's examples are checked: valid against the payload schema
// the message refers to and against the whole message schema, parsed by
// ParseCommand (client messages, which AppendCommand writes back to the
// same command) or decoded into ServerMessage without an unknown field
// (server messages), of the message's type; book examples carry the
// checksum of their view.
func TestAsyncAPIExamples(t *testing.T) {
	d := loadAsyncAPI(t)
	payloads := payloadSchemas(t, d)
	var snaps []ServerMessage
	var updates []ServerMessage
	for key, m := range d.Components.Messages {
		if ct := d.contentType(m); ct != "application/json" {
			if ct != binaryContentType || m.Payload.Type != "string" || m.Payload.Format != "binary" || len(m.Examples) != 0 {
				t.Errorf("message %s: content type %q, payload %+v: want %s, a binary string, no JSON example", key, ct, m.Payload, binaryContentType)
			}
			continue
		}
		if len(m.Examples) == 0 {
			t.Errorf("message %s has no example", key)
		}
		for i, ex := range m.Examples {
			body, err := json.Marshal(ex.Payload)
			if err != nil {
				t.Fatalf("message %s example %d: %v", key, i, err)
			}
			inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(body))
			if err := payloads[key].Validate(inst); err != nil {
				t.Errorf("message %s example %d %s: payload schema: %v", key, i, body, err)
			}
			if strings.HasPrefix(m.Payload.Ref, "./"+ClientMessageSchema) {
				checkAsyncCommand(t, m.Name, body)
				continue
			}
			msg := checkAsyncServerMessage(t, m.Name, body)
			switch msg.Type {
			case TypeSnapshot:
				snaps = append(snaps, msg)
			case TypeUpdate:
				updates = append(updates, msg)
			}
		}
	}
	checkAsyncBooks(t, snaps, updates)
}

// checkAsyncCommand checks a client example of the message named op.
func checkAsyncCommand(t *testing.T, op string, body []byte) {
	t.Helper()
	if err := validate(t, ClientMessageSchema, body); err != nil {
		t.Errorf("%s: client message schema: %v", body, err)
	}
	var c Command
	if err := ParseCommand(body, &c); err != nil {
		t.Errorf("%s: ParseCommand: %v", body, err)
		return
	}
	if c.Op.String() != op {
		t.Errorf("%s: op %s in the example of message %s", body, c.Op, op)
	}
	for _, ch := range c.Channels {
		if _, _, err := ParseChannel(ch); err != nil {
			t.Errorf("%s: ParseChannel(%q): %v", body, ch, err)
		}
	}
	var again Command
	if err := ParseCommand(AppendCommand(nil, &c), &again); err != nil || !commandEqual(&c, &again) {
		t.Errorf("%s: AppendCommand writes %s (%v)", body, AppendCommand(nil, &c), err)
	}
}

// checkAsyncServerMessage checks a server example of the message named
// typ and returns it decoded.
func checkAsyncServerMessage(t *testing.T, typ string, body []byte) ServerMessage {
	t.Helper()
	if err := validate(t, ServerMessageSchema, body); err != nil {
		t.Errorf("%s: server message schema: %v", body, err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var m ServerMessage
	if err := dec.Decode(&m); err != nil {
		t.Errorf("%s: decode into ServerMessage: %v", body, err)
	}
	if m.Type != typ {
		t.Errorf("%s: type %q in the example of message %s", body, m.Type, typ)
	}
	if m.Channel != "" && m.Type != TypeError { // an error names the channel it refuses
		if _, _, err := ParseChannel(m.Channel); err != nil {
			t.Errorf("%s: ParseChannel: %v", body, err)
		}
	}
	return m
}

// checkAsyncBooks checks the checksums of the book examples: a snapshot's
// is its view's, an update's that of the view of the snapshot it follows
// (same channel, first_seq = seq + 1) after its entries.
func checkAsyncBooks(t *testing.T, snaps, updates []ServerMessage) {
	t.Helper()
	if len(snaps) == 0 || len(updates) == 0 {
		t.Fatal("asyncapi.yaml has no snapshot or no update example")
	}
	for _, s := range snaps {
		if s.Checksum == nil || BookChecksum(s.Bids, s.Asks) != *s.Checksum {
			t.Errorf("snapshot %s at %d: checksum %v, the view's is %d", s.Channel, s.Seq, s.Checksum, BookChecksum(s.Bids, s.Asks))
		}
	}
	for _, u := range updates {
		i := slices.IndexFunc(snaps, func(s ServerMessage) bool { return s.Channel == u.Channel && s.Seq+1 == u.FirstSeq })
		if i < 0 {
			t.Errorf("update %s %d..%d follows no snapshot example", u.Channel, u.FirstSeq, u.Seq)
			continue
		}
		s := snaps[i]
		bids, asks := applyEntries(s.Bids, u.Bids, true), applyEntries(s.Asks, u.Asks, false)
		if u.Checksum == nil || BookChecksum(bids, asks) != *u.Checksum {
			t.Errorf("update %s %d..%d: checksum %v, the view's is %d", u.Channel, u.FirstSeq, u.Seq, u.Checksum, BookChecksum(bids, asks))
		}
	}
}

// TestAsyncAPIVocabulary holds asyncapi.yaml to the protocol: every op is
// a send operation of its message, answered by the replies websocket.md
// gives; every channel kind is a channel (with the symbol as a parameter)
// carrying the messages of websocket.md section 4; every server message
// type is received; the error codes are those of the server schema; the
// close codes and both subprotocols are described.
func TestAsyncAPIVocabulary(t *testing.T) {
	d := loadAsyncAPI(t)
	replies := map[Op][]string{
		OpSubscribe:   {TypeSubscribed, TypeError},
		OpUnsubscribe: {TypeUnsubscribed, TypeError},
		OpResync:      {TypeSnapshot, TypeStatus},
		OpPing:        {TypePong},
		OpList:        {TypeSubscriptions},
		OpAuth:        {TypeAuthenticated, TypeError},
	}
	sends := 0
	received := map[string]bool{}
	onChannel := map[string]bool{} // channel key + " " + message key, received or sent there
	for id, op := range d.Operations {
		var names []string
		ch := strings.TrimPrefix(op.Channel.Ref, "#/channels/")
		for _, r := range op.Messages {
			key, m := d.message(t, r.Ref)
			names = append(names, m.Name)
			onChannel[ch+" "+key] = true
		}
		switch op.Action {
		case "send":
			sends++
			o := opOf(names)
			if len(names) != 1 || o == 0 || id != o.String() {
				t.Errorf("send operation %s sends %v: want the one message of its op", id, names)
				continue
			}
			var got []string
			if op.Reply != nil {
				for _, r := range op.Reply.Messages {
					_, m := d.message(t, r.Ref)
					got = append(got, m.Name)
				}
			}
			if !slices.Equal(got, replies[o]) {
				t.Errorf("operation %s: replies %v, want %v", id, got, replies[o])
			}
		case "receive":
			for _, n := range names {
				received[n] = true
			}
		default:
			t.Errorf("operation %s: action %q", id, op.Action)
		}
	}
	if sends != int(OpAuth) {
		t.Errorf("%d send operations, want one per op (%d)", sends, OpAuth)
	}
	for _, ty := range MessageTypes() {
		if !received[ty] {
			t.Errorf("no receive operation has a %s message", ty)
		}
	}
	for name, ch := range d.Channels {
		for _, r := range ch.Messages {
			if key, _ := d.message(t, r.Ref); !onChannel[name+" "+key] {
				t.Errorf("message %s of channel %s is in no operation on the channel", key, name)
			}
		}
	}
	checkAsyncChannels(t, d)
	checkAsyncCodes(t, d)
}

// opOf returns the op of a one-message send operation, 0 when none.
func opOf(names []string) Op {
	for o := OpSubscribe; o <= OpAuth; o++ {
		if len(names) == 1 && names[0] == o.String() {
			return o
		}
	}
	return 0
}

// checkAsyncChannels checks that each channel kind has its channel, named
// after it, with the messages of its row in websocket.md section 4 as
// JSON messages and each of them as a binary message too (binary.md: the
// market data of a marketfeed.v1.bin connection); the control channel has
// no binary message.
func checkAsyncChannels(t *testing.T, d *asyncAPIDoc) {
	t.Helper()
	md, err := os.ReadFile("websocket.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z]+)` \\| `[^`]*` \\| ([^|]*) \\|")
	rows := map[string][]string{}
	for _, m := range row.FindAllSubmatch(md, -1) {
		for _, name := range regexp.MustCompile("`([a-z]+)`").FindAllSubmatch(m[2], -1) {
			rows[string(m[1])] = append(rows[string(m[1])], string(name[1]))
		}
	}
	for k := ChannelBook; k < NumChannelKinds; k++ {
		ch, ok := d.Channels[k.String()]
		if !ok {
			t.Errorf("no channel %s", k)
			continue
		}
		want := k.String() + ".{symbol}"
		if k == ChannelTickers {
			want = TickersChannel
		} else if _, ok := ch.Parameters["symbol"]; !ok || len(ch.Parameters) != 1 {
			t.Errorf("channel %s: parameters %v, want symbol", k, ch.Parameters)
		}
		if ch.Address == nil || *ch.Address != want {
			t.Errorf("channel %s: address %v, want %s", k, ch.Address, want)
		}
		var jsonNames, binNames []string
		for _, r := range ch.Messages {
			_, m := d.message(t, r.Ref)
			if d.contentType(m) == "application/json" {
				jsonNames = append(jsonNames, m.Name)
			} else {
				binNames = append(binNames, m.Name)
			}
		}
		slices.Sort(jsonNames)
		slices.Sort(binNames)
		spec := slices.Sorted(slices.Values(rows[k.String()]))
		if len(spec) == 0 || !slices.Equal(jsonNames, spec) || !slices.Equal(binNames, spec) {
			t.Errorf("channel %s: JSON messages %v, binary messages %v, websocket.md section 4: %v", k, jsonNames, binNames, spec)
		}
	}
	for _, r := range d.Channels["control"].Messages {
		if key, m := d.message(t, r.Ref); d.contentType(m) != "application/json" {
			t.Errorf("control message %s is not JSON", key)
		}
	}
	if len(d.Channels) != int(NumChannelKinds) {
		t.Errorf("%d channels, want one per kind and the control channel", len(d.Channels))
	}
}

// checkAsyncCodes checks that the error message is the server schema's,
// whose codes TestSpecTables holds to ErrorCodes, that every close code is
// described, and that the connection binding names both subprotocols.
func checkAsyncCodes(t *testing.T, d *asyncAPIDoc) {
	t.Helper()
	if ref := d.Components.Messages[TypeError].Payload.Ref; ref != "./"+ServerMessageSchema+"#/$defs/error" {
		t.Errorf("error payload %q", ref)
	}
	for _, c := range CloseCodes() {
		if !strings.Contains(d.Info.Description, itoa(c)) {
			t.Errorf("info.description does not describe close code %d", c)
		}
	}
	sp := d.Components.ChannelBindings["connection"].WS.Headers.Properties["Sec-WebSocket-Protocol"].Description
	for _, p := range []string{"marketfeed.v1.json", "marketfeed.v1.bin", "binary.md"} {
		if !strings.Contains(sp, p) || !strings.Contains(d.Info.Description, p) {
			t.Errorf("the Sec-WebSocket-Protocol binding and info.description do not name %s", p)
		}
	}
}

// asyncCheckDir is the directory of the pinned AsyncAPI parser.
const asyncCheckDir = "asyncapi-check"

// TestAsyncAPIValidates validates asyncapi.yaml with the official AsyncAPI
// parser (@asyncapi/parser, pinned in asyncapi-check/package-lock.json)
// under Node.js: any error diagnostic fails. Without the parser installed
// (npm ci in schemas/asyncapi-check) the test is skipped, except under
// .ci/run (MARKETFEED_CI set), where it fails.
func TestAsyncAPIValidates(t *testing.T) {
	missing := func(why string) {
		msg := why + "; install the parser with: (cd schemas/asyncapi-check && npm ci)"
		if os.Getenv("MARKETFEED_CI") != "" {
			t.Fatal(msg + " (.ci/run does)")
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(asyncCheckDir, "node_modules", "@asyncapi", "parser", "package.json")); err != nil {
		missing("@asyncapi/parser is not installed in schemas/asyncapi-check")
	}
	cmd := exec.Command(node, "validate.mjs", filepath.Join("..", "asyncapi.yaml"))
	cmd.Dir = asyncCheckDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("AsyncAPI parser: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("valid AsyncAPI 3.0.0")) || !bytes.Contains(out, []byte(", 0 errors")) {
		t.Fatalf("unexpected output of the AsyncAPI parser:\n%s", out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}
