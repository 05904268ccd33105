package web_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryVectors runs binary.js against the shared binary vectors
// (testdata/protocol/binary.json) under Node.js: web/testdata/binary.mjs
// checks that every vector decodes to exactly what parseMessage gives for
// its JSON twin (bytes after the channel ignored) and that books verify
// through it, and that truncated, malformed and randomly garbled messages
// only ever throw BinaryDecodeError or decode to a message of the
// protocol's shape.
// Without node the test is skipped, except under .ci/run (MARKETFEED_CI
// set), where it fails.
func TestBinaryVectors(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("MARKETFEED_CI") != "" {
			t.Fatal("node is not installed (.ci/run installs it)")
		}
		t.Skip("node not installed")
	}
	out, err := exec.Command(node, "testdata/binary.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("binary.js against testdata/protocol/binary.json: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), " checks, 0 failures") {
		t.Fatalf("unexpected output:\n%s", out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}
