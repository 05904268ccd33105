// Package kafkatest connects integration tests to a real Apache Kafka
// cluster: the one scripts/kafka.sh starts, or any other named by
// MARKETFEED_KAFKA_BROKERS.
//
// Brokers skips the calling test when MARKETFEED_KAFKA_BROKERS is unset, so
// a plain `go test ./...` runs only the tests on the in-process broker.
// Node-control helpers (Kill, StopNode, StartNode) drive scripts/kafka.sh
// and need MARKETFEED_KAFKA_DIR as the script prints it (`scripts/kafka.sh
// env`); tests that need them skip without it.
//
// Every test creates its own topic (CreateTopic, a unique name, deleted at
// cleanup), so tests never see each other's records.
//
// Concurrency: the functions may be called from any goroutine; an Admin is
// safe for concurrent use.
package kafkatest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EnvBrokers names the variable listing the brokers (host:port, comma
// separated) of the cluster the integration tests run against. It is the
// server's own kafka.brokers variable.
const EnvBrokers = "MARKETFEED_KAFKA_BROKERS"

// EnvDir names the state directory of scripts/kafka.sh; set, it lets tests
// stop, kill and start nodes.
const EnvDir = "MARKETFEED_KAFKA_DIR"

// Brokers returns the brokers of MARKETFEED_KAFKA_BROKERS, or skips t.
func Brokers(t testing.TB) []string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(EnvBrokers))
	if v == "" {
		t.Skipf("%s is not set: no real Kafka (scripts/kafka.sh start prints it)", EnvBrokers)
	}
	var out []string
	for _, b := range strings.Split(v, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Admin is a franz-go client for topic administration and for producing.
type Admin struct {
	*kgo.Client
	t       testing.TB
	brokers []string
}

// NewAdmin returns a client of brokers, closed at cleanup. opts are added
// to the defaults (which produce with acks=all, idempotently).
func NewAdmin(t testing.TB, brokers []string, opts ...kgo.Opt) *Admin {
	t.Helper()
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.RequestTimeoutOverhead(10 * time.Second),
		kgo.ProducerBatchMaxBytes(16 << 20),
		kgo.MaxBufferedRecords(1 << 20),
		kgo.RecordRetries(100),
	}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &Admin{Client: cl, t: t, brokers: brokers}
}

var topicSeq atomic.Int64

// CreateTopic creates a topic with a name unique to the test, waits until
// every partition has a leader, and deletes it at cleanup. configs are
// topic configurations (retention.ms, cleanup.policy, ...).
func (a *Admin) CreateTopic(partitions, replicas int, configs map[string]string) string {
	t := a.t
	t.Helper()
	name := fmt.Sprintf("it-%s-%d-%d", regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"),
		time.Now().UnixMilli()%1e8, topicSeq.Add(1))
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30_000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = name
	rt.NumPartitions = int32(partitions)
	rt.ReplicationFactor = int16(replicas)
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, a.Client)
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	t.Cleanup(func() { a.deleteTopic(name) })
	a.WaitLeaders(name, partitions)
	a.waitServed(name, partitions)
	return name
}

