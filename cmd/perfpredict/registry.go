package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/novacron/perfpredict/lifecycle"
)

// perfpredict registry: inspect and change a model registry directory
// (lifecycle.Registry) whose versions are forecaster artifacts. Every change
// is atomic and serialised with other writers by the registry's file lock,
// so it is safe next to a running pipeline, which follows a promote or roll
// back at its next step. Only add creates a registry: every other action on
// a directory without one fails, so a mistyped --dir is caught.

func init() {
	register(&command{name: "registry", summary: "list, show, add, promote, roll back, verify and GC model versions", run: runRegistry})
}

const registryUsage = `usage: perfpredict registry <action> --dir D [flags]

actions:
  list      [--model M]                          versions, oldest first
  show      --model M --version V                one version's manifest, state and notes
  add       --model M --artifact F [--version V] [--features a,b] [--parent V]
                                                 store a forecaster artifact (train --out);
                                                 creates the registry if --dir is new or empty
  promote   --model M --version V [--reason R]   make V Active (checksum verified)
  rollback  --model M [--to V] [--reason R]      back to the previous Active (or V)
  deprecate --model M --version V [--reason R]
  verify    [--model M]                          hash every checkpoint; exit 1 on a problem
  gc        [--keep-deprecated N] [--keep-candidates N] [--candidate-max-age D]
every action takes --json (one JSON object on stdout).
`

func runRegistry(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(env.stderr, registryUsage)
			return errHelp
		}
		fmt.Fprint(env.stderr, registryUsage)
		return usagef("missing action (list, show, add, promote, rollback, deprecate, verify, gc)")
	}
	action, args := args[0], args[1:]
	fs := newFlagSet("registry "+action, env)
	dir := fs.String("dir", "", "registry directory (required)")
	model := fs.String("model", "", "model name")
	version := fs.String("version", "", "version, e.g. v1.2.0")
	jsonOut := fs.Bool("json", false, "print one JSON object")
	reason := fs.String("reason", "", "reason recorded with the change")
	var to, artifact, features, parent, maxAge *string
	var keepDep, keepCand *int
	switch action {
	case "list", "verify", "show", "promote", "deprecate":
	case "rollback":
		to = fs.String("to", "", "version to roll back to (default: the previous Active one)")
	case "add":
		artifact = fs.String("artifact", "", "forecaster artifact to store, as `perfpredict train --out` writes (required)")
		features = fs.String("features", "", "comma-separated feature schema")
		parent = fs.String("parent", "", "parent version (default: the Active one)")
	case "gc":
		keepDep = fs.Int("keep-deprecated", lifecycle.DefaultGCPolicy.KeepDeprecated, "newest Deprecated versions to keep")
		keepCand = fs.Int("keep-candidates", lifecycle.DefaultGCPolicy.KeepCandidates, "newest Candidates to keep")
		maxAge = fs.String("candidate-max-age", lifecycle.DefaultGCPolicy.CandidateMaxAge.String(), "Candidates younger than this are kept")
	default:
		fmt.Fprint(env.stderr, registryUsage)
		return usagef("unknown action %q", action)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("%s: --dir is required", action)
	}
	need := func(name, v string) error {
		if v == "" {
			return usagef("%s: --%s is required", action, name)
		}
		return nil
	}
	// Reading (and changing what exists) never creates a registry.
	open := lifecycle.Open
	if action == "add" {
		open = lifecycle.Create
	}
	reg, err := open(*dir)
	if err != nil {
		return registryErr(err)
	}
	out := env.stdout
	switch action {
	case "list", "verify":
		var infos []lifecycle.VersionInfo
		var verr error
		if action == "list" {
			infos, err = reg.List(*model)
		} else {
			infos, verr = reg.Verify(*model)
			if infos == nil {
				err = verr
			}
		}
		if err != nil {
			return registryErr(err)
		}
		if *jsonOut {
			res := map[string]any{"dir": *dir, "versions": infos}
			if action == "verify" {
				res["ok"] = verr == nil
			}
			if err := regJSON(out, res); err != nil {
				return err
			}
		} else {
			printVersions(out, infos)
		}
		if verr != nil {
			return verr
		}
		return nil
	case "show":
		if err := errors.Join(need("model", *model), need("version", *version)); err != nil {
			return err
		}
		info, err := reg.Get(*model, *version)
		var ce *lifecycle.CorruptError
		if err != nil && !errors.As(err, &ce) {
			return registryErr(err)
		}
		if *jsonOut {
			if werr := regJSON(out, map[string]any{"version": info}); werr != nil {
				return werr
			}
		} else {
			printVersion(out, info)
		}
		return err // a corrupt version is shown, then reported (exit 1)
	case "add":
		if err := errors.Join(need("model", *model), need("artifact", *artifact)); err != nil {
			return err
		}
		m := lifecycle.Manifest{Model: *model, Parent: *parent}
		if *version != "" {
			v, err := lifecycle.ParseVersion(*version)
			if err != nil {
				return usageErr(err)
			}
			m.Version = v
		}
		if *features != "" {
			m.Features = strings.Split(*features, ",")
		}
		info, err := reg.Add(m, *artifact)
		if err != nil {
			return registryErr(err)
		}
		return report(out, *jsonOut, map[string]any{"added": info}, "added %s %s (Candidate, h = 1..%d, %d networks, sha256 %s)\n",
			info.Model, info.Version, info.Recipe.Horizon, info.Members, info.CheckpointSHA[:12])
	case "promote":
		if err := errors.Join(need("model", *model), need("version", *version)); err != nil {
			return err
		}
		if *reason == "" {
			*reason = "promoted from the command line"
		}
		if err := reg.Promote(*model, *version, *reason); err != nil {
			return registryErr(err)
		}
		active, _ := reg.ActiveVersion(*model)
		return report(out, *jsonOut, map[string]any{"model": *model, "active": active}, "%s: %s is Active\n", *model, active)
	case "rollback":
		if err := need("model", *model); err != nil {
			return err
		}
		v, err := reg.Rollback(*model, *to, *reason)
		if err != nil {
			return registryErr(err)
		}
		return report(out, *jsonOut, map[string]any{"model": *model, "active": v}, "%s: rolled back, %s is Active\n", *model, v)
	case "deprecate":
		if err := errors.Join(need("model", *model), need("version", *version)); err != nil {
			return err
		}
		if err := reg.Deprecate(*model, *version, *reason); err != nil {
			return registryErr(err)
		}
		return report(out, *jsonOut, map[string]any{"model": *model, "deprecated": *version}, "%s %s: Deprecated\n", *model, *version)
	case "gc":
		age, err := time.ParseDuration(*maxAge)
		if err != nil {
			return usagef("gc: --candidate-max-age %q: %v", *maxAge, err)
		}
		removed, err := reg.GC(lifecycle.GCPolicy{KeepDeprecated: *keepDep, KeepCandidates: *keepCand, CandidateMaxAge: age})
		if err != nil {
			return registryErr(err)
		}
		if removed == nil {
			removed = []string{}
		}
		return report(out, *jsonOut, map[string]any{"removed": removed}, "removed %d: %s\n", len(removed), strings.Join(removed, ", "))
	}
	return nil
}

