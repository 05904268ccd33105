package config

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/server"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "marketfeed.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func noEnv(string) (string, bool) { return "", false }

func TestDefaultsAreValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestPrecedence(t *testing.T) {
	path := writeFile(t, `
listen: ":9001"
kafka:
  topic: from-file
  lookback: 5m
websocket:
  max_subscriptions: 7
`)
	env := map[string]string{"MARKETFEED_KAFKA_TOPIC": "from-env", "MARKETFEED_LISTEN": ":9002"}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	flags := RegisterFlags(fs)
	if err := fs.Parse([]string{"-listen", ":9003"}); err != nil {
		t.Fatal(err)
	}
	c, err := Resolve(path, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, flags)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":9003" {
		t.Errorf("listen %q: a flag beats env and file", c.Listen)
	}
	if c.Kafka.Topic != "from-env" {
		t.Errorf("topic %q: env beats file", c.Kafka.Topic)
	}
	if time.Duration(c.Kafka.Lookback) != 5*time.Minute || c.WebSocket.MaxSubscriptions != 7 {
		t.Errorf("file values lost: %+v", c)
	}
	if c.WebSocket.MaxQueueBytes != Default().WebSocket.MaxQueueBytes {
		t.Errorf("untouched key lost its default")
	}
}

func TestUnsetFlagsDoNotOverride(t *testing.T) {
	path := writeFile(t, "kafka:\n  topic: from-file\n")
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	flags := RegisterFlags(fs)
	_ = fs.Parse(nil)
	c, err := Resolve(path, noEnv, flags)
	if err != nil || c.Kafka.Topic != "from-file" {
		t.Fatalf("topic %q, err %v", c.Kafka.Topic, err)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"kafka:\n  topik: x\n", []string{"topik", "line 2"}},
		{"websocket:\n  ping_interval: soon\n", []string{"soon", "not a duration"}},
		{"listen: nowhere\n", []string{"listen:", "host:port"}},
		{"kafka:\n  start: middle\n", []string{"kafka.start"}},
		{"log:\n  format: xml\n", []string{"log.format"}},
		{"websocket:\n  idle_timeout: 1s\n", []string{"websocket.idle_timeout", "longer than"}},
		{"tls:\n  cert_file: a.pem\n", []string{"tls:", "together"}},
		{"kafka:\n  brokers: []\n", []string{"kafka.brokers"}},
		{"websocket:\n  max_queue_bytes: 10\n  max_message_size: 1\n", []string{"websocket.max_queue_bytes", "websocket.max_message_size"}},
	}
	for _, tt := range tests {
		_, err := Resolve(writeFile(t, tt.file), noEnv, nil)
		if err == nil {
			t.Errorf("%q: accepted", tt.file)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not mention %q", tt.file, err, w)
			}
		}
	}
	_, err := Resolve("", func(k string) (string, bool) {
		return "many", k == "MARKETFEED_WEBSOCKET_MAX_CONNECTIONS"
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "MARKETFEED_WEBSOCKET_MAX_CONNECTIONS") {
		t.Errorf("bad env value: %v", err)
	}
}

func TestEmptyFileAndPrintRoundTrip(t *testing.T) {
	c, err := Resolve(writeFile(t, ""), noEnv, nil)
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Fatalf("empty file: %v", err)
	}
	// What config print writes loads back to the same configuration.
	c.Kafka.Brokers = []string{"k1:9092", "k2:9092"}
	c.WebSocket.PingInterval = Duration(7 * time.Second)
	back, err := Resolve(writeFile(t, string(c.YAML())), noEnv, nil)
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip: %v\n%s", err, c.YAML())
	}
}

func TestEveryKeyHasFlagEnvAndReference(t *testing.T) {
	ref := Reference()
	def := Default()
	for _, k := range Keys() {
		if !strings.Contains(ref, "`"+k.Name+"`") || !strings.Contains(ref, k.Env()) {
			t.Errorf("reference lacks %s", k.Name)
		}
		// Setting a key through its own text form keeps the value.
		c := Default()
		if err := k.set(&c, k.get(&def)); err != nil || !reflect.DeepEqual(c, def) {
			t.Errorf("%s does not round-trip its default: %v", k.Name, err)
		}
	}
	// Every YAML leaf has a key, so nothing is configurable by file only.
	var leaves []string
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if prefix != "" {
				name = prefix + "." + name
			}
			if f.Type.Kind() == reflect.Struct {
				walk(name, v.Field(i))
				continue
			}
			leaves = append(leaves, name)
		}
	}
	walk("", reflect.ValueOf(def))
	if len(leaves) != len(Keys()) {
		t.Fatalf("%d YAML leaves, %d keys", len(leaves), len(Keys()))
	}
	for i, k := range Keys() {
		if k.Name != leaves[i] {
			t.Errorf("key %d is %s, YAML leaf is %s", i, k.Name, leaves[i])
		}
	}
}

// TestREADMEDocumentsEveryKey keeps the README's configuration table the
// one the code generates.
func TestREADMEDocumentsEveryKey(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), Reference()) {
		t.Fatal("README.md's configuration table differs from config.Reference(); paste the new table")
	}
}

