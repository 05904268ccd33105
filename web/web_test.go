package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesThePage(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	tests := []struct {
		path, ctype, contains string
		code                  int
	}{
		{"/", "text/html", `<script type="module" src="app.js">`, 200},
		{"/marketfeed.js", "text/javascript", "export class MarketFeed", 200},
		{"/app.js", "text/javascript", `from "./marketfeed.js"`, 200},
		{"/book.js", "text/javascript", "export class LocalBook", 200},
		{"/binary.js", "text/javascript", "export function decodeBinary", 200},
		{"/style.css", "text/css", "--green", 200},
		{"/nope.js", "", "", 404},
	}
	for _, tt := range tests {
		res, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.code {
			t.Errorf("GET %s: %d, want %d", tt.path, res.StatusCode, tt.code)
			continue
		}
		if tt.code != 200 {
			continue
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", tt.path, ct, tt.ctype)
		}
		if !strings.Contains(string(body), tt.contains) {
			t.Errorf("GET %s: body lacks %q", tt.path, tt.contains)
		}
		if res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q", tt.path, res.Header.Get("Cache-Control"))
		}
	}
	// Every file the page references is embedded.
	for _, name := range []string{"index.html", "app.js", "marketfeed.js", "book.js", "binary.js", "resume.js", "style.css"} {
		if _, err := fs.Stat(Files(), name); err != nil {
			t.Errorf("%s not embedded: %v", name, err)
		}
	}
}