// waitServed waits until the leader of every partition answers for it
// (the metadata names a leader a moment before it has opened the log).
func (a *Admin) waitServed(topic string, partitions int) {
	a.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p := range int32(partitions) {
		for {
			_, _, err := a.Offsets(topic, p)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				a.t.Fatalf("partition %d of %s not served: %v", p, topic, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (a *Admin) deleteTopic(name string) {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 30_000
	rt := kmsg.NewDeleteTopicsRequestTopic()
	rt.Topic = kmsg.StringPtr(name)
	req.Topics = append(req.Topics, rt)
	req.TopicNames = []string{name}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = req.RequestWith(ctx, a.Client)
}

// Partition is one partition's leader and replicas as the metadata says.
type Partition struct {
	ID       int32
	Leader   int32
	Replicas []int32
	ISR      []int32
}

// Metadata returns the topic's partitions, ordered by id.
func (a *Admin) Metadata(topic string) ([]Partition, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, a.Client)
	if err != nil {
		return nil, err
	}
	if len(resp.Topics) != 1 {
		return nil, fmt.Errorf("metadata of %s: %d topics", topic, len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		return nil, err
	}
	var out []Partition
	for _, p := range resp.Topics[0].Partitions {
		out = append(out, Partition{ID: p.Partition, Leader: p.Leader, Replicas: p.Replicas, ISR: p.ISR})
	}
	slices.SortFunc(out, func(x, y Partition) int { return int(x.ID - y.ID) })
	return out, nil
}

// WaitLeaders waits until the topic has n partitions, each with a leader.
func (a *Admin) WaitLeaders(topic string, n int) []Partition {
	a.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ps, err := a.Metadata(topic)
		ok := err == nil && len(ps) == n
		for _, p := range ps {
			ok = ok && p.Leader >= 0
		}
		if ok {
			return ps
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("topic %s: partitions %v (want %d with leaders), err %v", topic, ps, n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BrokerCount returns the number of brokers the cluster's metadata lists.
func (a *Admin) BrokerCount() int {
	a.t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, a.Client)
	if err != nil {
		a.t.Fatal(err)
	}
	return len(resp.Brokers)
}

// AddPartitions raises the topic's partition count to total and waits
// until every partition is served.
func (a *Admin) AddPartitions(topic string, total int) {
	a.t.Helper()
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.TimeoutMillis = 30_000
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, int32(total)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, a.Client)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		a.t.Fatalf("add partitions to %s: %v", topic, err)
	}
	a.WaitLeaders(topic, total)
	a.waitServed(topic, total)
}

// SetConfig sets (value non-nil) or removes (nil) a topic configuration.
func (a *Admin) SetConfig(topic, name string, value *string) {
	a.t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType = kmsg.ConfigResourceTypeTopic
	r.ResourceName = topic
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Value = name, value
	c.Op = kmsg.IncrementalAlterConfigOpSet
	if value == nil {
		c.Op = kmsg.IncrementalAlterConfigOpDelete
	}
	r.Configs = append(r.Configs, c)
	req.Resources = append(req.Resources, r)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, a.Client)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Resources[0].ErrorCode); err != nil {
		a.t.Fatalf("set %s of %s: %v", name, topic, err)
	}
}

// Offsets returns the log start offset and the end offset (high-water
// mark) of a partition, as its leader reports them.
func (a *Admin) Offsets(topic string, partition int32) (start, end int64, err error) {
	get := func(ts int64) (int64, error) {
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = partition, ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := req.RequestWith(ctx, a.Client)
		if err != nil {
			return 0, err
		}
		p := resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
			return 0, err
		}
		return p.Offset, nil
	}
	if start, err = get(-2); err != nil {
		return 0, 0, err
	}
	end, err = get(-1)
	return start, end, err
}

// ProduceSync produces rs and fails t on any error.
func (a *Admin) ProduceSync(rs ...*kgo.Record) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := a.Client.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		a.t.Fatalf("produce: %v", err)
	}
}

// script returns the path of scripts/kafka.sh in this module.
func script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", "kafka.sh")
}

// Control reports whether nodes can be stopped and started: the cluster
// was started by scripts/kafka.sh and MARKETFEED_KAFKA_DIR says where.
func Control() bool { return os.Getenv(EnvDir) != "" }

// NeedControl skips t unless Control.
func NeedControl(t testing.TB) {
	t.Helper()
	if !Control() {
		t.Skipf("%s is not set: nodes of this cluster cannot be stopped (run scripts/kafka.sh start and export what it prints)", EnvDir)
	}
}

func run(t testing.TB, args ...string) {
	t.Helper()
	NeedControl(t)
	cmd := exec.Command("bash", append([]string{script()}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kafka.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("kafka.sh %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
}

// Kill kills node id (its node.id) with SIGKILL, as a crash would.
func Kill(t testing.TB, id int32) { run(t, "kill", fmt.Sprint(id)) }

// StopNode stops node id with SIGTERM (a controlled shutdown) and waits for
// it to exit.
func StopNode(t testing.TB, id int32) { run(t, "stop-node", fmt.Sprint(id)) }

// StartNode starts node id again on its data and waits until it answers.
func StartNode(t testing.TB, id int32) { run(t, "start-node", fmt.Sprint(id)) }

// Up starts again every node of the cluster that is down; tests that stop
// nodes call it at cleanup, so that a failure leaves the cluster whole.
func Up(t testing.TB) { run(t, "up") }
