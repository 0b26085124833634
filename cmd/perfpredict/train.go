package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/novacron/perfpredict/baseline"
)

func init() {
	register(&command{name: "train", summary: "train on metrics (default: the NAB series in testdata/) and print the accuracy table against the baselines", run: runTrain})
}

// defaultSeries are the 13 NAB series of the project's published comparison
// (PROTOCOL.md), relative to testdata/nab.
var defaultSeries = []string{
	"realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv",
	"realAWSCloudwatch/ec2_cpu_utilization_53ea38.csv",
	"realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv",
	"realAWSCloudwatch/ec2_cpu_utilization_77c1ca.csv",
	"realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv",
	"realAWSCloudwatch/ec2_cpu_utilization_fe7f93.csv",
	"realAWSCloudwatch/ec2_disk_write_bytes_c0d644.csv",
	"realAWSCloudwatch/ec2_network_in_257a54.csv",
	"realAWSCloudwatch/elb_request_count_8c0756.csv",
	"realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv",
	"realKnownCause/cpu_utilization_asg_misconfiguration.csv",
	"realKnownCause/ec2_request_latency_system_failure.csv",
	"realKnownCause/machine_temperature_system_failure.csv",
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// parseHorizons reads "1,12" into ascending distinct horizons >= 1.
func parseHorizons(v string) ([]int, error) {
	var hs []int
	for _, f := range strings.Split(v, ",") {
		h, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || h < 1 {
			return nil, fmt.Errorf("--horizon: %q is not a positive integer", f)
		}
		if !slices.Contains(hs, h) {
			hs = append(hs, h)
		}
	}
	slices.Sort(hs)
	return hs, nil
}

// findTestdata looks for testdata/nab in the working directory and its
// parents, so the default command works from anywhere in the repository.
func findTestdata() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 6 {
		p := filepath.Join(dir, "testdata", "nab")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("no --data given and testdata/nab not found in this directory or its parents (run from the repository, or pass --data FILE)")
}

// loadSeries reads and checks every input before any work starts: a missing
// target column, too few steps for the window plus the largest horizon, or
// constant values are bad input (exit 2).
func loadSeries(paths []string, target string, hs []int) ([]baseline.Series, error) {
	maxH := 0
	for _, h := range hs {
		maxH = max(maxH, h)
	}
	var out []baseline.Series
	for _, p := range paths {
		s, err := baseline.LoadCSV(p, target)
		if err != nil {
			return nil, usageErr(err)
		}
		if err := baseline.CheckSeries(s, maxH); err != nil {
			return nil, usagef("%s: %v", p, strings.TrimPrefix(err.Error(), s.Name+": "))
		}
		if _, err := baseline.SeasonFromCadence(s.Times); err != nil {
			return nil, usagef("%s: %v", p, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func runTrain(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("train", env)
	var data stringList
	fs.Var(&data, "data", "CSV `file` with a timestamp column and the target column (repeatable; default: the 13 NAB series in testdata/nab)")
	target := fs.String("target", "", "target column (default: \"value\", or the only column besides the timestamp)")
	horizon := fs.String("horizon", "1,12", "forecast horizons in steps, comma-separated")
	asJSON := fs.Bool("json", false, "print one JSON object {\"series\": [...], \"summary\": {...}}")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	hs, err := parseHorizons(*horizon)
	if err != nil {
		return usageErr(err)
	}
	paths := []string(data)
	if len(paths) == 0 {
		dir, err := findTestdata()
		if err != nil {
			return usageErr(err)
		}
		for _, p := range defaultSeries {
			paths = append(paths, filepath.Join(dir, p))
		}
	}
	series, err := loadSeries(paths, *target, hs)
	if err != nil {
		return err
	}
	// The model joins the table here once it is wired (modelForecaster).
	rep, err := evaluateAll(ctx, env.stderr, series, hs, nil)
	if err != nil {
		return err
	}
	if *asJSON {
		return rep.writeJSON(env.stdout)
	}
	rep.writeTable(env.stdout)
	return nil
}
