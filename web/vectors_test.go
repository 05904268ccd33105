package web_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestModuleVectors runs marketfeed.js against the shared protocol test
// vectors (testdata/protocol) under Node.js: web/testdata/vectors.mjs
// checks its checksums, decimal order, LocalBook cases and message
// decoding, which the Go and Python clients check against the same files.
// Skipped when no node is installed (.ci/run installs it).
func TestModuleVectors(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	out, err := exec.Command(node, "testdata/vectors.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("marketfeed.js against testdata/protocol: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), " checks, 0 failures") {
		t.Fatalf("unexpected output:\n%s", out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}
