package server

import (
	"slices"
	"strings"
)

// APIPaths returns the paths of the HTTP API's routes in OpenAPI form
// ("/v1/book/{symbol}"), sorted.
func APIPaths(s *Server) []string {
	var out []string
	for p := range s.apiRoutes() {
		out = append(out, strings.ReplaceAll(p, "...}", "}"))
	}
	slices.Sort(out)
	return out
}
