package schemas

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// example is one fenced JSON block of a markdown specification.
type example struct {
	file  string
	line  int
	role  string            // kafka, kafka-invalid, client, client-invalid, server
	attrs map[string]string // key=value pairs of the info string
	body  []byte
}

func (e example) String() string { return e.file + ":" + itoa(e.line) }

// extractExamples returns every ```json block of a markdown file.
func extractExamples(t testing.TB, file string) []example {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	var cur *example
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```json"):
			words := strings.Fields(strings.TrimPrefix(line, "```"))
			cur = &example{file: file, line: n, attrs: map[string]string{}}
			if len(words) > 1 {
				cur.role = words[1]
			}
			for _, w := range words[min(2, len(words)):] {
				k, v, _ := strings.Cut(w, "=")
				cur.attrs[k] = v
			}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.body = append(cur.body, line...)
			cur.body = append(cur.body, '\n')
		}
	}
	if cur != nil {
		t.Fatalf("%s: unterminated block", cur)
	}
	return out
}

var (
	schemaOnce sync.Once
	compiled   map[string]*jsonschema.Schema
	schemaErr  error
)

// loadSchemas compiles the three schema files from the embedded FS.
func loadSchemas(t testing.TB) map[string]*jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		paths := []string{KafkaRecordSchema, ClientMessageSchema, ServerMessageSchema}
		for _, p := range paths {
			f, err := JSONSchemas.Open(p)
			if err != nil {
				schemaErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(f)
			f.Close()
			if err != nil {
				schemaErr = err
				return
			}
			if err := c.AddResource(p, doc); err != nil {
				schemaErr = err
				return
			}
		}
		compiled = map[string]*jsonschema.Schema{}
		for _, p := range paths {
			s, err := c.Compile(p)
			if err != nil {
				schemaErr = err
				return
			}
			compiled[p] = s
		}
	})
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	return compiled
}

// validate checks doc against the schema at path; a document that is not
// JSON is an error too.
func validate(t testing.TB, path string, doc []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return loadSchemas(t)[path].Validate(inst)
}

func TestSpecExamples(t *testing.T) {
	all := append(extractExamples(t, "kafka.md"), extractExamples(t, "websocket.md")...)
	count := map[string]int{}
	recordTypes := map[string]bool{}
	reasons := map[Reason]bool{}
	serverTypes := map[string]bool{}
	ops := map[string]bool{}
	for _, ex := range all {
		count[ex.role]++
		t.Run(ex.String(), func(t *testing.T) {
			body := bytes.TrimSpace(ex.body)
			switch ex.role {
			case "kafka":
				checkKafkaExample(t, body)
				var r Record
				if DecodeRecord(body, &r) == nil {
					recordTypes[r.Type.String()] = true
				}
			case "kafka-invalid":
				checkKafkaInvalidExample(t, ex, body)
				reasons[Reason(ex.attrs["reason"])] = true
			case "client":
				if err := validate(t, ClientMessageSchema, body); err != nil {
					t.Errorf("schema: %v", err)
				}
				var c Command
				if err := ParseCommand(body, &c); err != nil {
					t.Errorf("ParseCommand: %v", err)
				}
				for _, ch := range c.Channels {
					if _, _, err := ParseChannel(ch); err != nil {
						t.Errorf("ParseChannel(%q): %v", ch, err)
					}
				}
				ops[c.Op.String()] = true
			case "client-invalid":
				checkClientInvalidExample(t, ex, body)
			case "server":
				if err := validate(t, ServerMessageSchema, body); err != nil {
					t.Errorf("schema: %v", err)
				}
				dec := json.NewDecoder(bytes.NewReader(body))
				dec.DisallowUnknownFields()
				var m ServerMessage
				if err := dec.Decode(&m); err != nil {
					t.Errorf("decode into ServerMessage: %v", err)
				}
				serverTypes[m.Type] = true
			default:
				t.Errorf("json block without a known role (%q): mark it kafka, kafka-invalid, client, client-invalid or server", ex.role)
			}
		})
	}
	// Every record type, reason, op and server message type is illustrated.
	for _, rt := range []RecordType{RecordInstrument, RecordSnapshot, RecordDelta, RecordTrade} {
		if !recordTypes[rt.String()] {
			t.Errorf("kafka.md has no valid %s example", rt)
		}
	}
	for _, r := range []Reason{ReasonInvalidJSON, ReasonUnknownType, ReasonMissingField, ReasonInvalidField, ReasonBadDecimal, ReasonNegativeSize} {
		if !reasons[r] {
			t.Errorf("kafka.md has no bad record with reason %s", r)
		}
	}
	for _, o := range []Op{OpSubscribe, OpUnsubscribe, OpResync, OpPing, OpList, OpAuth} {
		if !ops[o.String()] {
			t.Errorf("websocket.md has no %s example", o)
		}
	}
	for _, ty := range []string{TypeWelcome, TypeSubscribed, TypeUnsubscribed, TypeError, TypePong, TypeSubscriptions,
		TypeSnapshot, TypeUpdate, TypeStatus, TypeTicker, TypeTrades, TypeNotice, TypeAuthenticated, TypeCandles} {
		if !serverTypes[ty] {
			t.Errorf("websocket.md has no %s example", ty)
		}
	}
}

