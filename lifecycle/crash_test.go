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
			if errors.Is(err, ErrNotFound) {
				err = nil // another writer's GC removed it meanwhile
			}
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

// The crash test's scale comes from the environment, so that CI runs it in
// seconds and docs/RELIABILITY.md's run (1,000 kills) uses the same code.
const (
	crashKillsEnv   = "PERFPREDICT_CRASH_KILLS"   // SIGKILLs to send (default 40)
	crashWritersEnv = "PERFPREDICT_CRASH_WRITERS" // writer processes at once (default 3)
	crashBudgetEnv  = "PERFPREDICT_CRASH_BUDGET"  // time limit, a Go duration (default 10s)
)

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration such as 90s", name, v)
	}
	return d
}

// churner is one writer process of the crash test.
type churner struct {
	cmd    *exec.Cmd
	stderr *strings.Builder
}

// startChurner starts a writer on dir and waits until it has opened the
// registry.
func startChurner(t *testing.T, dir string, seed int, arts []string) churner {
	cmd := helperCmd(t, helperEnv+"=churn", "REG_DIR="+dir, "REG_SEED="+strconv.Itoa(seed),
		"REG_ARTIFACTS="+strings.Join(arts, string(filepath.ListSeparator)))
	out, _ := cmd.StdoutPipe()
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper did not start: %q %v: %s", line, err, stderr.String())
	}
	return churner{cmd, stderr}
}

// kill sends SIGKILL and checks that the writer was still running (it
// never stops on its own: an earlier exit is a failed registry call).
func (c churner) kill(t *testing.T, what string) {
	c.cmd.Process.Signal(syscall.SIGKILL)
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("%s: helper ended with %v before the kill: %s", what, err, c.stderr.String())
	}
}

// TestCrashAtRandomPoints runs several writer processes adding, promoting,
// rolling back and garbage-collecting in one registry, and kills one of
// them with SIGKILL at a random moment, again and again (a new writer
// takes its place). After every kill, holding the registry's lock so that
// the other writers pause, it checks that the registry reopens, that its
// index never goes back, that every indexed version verifies (no
// half-written version is ever visible), and that the model has exactly one
// Active version, the last of its activation history.
func TestCrashAtRandomPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the binary dozens of times")
	}
	kills := envInt(t, crashKillsEnv, 40)
	writers := envInt(t, crashWritersEnv, 3)
	budget := envDuration(t, crashBudgetEnv, 10*time.Second)
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
	seed := 0
	procs := make([]churner, writers)
	for i := range procs {
		seed++
		procs[i] = startChurner(t, dir, seed, arts)
	}
	defer func() {
		for _, c := range procs {
			if c.cmd != nil && c.cmd.ProcessState == nil {
				c.cmd.Process.Kill()
				c.cmd.Wait()
			}
		}
	}()
	start := time.Now()
	iters, debris, lastSeq := 0, 0, int64(0)
	changes := 0
	var worstCheck time.Duration
	for iters < kills && time.Since(start) < budget {
		iters++
		victim := rng.Intn(writers)
		time.Sleep(time.Duration(rng.Intn(25000)) * time.Microsecond)
		procs[victim].kill(t, fmt.Sprintf("kill %d", iters))

		t0 := time.Now()
		// Under the lock, staging debris can only be the dead writer's
		// (a live one removes its own before unlocking): the kill landed
		// inside a write.
		l, err := lockFile(filepath.Join(dir, lockName))
		if err != nil {
			t.Fatal(err)
		}
		if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) > 0 {
			debris++
		} else if ents, _ := filepath.Glob(filepath.Join(dir, ".index.json.tmp-*")); len(ents) > 0 {
			debris++
		}
		l.unlock()
		r, err := Open(dir)
		if err != nil {
			t.Fatalf("kill %d: reopen: %v", iters, err)
		}
		// The check holds the lock: a live writer's GC could otherwise
		// remove a version between our reading of the index and its files.
		l, err = lockFile(filepath.Join(dir, lockName))
		if err != nil {
			t.Fatal(err)
		}
		ix, err := r.readIndex()
		if err != nil {
			l.unlock()
			t.Fatalf("kill %d: %v", iters, err)
		}
		if ix.Seq < lastSeq {
			l.unlock()
			t.Fatalf("kill %d: index went back from seq %d to %d", iters, lastSeq, ix.Seq)
		}
		changes += int(ix.Seq - lastSeq)
		lastSeq = ix.Seq
		infos, verr := r.Verify("")
		nActive := 0
		for _, in := range infos {
			if in.Status == Active {
				nActive++
			}
		}
		ms := ix.Models["m"]
		_, aerr := r.Active("m")
		l.unlock()
		if verr != nil {
			t.Fatalf("kill %d: indexed version fails verification: %v", iters, verr)
		}
		if nActive != 1 || aerr != nil {
			t.Fatalf("kill %d: %d Active versions (%v)", iters, nActive, aerr)
		}
		if n := len(ms.Activations); n == 0 || ms.Activations[n-1] != ms.Active {
			t.Fatalf("kill %d: Active %s is not the last activation of %v", iters, ms.Active, ms.Activations)
		}
		worstCheck = max(worstCheck, time.Since(t0))
		seed++
		procs[victim] = startChurner(t, dir, seed, arts)
	}
	for i, c := range procs {
		c.kill(t, "final kill")
		procs[i].cmd = nil
	}
	elapsed := time.Since(start)
	// Leftover orphans go with the next GC, and then everything verifies.
	r, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.GC(GCPolicy{KeepDeprecated: 2, KeepCandidates: 2}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "versions", "m"))
	infos, err := r.Verify("m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(infos) {
		t.Errorf("%d version directories for %d indexed versions after GC", len(ents), len(infos))
	}
	t.Logf("%d writers, %d kills in %v: %d landed inside a write (debris left), %d committed registry changes; "+
		"every reopen had 1 Active version and no corrupt one (slowest reopen and check %v)",
		writers, iters, elapsed.Round(time.Millisecond), debris, changes, worstCheck.Round(time.Millisecond))
	if iters < kills/4 {
		t.Errorf("only %d of %d kills fit in %v", iters, kills, budget)
	}
	if iters >= 20 && debris == 0 {
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
