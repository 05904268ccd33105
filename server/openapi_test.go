package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// openAPIURL is where the test places the OpenAPI document for its
// schema references.
const openAPIURL = "https://marketfeed.dev/schemas/v1/openapi.yaml"

// openAPIDoc is the part of the document the check reads.
type openAPIDoc struct {
	OpenAPI string `yaml:"openapi"`
	Paths   map[string]map[string]struct {
		Responses map[string]struct {
			Ref string `yaml:"$ref"`
		} `yaml:"responses"`
	} `yaml:"paths"`
	Components struct {
		Responses map[string]struct {
			Content map[string]any `yaml:"content"`
		} `yaml:"responses"`
	} `yaml:"components"`
}

// checkOpenAPI holds schemas/openapi.yaml to the server: its paths are
// exactly the server's API routes, every answer seen has a documented
// status for its path and a body valid against the documented schema,
// and every documented status of every path was seen.
func checkOpenAPI(t *testing.T, srv *server.Server, seen []restAnswer) {
	var doc openAPIDoc
	if err := yaml.Unmarshal(schemas.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	var paths []string
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	if routes := server.APIPaths(srv); !slices.Equal(paths, routes) {
		t.Fatalf("documented paths %v, server routes %v", paths, routes)
	}
	compiled := compileOpenAPI(t, &doc)
	covered := map[string]bool{}
	for _, a := range seen {
		p := docPath(paths, a.path)
		status := strconv.Itoa(a.status)
		resp, ok := doc.Paths[p]["get"].Responses[status]
		if !ok {
			t.Errorf("%s %s: status %s not documented for %s", a.method, a.path, status, p)
			continue
		}
		covered[p+" "+status] = true
		name := strings.TrimPrefix(resp.Ref, "#/components/responses/")
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(a.body))
		if err != nil {
			t.Errorf("%s %s: body not JSON: %v", a.method, a.path, err)
			continue
		}
		if err := compiled[name].Validate(v); err != nil {
			t.Errorf("%s %s %s: body %s not as documented (%s): %v", a.method, a.path, status, a.body, name, err)
		}
	}
	for _, p := range paths {
		for status := range doc.Paths[p]["get"].Responses {
			if !covered[p+" "+status] {
				t.Errorf("%s %s is documented but no test request got it", p, status)
			}
		}
	}
}

// docPath returns the documented path that the request path matches.
func docPath(paths []string, path string) string {
	for _, p := range paths {
		re := "^" + regexp.MustCompile(`\\\{[a-z]+\\\}`).ReplaceAllString(regexp.QuoteMeta(p), ".+") + "$"
		if regexp.MustCompile(re).MatchString(path) {
			return p
		}
	}
	return path
}

// compileOpenAPI compiles the JSON schema of every documented response,
// by component name; every path's response must be a component.
func compileOpenAPI(t *testing.T, doc *openAPIDoc) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	var tree any
	if err := yaml.Unmarshal(schemas.OpenAPI, &tree); err != nil {
		t.Fatal(err)
	}
	// Through JSON: the schema compiler takes the values encoding/json
	// gives (json.Number for numbers).
	j, err := json.Marshal(tree)
	if err != nil {
		t.Fatal(err)
	}
	addResource(t, c, openAPIURL, j)
	f, err := schemas.JSONSchemas.ReadFile(schemas.ServerMessageSchema)
	if err != nil {
		t.Fatal(err)
	}
	addResource(t, c, "https://marketfeed.dev/schemas/v1/ws-server-message.schema.json", f)
	out := map[string]*jsonschema.Schema{}
	for p, ops := range doc.Paths {
		for status, r := range ops["get"].Responses {
			name, ok := strings.CutPrefix(r.Ref, "#/components/responses/")
			if !ok {
				t.Fatalf("%s %s: response is not a #/components/responses reference", p, status)
			}
			if _, ok := doc.Components.Responses[name].Content["application/json"]; !ok {
				t.Fatalf("%s %s: %s has no application/json content", p, status, name)
			}
			if out[name] != nil {
				continue
			}
			s, err := c.Compile(fmt.Sprintf("%s#/components/responses/%s/content/application~1json/schema", openAPIURL, name))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out[name] = s
		}
	}
	return out
}

func addResource(t *testing.T, c *jsonschema.Compiler, url string, j []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource(url, v); err != nil {
		t.Fatal(err)
	}
}
