package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func privileged() map[string]any {
	all := []any{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"}
	return map[string]any{
		"args":         []any{"/sbin/init"},
		"oomScoreAdj":  float64(-999),
		"capabilities": map[string]any{"bounding": all, "effective": all, "permitted": all, "ambient": all},
	}
}

func TestCreateDropsTheCapabilityFromTheBundleSpec(t *testing.T) {
	bundle := t.TempDir()
	config := filepath.Join(bundle, "config.json")
	writeJSON(t, config, map[string]any{"ociVersion": "1.0.2", "process": privileged(), "hostname": "node"})
	args := []string{"--root", "/run/runc", "--log", "/tmp/log.json", "create", "--bundle", bundle, "--pid-file", "p", "id"}
	if err := rewriteFor(args); err != nil {
		t.Fatal(err)
	}
	doc := readJSON(t, config)
	process := doc["process"].(map[string]any)
	want := []any{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_ADMIN"}
	for set, list := range process["capabilities"].(map[string]any) {
		if !reflect.DeepEqual(list, want) {
			t.Errorf("%s: %v, want %v", set, list, want)
		}
	}
	if _, ok := process["oomScoreAdj"]; ok {
		t.Error("oomScoreAdj kept")
	}
	if doc["hostname"] != "node" || !reflect.DeepEqual(process["args"], []any{"/sbin/init"}) {
		t.Errorf("other fields changed: %v", doc)
	}
}

func TestExecDropsTheCapabilityFromTheProcessFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "process.json")
	writeJSON(t, path, privileged())
	if err := rewriteFor([]string{"--root", "/run/runc", "exec", "--process", path, "--detach", "id"}); err != nil {
		t.Fatal(err)
	}
	for _, list := range readJSON(t, path)["capabilities"].(map[string]any) {
		for _, name := range list.([]any) {
			if name == missingCapability {
				t.Fatalf("still has %s: %v", missingCapability, list)
			}
		}
	}
}

func TestOtherCommandsTouchNothing(t *testing.T) {
	for _, args := range [][]string{{"--root", "/run/runc", "state", "id"}, {"delete", "--force", "id"}, {"--version"}} {
		if err := rewriteFor(args); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
	if got := command([]string{"--root", "create", "--log", "x", "run", "b"}); got != "run" {
		t.Errorf("command: %q, want run (create is --root's value)", got)
	}
}

func TestAMissingOrBrokenSpecIsAnError(t *testing.T) {
	if err := rewriteFor([]string{"create", "--bundle", t.TempDir(), "id"}); err == nil {
		t.Error("no error for a bundle without config.json")
	}
	bundle := t.TempDir()
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rewriteFor([]string{"create", "--bundle=" + bundle, "id"}); err == nil {
		t.Error("no error for a broken config.json")
	}
}