func checkKafkaExample(t *testing.T, body []byte) {
	t.Helper()
	if err := validate(t, KafkaRecordSchema, body); err != nil {
		t.Errorf("schema: %v", err)
	}
	var r Record
	if err := DecodeRecord(body, &r); err != nil {
		t.Fatalf("DecodeRecord: %v", err)
	}
	ref, rerr := refDecode(body)
	if rerr != nil {
		t.Fatalf("reference decoder rejects the example: %+v", rerr)
	}
	if got := toRef(&r); !refEqual(got, ref) {
		t.Errorf("DecodeRecord = %+v, reference = %+v", got, ref)
	}
}

func checkKafkaInvalidExample(t *testing.T, ex example, body []byte) {
	t.Helper()
	reason, field := Reason(ex.attrs["reason"]), ex.attrs["field"]
	if reason == "" {
		t.Fatal("kafka-invalid example without reason=")
	}
	var r Record
	err := DecodeRecord(body, &r)
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("DecodeRecord = %v, want *DecodeError %s", err, reason)
	}
	if de.Reason != reason || de.Field != field {
		t.Errorf("DecodeRecord = %s/%q (%v), want %s/%q", de.Reason, de.Field, err, reason, field)
	}
	if rerr := validate(t, KafkaRecordSchema, body); (rerr == nil) != (ex.attrs["schema"] == "pass") {
		t.Errorf("schema validation error = %v; schema=pass is %v", rerr, ex.attrs["schema"] == "pass")
	}
}

func checkClientInvalidExample(t *testing.T, ex example, body []byte) {
	t.Helper()
	code := ex.attrs["code"]
	var c Command
	err := ParseCommand(body, &c)
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Code != code {
		t.Errorf("ParseCommand = %v, want code %s", err, code)
	}
	if validate(t, ClientMessageSchema, body) == nil {
		t.Errorf("schema accepts a message the server rejects")
	}
}

// TestSpecTables checks that the markdown tables and the schema enums list
// exactly the codes the Go package defines.
func TestSpecTables(t *testing.T) {
	codes := []string{CodeInvalidJSON, CodeInvalidRequest, CodeUnknownOp, CodeUnknownChannel, CodeUnknownSymbol,
		CodeInvalidDepth, CodeInvalidInterval, CodeInvalidResolution, CodeAlreadySubscribed, CodeNotSubscribed,
		CodeTooManySubscriptions, CodeRateLimited, CodeUnauthorized, CodeNotEntitled}
	closes := []int{CloseNormal, CloseGoingAway, CloseProtocolError, CloseUnsupportedData, CloseInvalidPayload,
		ClosePolicyViolation, CloseMessageTooBig, CloseInternalError, CloseIdleTimeout, CloseSlowConsumer,
		CloseTooManyErrors, CloseUnauthorized, CloseConnectionLimit, CloseLifetime}
	ws, err := os.ReadFile("websocket.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		if !bytes.Contains(ws, []byte("| `"+c+"` |")) {
			t.Errorf("websocket.md error code table lacks %s", c)
		}
	}
	for _, c := range closes {
		if !bytes.Contains(ws, []byte("| "+itoa(c)+" |")) {
			t.Errorf("websocket.md close code table lacks %d", c)
		}
	}
	kafka, err := os.ReadFile("kafka.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Reason{ReasonInvalidJSON, ReasonUnknownType, ReasonMissingField, ReasonInvalidField, ReasonBadDecimal, ReasonNegativeSize} {
		if !bytes.Contains(kafka, []byte("| `"+string(r)+"` |")) {
			t.Errorf("kafka.md reason table lacks %s", r)
		}
	}

	var schema struct {
		Defs struct {
			Error struct {
				Properties struct {
					Code struct {
						Enum []string `json:"enum"`
					} `json:"code"`
				} `json:"properties"`
			} `json:"error"`
		} `json:"$defs"`
	}
	raw, err := JSONSchemas.ReadFile(ServerMessageSchema)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(schema.Defs.Error.Properties.Code.Enum))
	want := slices.Sorted(slices.Values(codes))
	if !slices.Equal(got, want) {
		t.Errorf("server schema error codes %v, Go codes %v", got, want)
	}
}

// TestServerSchemaFields checks that every property of every server
// message in the JSON Schema is a field the server sends (a JSON field of
// ServerMessage) and is described in websocket.md in the section of that
// message; id and channel, common to many messages, are described in
// section 5 itself.
func TestServerSchemaFields(t *testing.T) {
	var schema struct {
		Defs map[string]struct {
			Properties map[string]struct {
				Const any `json:"const"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	raw, err := JSONSchemas.ReadFile(ServerMessageSchema)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	fields := map[string]bool{}
	rt := reflect.TypeFor[ServerMessage]()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		fields[name] = true
	}
	md, err := os.ReadFile("websocket.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := strings.Split(string(md), "\n### ")
	messages := 0
	for def, d := range schema.Defs {
		typ, _ := d.Properties["type"].Const.(string)
		if typ == "" {
			continue // not a message
		}
		messages++
		section := string(md)
		for _, s := range sections {
			if head, _, _ := strings.Cut(s, "\n"); strings.Contains(head, "`"+typ+"`") {
				section = s
				break
			}
		}
		for p := range d.Properties {
			if !fields[p] {
				t.Errorf("$defs.%s: property %q is no field of a server message", def, p)
				continue
			}
			if p != "type" && p != "id" && p != "channel" && !strings.Contains(section, "`"+p+"`") {
				t.Errorf("$defs.%s: property %q is not described in websocket.md's section of %s", def, p, typ)
			}
		}
	}
	if messages < 10 {
		t.Fatalf("only %d message definitions found", messages)
	}
}
