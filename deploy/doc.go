// Package deploy holds marketfeed's deployment files and the tests that
// check them offline: the Kubernetes manifests of k8s/ (built with
// kustomize and decoded strictly into the Kubernetes API types, the
// configuration validated by the server's own loader) and the Grafana
// dashboard of grafana/ (every query names a metric a running server
// exports).
//
// It is a module of its own so that the Kubernetes and kustomize
// libraries stay out of the server's module; run its tests with
// "cd deploy && go test ./...".
//
// Concurrency: the package has no code, only tests.
package deploy