// websocket.poller is on by default and reaches the hub's configuration
// inverted, as DisablePoller.
func TestPollerKey(t *testing.T) {
	c := Default()
	if !c.WebSocket.Poller || c.Server(nil).WS.Transport.DisablePoller {
		t.Fatal("the poller is not on by default")
	}
	c.WebSocket.Poller = false
	if !c.Server(nil).WS.Transport.DisablePoller {
		t.Fatal("websocket.poller false does not disable the poller")
	}
}

// auth.public_hosts reaches the server configuration, from a file or the
// environment, and is refused without a key file or when it is no host.
func TestPublicHostsKey(t *testing.T) {
	c, err := Resolve(writeFile(t, "auth:\n  keys_file: k.json\n  public_hosts: [feed.example.com, \"feed.example.com:8443\"]\n"), noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Server(nil).PublicHosts; len(got) != 2 || got[0] != "feed.example.com" || got[1] != "feed.example.com:8443" {
		t.Fatalf("public hosts %q", got)
	}
	c, err = Resolve("", func(k string) (string, bool) {
		switch k {
		case "MARKETFEED_AUTH_KEYS_FILE":
			return "k.json", true
		case "MARKETFEED_AUTH_PUBLIC_HOSTS":
			return "a.example, b.example", true
		}
		return "", false
	}, nil)
	if err != nil || len(c.Auth.PublicHosts) != 2 || c.Auth.PublicHosts[1] != "b.example" {
		t.Fatalf("from the environment: %q, %v", c.Auth.PublicHosts, err)
	}
	for file, want := range map[string]string{
		"auth:\n  public_hosts: [feed.example.com]\n":                           "only with keys_file",
		"auth:\n  keys_file: k.json\n  public_hosts: [\"https://x.example\"]\n": "auth.public_hosts",
	} {
		if _, err := Resolve(writeFile(t, file), noEnv, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error mentioning %q", file, err, want)
		}
	}
}

// The http.* keys reach the server's HTTP limits; their defaults are the
// server's.
func TestHTTPKeys(t *testing.T) {
	d := Default()
	def := d.Server(nil).HTTP
	if def.IdleTimeout != server.DefaultIdleTimeout || def.ReadTimeout != server.DefaultReadTimeout ||
		def.WriteTimeout != server.DefaultWriteTimeout || def.ReadHeaderTimeout != server.DefaultReadHeaderTimeout ||
		def.MaxConns != server.DefaultMaxConns || def.MaxConnsPerAddr != server.DefaultMaxConnsPerAddr {
		t.Fatalf("defaults %+v", def)
	}
	c, err := Resolve(writeFile(t, "http:\n  idle_timeout: 5s\n  max_connections: -1\n  max_connections_per_address: 500\n"), noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := c.Server(nil).HTTP; h.IdleTimeout != 5*time.Second || h.MaxConns != -1 || h.MaxConnsPerAddr != 500 {
		t.Fatalf("from the file: %+v", h)
	}
	for _, file := range []string{"http:\n  max_connections: 0\n", "http:\n  idle_timeout: 0s\n", "http:\n  max_connections_per_address: -2\n"} {
		if _, err := Resolve(writeFile(t, file), noEnv, nil); err == nil || !strings.Contains(err.Error(), "http.") {
			t.Errorf("%q: %v, want an error naming the key", file, err)
		}
	}
}

// kafka.partitions reads as a YAML list, an environment variable or a
// flag, reaches the consumer's configuration, and rejects what is not a
// set of partition numbers.
func TestPartitionsKey(t *testing.T) {
	c, err := Resolve(writeFile(t, "kafka:\n  partitions: [2, 0]\n"), noEnv, nil)
	if err != nil || !reflect.DeepEqual(c.Kafka.Partitions, []int{2, 0}) {
		t.Fatalf("file: %v %v", c.Kafka.Partitions, err)
	}
	if got := c.Server(nil).Feed.Partitions; !reflect.DeepEqual(got, []int{2, 0}) {
		t.Fatalf("feed config partitions %v", got)
	}
	c, err = Resolve("", func(k string) (string, bool) { return "1, 3", k == "MARKETFEED_KAFKA_PARTITIONS" }, nil)
	if err != nil || !reflect.DeepEqual(c.Kafka.Partitions, []int{1, 3}) {
		t.Fatalf("env: %v %v", c.Kafka.Partitions, err)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	flags := RegisterFlags(fs)
	if err := fs.Parse([]string{"-kafka.partitions", "5"}); err != nil {
		t.Fatal(err)
	}
	if c, err = Resolve("", noEnv, flags); err != nil || !reflect.DeepEqual(c.Kafka.Partitions, []int{5}) {
		t.Fatalf("flag: %v %v", c.Kafka.Partitions, err)
	}
	if c, err = Resolve(writeFile(t, "kafka:\n  partitions: []\n"), noEnv, nil); err != nil || c.Kafka.Partitions != nil {
		t.Fatalf("empty list: %v %v", c.Kafka.Partitions, err)
	}
	for _, bad := range []string{"[-1]", "[1, 1]"} {
		if _, err := Resolve(writeFile(t, "kafka:\n  partitions: "+bad+"\n"), noEnv, nil); err == nil || !strings.Contains(err.Error(), "kafka.partitions") {
			t.Errorf("partitions %s: %v", bad, err)
		}
	}
	if _, err := Resolve("", func(k string) (string, bool) { return "a", k == "MARKETFEED_KAFKA_PARTITIONS" }, nil); err == nil {
		t.Error(`partitions "a" accepted`)
	}
}
