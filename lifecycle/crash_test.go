package lifecycle

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary re-executes itself as a registry writer when this
// variable names a role; see TestMain.
const helperEnv = "PERFPREDICT_LIFECYCLE_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "churn":
		os.Exit(helperChurn(os.Getenv("REG_DIR"), os.Getenv("REG_SEED"), filepath.SplitList(os.Getenv("REG_ARTIFACTS"))))
	case "writer":
		n, _ := strconv.Atoi(os.Getenv("REG_N"))
		os.Exit(helperWriter(os.Getenv("REG_DIR"), os.Getenv("REG_MODEL"), os.Getenv("REG_ARTIFACTS"), n))
	default:
		fmt.Fprintln(os.Stderr, "unknown helper role")
		os.Exit(3)
	}
}

// helperChurn adds, promotes, rolls back, deprecates-by-promotion and
// garbage-collects forever, until it is killed.
func helperChurn(dir, seed string, artifacts []string) int {
	s, _ := strconv.ParseInt(seed, 10, 64)
	rng := rand.New(rand.NewSource(s))
	r, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	for {
		// Artifacts of 3 to 293 KiB, so that decoding,
		// writing and hashing take a while.
		src := artifacts[rng.Intn(len(artifacts))]
		in, err := r.Add(Manifest{Model: "m", Features: []string{"value"}}, src)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		switch k := rng.Intn(10); {
		case k < 6:
			err = r.Promote("m", in.Version.String(), "churn")
		case k < 8:
			_, err = r.Rollback("m", "", "churn")
			if err != nil && strings.Contains(err.Error(), "no earlier") {
				err = nil
			}
		default:
			_, err = r.GC(GCPolicy{KeepDeprecated: 2, KeepCandidates: 2})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
}

func helperWriter(dir, model, artifact string, n int) int {
	r, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; i < n; i++ {
		in, err := r.Add(Manifest{Model: "shared", Extra: map[string]string{"writer": model}}, artifact)
		if err == nil {
			err = r.Promote("shared", in.Version.String(), model)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// crashArtifacts writes forecaster artifacts of three sizes (hidden 4, 32
// and 80: 3, 52 and 293 KiB) into dir.
func crashArtifacts(t *testing.T, dir string) []string {
	var paths []string
	for _, hidden := range []int{4, 32, 80} {
		p := filepath.Join(dir, fmt.Sprintf("forecaster-h%d.zip", hidden))
		if err := trainedForecaster(t, "smooth", hidden, 1, 1).Save(p); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func helperCmd(t *testing.T, env ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// TestCrashAtRandomPoints kills a writer with SIGKILL at random moments in
// its add/promote/rollback/GC loop and checks, after every kill, that the
// registry opens, has exactly one Active version, and that every indexed
// version verifies (no half-written version is ever visible).
func TestCrashAtRandomPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the binary hundreds of times")
	}
	base := t.TempDir()
	dir := filepath.Join(base, "reg")
	r, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	arts := crashArtifacts(t, base)
	in, _ := r.Add(Manifest{Model: "m"}, arts[0])
	if err := r.Promote("m", in.Version.String(), "seed"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	const maxIters, budget = 400, 15 * time.Second
	start := time.Now()
	iters, debris, lastSeq := 0, 0, int64(0)
	changes := 0
	for iters < maxIters && time.Since(start) < budget {
		iters++
		cmd := helperCmd(t, helperEnv+"=churn", "REG_DIR="+dir, "REG_SEED="+strconv.Itoa(iters),
			"REG_ARTIFACTS="+strings.Join(arts, string(filepath.ListSeparator)))
		out, _ := cmd.StdoutPipe()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper did not start: %q %v: %s", line, err, stderr.String())
		}
		time.Sleep(time.Duration(rng.Intn(25000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("iteration %d: helper ended with %v before the kill: %s", iters, err, stderr.String())
		}

		// Debris means the kill landed inside a write.
		if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) > 0 {
			debris++
		} else if ents, _ := filepath.Glob(filepath.Join(dir, ".index.json.tmp-*")); len(ents) > 0 {
			debris++
		}
		r, err := Open(dir)
		if err != nil {
			t.Fatalf("iteration %d: reopen: %v", iters, err)
		}
		ix, err := r.readIndex()
		if err != nil {
			t.Fatal(err)
		}
		if ix.Seq < lastSeq {
			t.Fatalf("iteration %d: index went back from seq %d to %d", iters, lastSeq, ix.Seq)
		}
		changes += int(ix.Seq - lastSeq)
		lastSeq = ix.Seq
		infos, err := r.Verify("m")
		if err != nil {
			t.Fatalf("iteration %d: indexed version fails verification: %v", iters, err)
		}
		nActive := 0
		for _, in := range infos {
			if in.Status == Active {
				nActive++
			}
		}
		if nActive != 1 {
			t.Fatalf("iteration %d: %d Active versions", iters, nActive)
		}
		if _, err := r.Active("m"); err != nil {
			t.Fatalf("iteration %d: active: %v", iters, err)
		}
	}
	// Leftover orphans go with the next GC, and then everything verifies.
	if _, err := r.GC(GCPolicy{KeepDeprecated: 2, KeepCandidates: 2}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "versions", "m"))
	infos, _ := r.List("m")
	if len(ents) != len(infos) {
		t.Errorf("%d version directories for %d indexed versions after GC", len(ents), len(infos))
	}
	t.Logf("%d kills in %v: %d landed inside a write (debris left), %d committed registry changes; all reopened with 1 Active and no corrupt version",
		iters, time.Since(start).Round(time.Millisecond), debris, changes)
	if iters < 100 {
		t.Errorf("only %d iterations fit in %v", iters, budget)
	}
	if debris == 0 {
		t.Errorf("no kill landed inside a write; the test did not exercise crashes")
	}
}

// TestTwoProcessWriters runs two processes adding and promoting in the same
// registry; without the file lock one's index replacement would drop the
// other's versions.
func TestTwoProcessWriters(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "reg")
	if _, err := Create(dir); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var cmds []*exec.Cmd
	for i, who := range []string{"alpha", "beta"} {
		cmd := helperCmd(t, helperEnv+"=writer", "REG_DIR="+dir, "REG_MODEL="+who, "REG_N="+strconv.Itoa(n),
			"REG_ARTIFACTS="+writeArtifact(t, base, uint64(1+i)))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	r, _ := Open(dir)
	infos, err := r.Verify("shared")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2*n {
		t.Fatalf("%d versions, want %d", len(infos), 2*n)
	}
	ix, _ := r.readIndex()
	if got := len(ix.Models["shared"].Activations); got != 2*n {
		t.Fatalf("%d activations recorded, want %d", got, 2*n)
	}
	nActive := 0
	for _, in := range infos {
		if in.Status == Active {
			nActive++
		}
	}
	if nActive != 1 {
		t.Fatalf("%d Active", nActive)
	}
}
