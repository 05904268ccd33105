package deploy

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/internal/config"
)

// manifests is the kustomize build of k8s/, each object decoded strictly
// into its API type.
type manifests struct {
	namespace   *corev1.Namespace
	configMap   *corev1.ConfigMap
	secret      *corev1.Secret
	deployment  *appsv1.Deployment
	services    []*corev1.Service
	pdb         *policyv1.PodDisruptionBudget
	hpa         *autoscalingv2.HorizontalPodAutoscaler
	objectCount int
}

// build runs kustomize on k8s/ and decodes its output. An unknown field,
// a field of the wrong type or an unknown kind fails the test.
func build(t *testing.T) *manifests {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), "k8s")
	if err != nil {
		t.Fatalf("kustomize build k8s: %v", err)
	}
	m := &manifests{}
	for _, r := range res.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		var tm v1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatal(err)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 Namespace":
			m.namespace = &corev1.Namespace{}
			obj = m.namespace
		case "v1 ConfigMap":
			m.configMap = &corev1.ConfigMap{}
			obj = m.configMap
		case "v1 Secret":
			m.secret = &corev1.Secret{}
			obj = m.secret
		case "apps/v1 Deployment":
			m.deployment = &appsv1.Deployment{}
			obj = m.deployment
		case "v1 Service":
			s := &corev1.Service{}
			m.services = append(m.services, s)
			obj = s
		case "policy/v1 PodDisruptionBudget":
			m.pdb = &policyv1.PodDisruptionBudget{}
			obj = m.pdb
		case "autoscaling/v2 HorizontalPodAutoscaler":
			m.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
			obj = m.hpa
		default:
			t.Fatalf("unexpected object %s %s:\n%s", tm.APIVersion, tm.Kind, doc)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s %s does not decode strictly: %v\n%s", tm.Kind, r.GetName(), err, doc)
		}
		m.objectCount++
	}
	if m.namespace == nil || m.configMap == nil || m.secret == nil || m.deployment == nil || len(m.services) == 0 || m.pdb == nil || m.hpa == nil {
		t.Fatalf("kustomize build lacks an object: %+v", m)
	}
	return m
}

// TestKustomizationListsEveryFile: every manifest in k8s/ is a resource
// of the kustomization, so none is silently left out of kubectl apply -k.
func TestKustomizationListsEveryFile(t *testing.T) {
	var k struct {
		Resources []string `json:"resources"`
	}
	data, err := os.ReadFile("k8s/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if name := filepath.Base(f); name != "kustomization.yaml" && !slices.Contains(k.Resources, name) {
			t.Errorf("%s is not listed in kustomization.yaml's resources", name)
		}
	}
}

