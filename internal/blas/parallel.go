package blas

import (
	"runtime"
	"sync"

	"github.com/novacron/perfpredict/asm"
)

// Parallel products: C is cut into blocks of whole micro-tile columns (or
// rows, for tall C and for packed B), one per goroutine. The goroutines are a
// fixed pool started on first use and the job descriptions are pooled, so a
// parallel product allocates nothing in steady state either.

// parallelThreshold is the product size m*n*k from which Sgemm splits the
// work over goroutines (about 17 µs of work on one core here): below it,
// waking a second goroutine costs about what it saves.
const parallelThreshold = 1 << 22

// workers is how many goroutines a product of this size should use.
func workers(m, n, k int) int {
	p := runtime.GOMAXPROCS(0)
	if p <= 1 || m*n*k < parallelThreshold {
		return 1
	}
	return p
}

// gemmJob is one product being computed by several goroutines.
type gemmJob struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	pb             *PackedB

	splitN             bool
	unit, units, parts int
	wg                 sync.WaitGroup
}

var jobPool = sync.Pool{New: func() any { return new(gemmJob) }}

func newJob(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, pb *PackedB, beta float32, c []float32, ldc int) *gemmJob {
	j := jobPool.Get().(*gemmJob)
	*j = gemmJob{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc, pb: pb}
	return j
}

// run computes the job in at most w parts, by columns when splitN, and
// returns it to the pool.
func (j *gemmJob) run(w int, splitN bool) {
	mr, nr := asm.GemmTile()
	j.splitN = splitN
	if splitN {
		j.unit, j.units = nr, (j.n+nr-1)/nr
	} else {
		j.unit, j.units = mr, (j.m+mr-1)/mr
	}
	j.parts = min(w, j.units)
	startWorkers.Do(func() {
		work = make(chan workItem, 4*runtime.NumCPU())
		for range max(runtime.NumCPU(), runtime.GOMAXPROCS(0)) - 1 {
			go worker()
		}
	})
	j.wg.Add(j.parts - 1)
	for t := 1; t < j.parts; t++ {
		work <- workItem{j, t}
	}
	j.part(0)
	j.wg.Wait()
	*j = gemmJob{}
	jobPool.Put(j)
}

// part computes block t of the job's parts.
func (j *gemmJob) part(t int) {
	lo, hi := t*j.units/j.parts*j.unit, (t+1)*j.units/j.parts*j.unit
	if j.splitN {
		hi = min(hi, j.n)
		if lo < hi {
			sgemm(j.transA, j.transB, j.m, hi-lo, j.k, j.alpha, j.a, j.lda, j.b[offB(j.transB, lo, j.ldb):], j.ldb,
				nil, j.beta, j.c[lo:], j.ldc)
		}
		return
	}
	hi = min(hi, j.m)
	if lo < hi {
		sgemm(j.transA, j.transB, hi-lo, j.n, j.k, j.alpha, j.a[offA(j.transA, lo, j.lda):], j.lda, j.b, j.ldb,
			j.pb, j.beta, j.c[lo*j.ldc:], j.ldc)
	}
}

type workItem struct {
	job  *gemmJob
	part int
}

var (
	startWorkers sync.Once
	work         chan workItem
)

// worker computes parts of jobs for ever; it never blocks on anything but
// the queue, so every queued part is eventually done.
func worker() {
	for it := range work {
		it.job.part(it.part)
		it.job.wg.Done()
	}
}
