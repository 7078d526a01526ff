// Command weir-kind-runc is the OCI runtime the kind path's Docker engine
// runs containers with: runc, after removing CAP_SYS_RESOURCE from the
// container's capabilities and its OOM score adjustment.
//
// Why: root on these machines lacks CAP_SYS_RESOURCE, so runc fails to apply
// a privileged container's capabilities ("unable to apply caps: operation not
// permitted"), and kind's nodes are privileged containers. The spec runc
// reads is rewritten in place: config.json in the bundle for create and run,
// the process file for exec. Every other command goes to runc unchanged.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// The capability root lacks here, and so cannot hand to a container.
const missingCapability = "CAP_SYS_RESOURCE"

// runcPath is runc's path; WEIR_KIND_RUNC overrides it (tests).
func runcPath() string {
	if p := os.Getenv("WEIR_KIND_RUNC"); p != "" {
		return p
	}
	return "/usr/sbin/runc"
}

func main() {
	args := os.Args[1:]
	if err := rewriteFor(args); err != nil {
		fmt.Fprintf(os.Stderr, "weir-kind-runc: %v\n", err)
		os.Exit(1)
	}
	runc := runcPath()
	if err := syscall.Exec(runc, append([]string{"runc"}, args...), os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "weir-kind-runc: exec %s: %v\n", runc, err)
		os.Exit(1)
	}
}

// rewriteFor rewrites the spec file the runc command in args reads, if any.
func rewriteFor(args []string) error {
	switch command(args) {
	case "create", "run":
		bundle := option(args, "--bundle", "-b")
		if bundle == "" {
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			bundle = wd
		}
		return rewrite(filepath.Join(bundle, "config.json"), func(spec map[string]any) {
			if process, ok := spec["process"].(map[string]any); ok {
				withoutMissingCapability(process)
			}
		})
	case "exec":
		if path := option(args, "--process", "-p"); path != "" {
			return rewrite(path, withoutMissingCapability)
		}
	}
	return nil
}

// command is runc's subcommand: the first argument that is neither a global
// flag nor a global flag's value.
func command(args []string) string {
	valued := map[string]bool{"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if valued[a] {
			i++
			continue
		}
		if strings.HasPrefix(a, "-") {
			continue
		}
		return a
	}
	return ""
}

// option is the value of a flag given as "--name value", "--name=value" or "-n value".
func option(args []string, long, short string) string {
	for i, a := range args {
		if (a == long || a == short) && i+1 < len(args) {
			return args[i+1]
		}
		if strings.HasPrefix(a, long+"=") {
			return strings.TrimPrefix(a, long+"=")
		}
	}
	return ""
}

// rewrite applies change to the JSON object in path and writes it back with the file's mode.
func rewrite(path string, change func(map[string]any)) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	change(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, info.Mode().Perm())
}

// withoutMissingCapability drops the capability from every set of an OCI
// process, and its oomScoreAdj (setting one needs the same capability).
func withoutMissingCapability(process map[string]any) {
	delete(process, "oomScoreAdj")
	capabilities, ok := process["capabilities"].(map[string]any)
	if !ok {
		return
	}
	for set, list := range capabilities {
		names, ok := list.([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(names))
		for _, name := range names {
			if name != missingCapability {
				kept = append(kept, name)
			}
		}
		capabilities[set] = kept
	}
}
