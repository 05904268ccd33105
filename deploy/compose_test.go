package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/marketfeed/marketfeed/internal/config"
)

const composeFile = "../docker-compose.yml"

type composeService struct {
	Build           any
	Image           string
	Command         []string
	Environment     map[string]string
	Volumes         []string
	StopGracePeriod string `json:"stop_grace_period"`
}

// TestComposeReplicasBehindBalancer: docker-compose.yml runs at least two
// marketfeed replicas behind HAProxy, whose configuration sends clients
// to every replica's WebSocket port, checks each one's /readyz on its
// admin port, and whose stop grace period outlasts the server's shutdown.
func TestComposeReplicasBehindBalancer(t *testing.T) {
	data, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]composeService
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	var replicas []string
	for name, s := range compose.Services {
		if len(s.Command) > 0 && s.Command[0] == "serve" {
			replicas = append(replicas, name)
			if s.Build == nil {
				t.Errorf("%s is not built from the checkout", name)
			}
			if s.Environment["MARKETFEED_ADMIN_LISTEN"] != ":9090" || s.Environment["MARKETFEED_LISTEN"] != ":8080" {
				t.Errorf("%s listens on %q, admin on %q; the balancer expects :8080 and :9090", name, s.Environment["MARKETFEED_LISTEN"], s.Environment["MARKETFEED_ADMIN_LISTEN"])
			}
			grace, err := time.ParseDuration(s.StopGracePeriod)
			if err != nil || grace <= time.Duration(config.Default().ShutdownTimeout) {
				t.Errorf("%s stop_grace_period %q: want longer than shutdown_timeout %v", name, s.StopGracePeriod, time.Duration(config.Default().ShutdownTimeout))
			}
		}
	}
	slices.Sort(replicas)
	if len(replicas) < 2 {
		t.Fatalf("%d marketfeed replicas in %s, want at least 2", len(replicas), composeFile)
	}
	var lb *composeService
	for _, s := range compose.Services {
		if strings.HasPrefix(s.Image, "haproxy:") {
			lb = &s
		}
	}
	if lb == nil {
		t.Fatal("no HAProxy service")
	}
	var cfgFile string
	for _, v := range lb.Volumes {
		if parts := strings.Split(v, ":"); len(parts) >= 2 && parts[1] == "/usr/local/etc/haproxy/haproxy.cfg" {
			cfgFile = parts[0]
		}
	}
	if cfgFile == "" {
		t.Fatalf("the balancer mounts no haproxy.cfg: %v", lb.Volumes)
	}
	cfg, err := os.ReadFile(filepath.Join(filepath.Dir(composeFile), cfgFile))
	if err != nil {
		t.Fatal(err)
	}
	var servers []string
	for _, m := range regexp.MustCompile(`(?m)^\s*server\s+(\S+)\s+(\S+):8080\b`).FindAllStringSubmatch(string(cfg), -1) {
		servers = append(servers, m[2])
	}
	slices.Sort(servers)
	if !slices.Equal(servers, replicas) {
		t.Errorf("haproxy.cfg balances %v, the compose file runs %v", servers, replicas)
	}
	for _, want := range []string{"option httpchk GET /readyz", "check port 9090", "timeout tunnel"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("haproxy.cfg lacks %q", want)
		}
	}
	if regexp.MustCompile(`(?m)^\s*(stick-table|stick|cookie|balance\s+source)\b`).Match(cfg) {
		t.Error("haproxy.cfg makes sessions sticky; replicas serve identical streams")
	}
}

// TestComposeConfig validates the compose file with docker compose itself
// where it is installed.
func TestComposeConfig(t *testing.T) {
	if err := exec.Command("docker", "compose", "version").Run(); err != nil {
		t.Skip("docker compose is not installed")
	}
	if out, err := exec.Command("docker", "compose", "-f", composeFile, "config", "-q").CombinedOutput(); err != nil {
		t.Fatalf("docker compose config: %v\n%s", err, out)
	}
}

// TestHAProxyConfig checks haproxy.cfg with HAProxy itself where it is
// installed.
func TestHAProxyConfig(t *testing.T) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("haproxy is not installed")
	}
	if out, err := exec.Command("haproxy", "-c", "-f", "haproxy/haproxy.cfg").CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
}
