package schemas

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// The resume reasons are those of websocket.md's table and of the server
// JSON Schema, and SetResumed writes them as the spec says.
func TestResumeReasonsSpec(t *testing.T) {
	ws, err := os.ReadFile("websocket.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ResumeReasons {
		if !bytes.Contains(ws, []byte("| `"+r+"` |")) {
			t.Errorf("websocket.md resume_reason table lacks %s", r)
		}
	}
	var schema struct {
		Defs struct {
			Subscribed struct {
				Properties struct {
					Reason struct {
						Enum []string `json:"enum"`
					} `json:"resume_reason"`
				} `json:"properties"`
			} `json:"subscribed"`
		} `json:"$defs"`
	}
	raw, err := JSONSchemas.ReadFile(ServerMessageSchema)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	if got := schema.Defs.Subscribed.Properties.Reason.Enum; !slices.Equal(got, ResumeReasons) {
		t.Errorf("server schema resume reasons %v, Go %v", got, ResumeReasons)
	}
	for reason, want := range map[string]string{
		"":            `{"type":"subscribed","channel":"book.A","interval":"raw","resumed":true}`,
		ResumeHistory: `{"type":"subscribed","channel":"book.A","interval":"raw","resumed":false,"resume_reason":"history"}`,
	} {
		m := ServerMessage{Type: TypeSubscribed, Channel: "book.A", Interval: "raw"}
		m.SetResumed(reason)
		if got, _ := json.Marshal(&m); string(got) != want {
			t.Errorf("SetResumed(%q): %s, want %s", reason, got, want)
		}
	}
}