// TestManifests checks the built manifests against each other and against
// the server: names and selectors that meet, probes on the admin port's
// /readyz and /healthz, a grace period that lets the shutdown notice and
// close reach the clients, and a configuration and key file the server
// accepts.
func TestManifests(t *testing.T) {
	m := build(t)
	d := m.deployment
	ns := m.namespace.Name
	for _, o := range []v1.Object{m.configMap, m.secret, d, m.pdb, m.hpa, m.services[0]} {
		if o.GetNamespace() != ns {
			t.Errorf("%s is in namespace %q, want %q", o.GetName(), o.GetNamespace(), ns)
		}
	}

	// Selectors select the pods.
	podLabels := labels.Set(d.Spec.Template.Labels)
	sel, err := v1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Fatalf("Deployment selector %v does not match its pod labels %v (%v)", d.Spec.Selector, podLabels, err)
	}
	if sel, err := v1.LabelSelectorAsSelector(m.pdb.Spec.Selector); err != nil || !sel.Matches(podLabels) {
		t.Errorf("PodDisruptionBudget selector does not match the pods")
	}
	if m.pdb.Spec.MaxUnavailable == nil || m.pdb.Spec.MaxUnavailable.IntValue() < 1 || int32(m.pdb.Spec.MaxUnavailable.IntValue()) >= *d.Spec.Replicas {
		t.Errorf("PodDisruptionBudget maxUnavailable %v: want at least 1 and fewer than the %d replicas", m.pdb.Spec.MaxUnavailable, *d.Spec.Replicas)
	}
	if ref := m.hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != d.Name || ref.APIVersion != "apps/v1" {
		t.Errorf("HorizontalPodAutoscaler targets %+v, not the Deployment %s", ref, d.Name)
	}
	if min := m.hpa.Spec.MinReplicas; min == nil || *min < 2 || *min > m.hpa.Spec.MaxReplicas {
		t.Errorf("HorizontalPodAutoscaler minReplicas %v: want at least 2 replicas, at most maxReplicas", min)
	}

	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(d.Spec.Template.Spec.Containers))
	}
	c := d.Spec.Template.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for _, s := range m.services {
		if !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) || len(s.Spec.Selector) == 0 {
			t.Errorf("Service %s selector %v does not select the pods", s.Name, s.Spec.Selector)
		}
		if s.Spec.SessionAffinity != "" && s.Spec.SessionAffinity != corev1.ServiceAffinityNone {
			t.Errorf("Service %s uses session affinity %s; replicas serve identical streams", s.Name, s.Spec.SessionAffinity)
		}
		for _, p := range s.Spec.Ports {
			if _, ok := ports[p.TargetPort.String()]; !ok {
				t.Errorf("Service %s port %s targets %q, which the container does not name", s.Name, p.Name, p.TargetPort.String())
			}
		}
	}
	if client := m.services[0]; len(client.Spec.Ports) != 1 || client.Spec.Ports[0].TargetPort.String() != "ws" {
		t.Errorf("the client Service %s must expose the WebSocket port only: %+v", client.Name, client.Spec.Ports)
	}

	// Probes: readiness on /readyz, liveness on /healthz, both on the
	// admin port.
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP GET of %s", name, path)
			return
		}
		if p.HTTPGet.Path != path || p.HTTPGet.Port != intstr.FromString("admin") {
			t.Errorf("%s probe: GET %s on port %s, want %s on admin", name, p.HTTPGet.Path, p.HTTPGet.Port.String(), path)
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")

	// The configuration file: mounted where the args point, accepted by
	// the server's loader, listening on the container's ports.
	cfgPath := argAfter(t, c.Args, "-config")
	file, ok := m.configMap.Data[path.Base(cfgPath)]
	if !ok {
		t.Fatalf("ConfigMap %s lacks %s", m.configMap.Name, path.Base(cfgPath))
	}
	mount := mountOf(t, d, c, cfgPath)
	if mount.volume.ConfigMap == nil || mount.volume.ConfigMap.Name != m.configMap.Name {
		t.Fatalf("%s is not mounted from ConfigMap %s", cfgPath, m.configMap.Name)
	}
	local := filepath.Join(t.TempDir(), "marketfeed.yaml")
	if err := os.WriteFile(local, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Resolve(local, func(string) (string, bool) { return "", false }, nil)
	if err != nil {
		t.Fatalf("the ConfigMap's configuration is rejected by the server: %v", err)
	}
	if port := portOf(t, cfg.Listen); port != ports["ws"] {
		t.Errorf("listen %s, container port ws %d", cfg.Listen, ports["ws"])
	}
	if cfg.AdminListen == "" {
		t.Fatal("admin_listen is empty: the probes and metrics would share the client port")
	}
	if port := portOf(t, cfg.AdminListen); port != ports["admin"] {
		t.Errorf("admin_listen %s, container port admin %d", cfg.AdminListen, ports["admin"])
	}

	// The key file: mounted from the Secret, accepted by the server.
	if cfg.Auth.KeysFile == "" {
		t.Fatal("the configuration has no auth.keys_file")
	}
	keysMount := mountOf(t, d, c, cfg.Auth.KeysFile)
	if keysMount.volume.Secret == nil || keysMount.volume.Secret.SecretName != m.secret.Name {
		t.Fatalf("%s is not mounted from Secret %s", cfg.Auth.KeysFile, m.secret.Name)
	}
	if keysMount.mount.SubPath != "" {
		t.Errorf("the key file is mounted with subPath, so Secret updates never reach the server")
	}
	keys, ok := m.secret.StringData[path.Base(cfg.Auth.KeysFile)]
	if !ok {
		t.Fatalf("Secret %s lacks %s", m.secret.Name, path.Base(cfg.Auth.KeysFile))
	}
	if _, err := auth.ParseFile([]byte(keys)); err != nil {
		t.Fatalf("the Secret's key file is rejected by the server: %v", err)
	}

	// Draining: the preStop sleep lets the endpoint leave the Service
	// before SIGTERM; then the server sends its notice and closes within
	// shutdown_timeout; all of it inside the grace period.
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds < 1 {
		t.Fatal("no preStop sleep: SIGTERM would arrive while the endpoint still receives new connections")
	}
	preStop := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	grace := time.Duration(*d.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	if need := preStop + time.Duration(cfg.ShutdownTimeout); need >= grace {
		t.Errorf("preStop %v + shutdown_timeout %v = %v, not below terminationGracePeriodSeconds %v", preStop, time.Duration(cfg.ShutdownTimeout), need, grace)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("rolling update may take a replica away before its successor is ready: %+v", d.Spec.Strategy)
	}
	// The autoscaler's CPU utilisation needs a CPU request.
	if c.Resources.Requests.Cpu().IsZero() {
		t.Error("no CPU request: the autoscaler cannot compute utilisation")
	}
	if !strings.HasPrefix(c.Image, "marketfeed") {
		t.Errorf("image %q", c.Image)
	}
}

func argAfter(t *testing.T, args []string, flag string) string {
	t.Helper()
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("container args %v lack %s", args, flag)
	}
	return args[i+1]
}

type mounted struct {
	mount  corev1.VolumeMount
	volume corev1.Volume
}

// mountOf returns the volume mount that provides file in container c.
func mountOf(t *testing.T, d *appsv1.Deployment, c corev1.Container, file string) mounted {
	t.Helper()
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == file || strings.HasPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/") {
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Name == vm.Name {
					return mounted{vm, v}
				}
			}
			t.Fatalf("volume %s of mount %s is not defined", vm.Name, vm.MountPath)
		}
	}
	t.Fatalf("no volume mount provides %s", file)
	return mounted{}
}

func portOf(t *testing.T, addr string) int32 {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	var p int32
	for _, ch := range addr[i+1:] {
		p = p*10 + ch - '0'
	}
	return p
}