// registryErr makes a directory without a registry, unknown models and
// versions, and files that are not forecaster artifacts bad input (exit 2);
// the rest (corruption, I/O) stay runtime failures (exit 1).
func registryErr(err error) error {
	if errors.Is(err, lifecycle.ErrNoRegistry) {
		return usageErr(fmt.Errorf("%w; check --dir (only `registry add` creates a registry)", err))
	}
	if errors.Is(err, lifecycle.ErrNotFound) || errors.Is(err, lifecycle.ErrBadArtifact) {
		return usageErr(err)
	}
	return err
}

func report(w io.Writer, jsonOut bool, v any, format string, args ...any) error {
	if jsonOut {
		return regJSON(w, v)
	}
	_, err := fmt.Fprintf(w, format, args...)
	return err
}

func regJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func versionAccuracy(in lifecycle.VersionInfo) string {
	m := in.Test
	if m.N == 0 {
		m = in.Validation
	}
	if m.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*m.Accuracy5)
}

// printVersions prints the design's "Model Versioning" table.
func printVersions(w io.Writer, infos []lifecycle.VersionInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tVERSION\tDATE\tACCURACY\tSTATUS\tNOTE")
	for _, in := range infos {
		note := in.Reason
		if in.Problem != "" {
			note = "CORRUPT: " + in.Problem
		}
		if len(note) > 70 {
			note = note[:67] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", in.Model, in.Version, in.Created.Format("2006-01-02"), versionAccuracy(in), in.Status, note)
	}
	tw.Flush()
}

func printVersion(w io.Writer, in lifecycle.VersionInfo) {
	fmt.Fprintf(w, "%s %s  %s\n", in.Model, in.Version, in.Status)
	if in.Problem != "" {
		fmt.Fprintf(w, "  PROBLEM:    %s\n", in.Problem)
	}
	fmt.Fprintf(w, "  created:    %s\n", in.Created.Format(time.RFC3339))
	if in.Parent != "" {
		fmt.Fprintf(w, "  parent:     %s\n", in.Parent)
	}
	if !in.Data.From.IsZero() {
		fmt.Fprintf(w, "  data:       %s .. %s\n", in.Data.From.Format(time.RFC3339), in.Data.To.Format(time.RFC3339))
	}
	pm := func(name string, m lifecycle.Metrics) {
		if m.N > 0 {
			fmt.Fprintf(w, "  %-11s n=%d MAE=%.4g RMSE=%.4g MAPE=%.2f%% accuracy5=%.2f%%\n", name+":", m.N, m.MAE, m.RMSE, m.MAPE, 100*m.Accuracy5)
		}
	}
	pm("validation", in.Validation)
	pm("test", in.Test)
	if len(in.Features) > 0 {
		fmt.Fprintf(w, "  features:   %s\n", strings.Join(in.Features, ", "))
	}
	if r := in.Recipe; r != nil {
		fmt.Fprintf(w, "  forecaster: h = 1..%d, window %d, needs %d observations, %d networks\n", r.Horizon, r.Window, r.Needs(), in.Members)
	}
	fmt.Fprintf(w, "  artifact:   %s (%d bytes, sha256 %s)\n", in.CheckpointPath, in.CheckpointSize, in.CheckpointSHA)
	if in.Reason != "" {
		fmt.Fprintf(w, "  reason:     %s\n", in.Reason)
	}
	for _, n := range in.Notes {
		fmt.Fprintf(w, "  %s %-10s %s\n", n.Time.Format("2006-01-02 15:04"), n.Kind, n.Text)
	}
}
