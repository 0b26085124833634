//go:build cuda && cgo

package cuda

/*
#include "capi.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/novacron/perfpredict/internal/device"
)

// Device is an NVIDIA GPU driven through cudart, cuBLAS and NVRTC-compiled
// kernels. Only one device per process is supported (the driver context is
// process-wide state of the C side).
type Device struct {
	name         string
	ordinal      int
	major, minor int

	mu     sync.Mutex
	allocs map[uint64]int // root allocations: device pointer -> bytes
	closed bool

	precision Precision

	queues []*queue
	module C.uint64_t
	fns    [numKernels]C.uint64_t
	// zeroer is a stream of the device's own that zeroes new buffers, so
	// that Alloc works while a queue is capturing.
	zeroer C.uint64_t
}

// captures counts the stream captures in progress in the process. CUDA
// invalidates every capture under way, whichever goroutine or Device made
// it, when a call synchronises the device: cudaFree, destroying a stream,
// an event or a cuBLAS handle, unloading a module. So Free defers its
// cudaFree until no capture is in progress, and Close waits for that (a
// model dropped and cleaned up by the garbage collector must not break the
// graph another model is recording).
var captures struct {
	mu       sync.Mutex
	idle     sync.Cond // broadcast when active drops to 0
	active   int
	deferred []C.uint64_t // device pointers to free once active is 0
}

func init() { captures.idle.L = &captures.mu }

// endCaptureLocked counts a capture as ended and, at the last one, frees
// what Free deferred; captures.mu is held. cudaFree fails only on a pointer
// it did not allocate (Free checks that) or on a context already broken,
// which the next call reports: its errors here are dropped.
func endCaptureLocked() {
	captures.active--
	if captures.active > 0 {
		return
	}
	for _, p := range captures.deferred {
		C.pp_free(p)
	}
	captures.deferred = captures.deferred[:0]
	captures.idle.Broadcast()
}

// Open loads the libraries (once per process), opens the device
// PERFPREDICT_CUDA_DEVICE (default 0) with fp32 matrix products, compiles
// the kernels for its compute capability and creates the queues. Every
// failure is a returned error with CUDA's error string.
func Open() (device.Device, error) { return OpenPrecision(FP32) }

// OpenPrecision is Open with the matrix products' precision given.
func OpenPrecision(p Precision) (device.Device, error) {
	switch p {
	case FP32, TF32, BF16:
	default:
		return nil, fmt.Errorf("cuda: precision %q: want fp32, tf32 or bf16", p)
	}
	if err := loadLibraries(); err != nil {
		return nil, err
	}
	if p == BF16 && C.pp_has_gemm_ex() == 0 {
		return nil, errors.New("cuda: the bf16 precision needs cublasGemmStridedBatchedEx, which this libcublas lacks")
	}
	ordinal := 0
	if s := os.Getenv("PERFPREDICT_CUDA_DEVICE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("cuda: PERFPREDICT_CUDA_DEVICE=%q is not a device ordinal", s)
		}
		ordinal = n
	}
	var name [256]C.char
	var major, minor, drv, rt C.int
	if err := check("open device "+strconv.Itoa(ordinal), C.pp_open_device(C.int(ordinal), &name[0], C.int(len(name)), &major, &minor, &drv, &rt)); err != nil {
		return nil, err
	}
	if drv < rt {
		return nil, fmt.Errorf("cuda: the driver supports CUDA %s but the libraries are CUDA %s: update the driver or point %s at older libraries",
			cudaVersion(int(drv)), cudaVersion(int(rt)), LibsEnv)
	}
	d := &Device{ordinal: ordinal, major: int(major), minor: int(minor), allocs: map[uint64]int{}, precision: p}
	d.name = fmt.Sprintf("cuda:%d %s (sm_%d%d, driver %s, runtime %s)", ordinal, C.GoString(&name[0]), d.major, d.minor,
		cudaVersion(int(drv)), cudaVersion(int(rt)))
	if p != FP32 {
		d.name = strings.TrimSuffix(d.name, ")") + ", " + string(p) + " matrix products)"
	}
	if err := d.loadKernels(); err != nil {
		return nil, err
	}
	if err := check("cudaStreamCreateWithFlags", C.pp_stream_create(&d.zeroer)); err != nil {
		return nil, errors.Join(err, d.Close())
	}
	mathMode := C.int(0) // CUBLAS_DEFAULT_MATH: full fp32
	if p != FP32 {
		// bf16: the float32 products beside the LSTM's bfloat16 ones
		// (attention, the head) use TF32, finer than bfloat16.
		mathMode = 3 // CUBLAS_TF32_TENSOR_OP_MATH
	}
	for i := 0; i < numQueues; i++ {
		q := &queue{dev: d, id: i}
		d.queues = append(d.queues, q)
		if err := check("cudaStreamCreateWithFlags", C.pp_stream_create(&q.stream)); err != nil {
			return nil, errors.Join(err, d.Close())
		}
		if err := check("cudaEventCreateWithFlags", C.pp_event_create(&q.event)); err != nil {
			return nil, errors.Join(err, d.Close())
		}
		if err := check("cudaMalloc (cuBLAS workspace)", C.pp_malloc(&q.workspace, blasWorkspace)); err != nil {
			return nil, errors.Join(err, d.Close())
		}
		if err := check("cublasCreate", C.pp_cublas_create(&q.blas, q.stream, q.workspace, blasWorkspace, mathMode)); err != nil {
			return nil, errors.Join(err, d.Close())
		}
	}
	return d, nil
}

func cudaVersion(v int) string { return fmt.Sprintf("%d.%d", v/1000, v%1000/10) }

var (
	ptxMu    sync.Mutex
	ptxCache = map[string][]byte{} // compute capability -> PTX
)

// compileKernels compiles kernels.cu once per process and architecture.
func compileKernels(arch string) ([]byte, error) {
	ptxMu.Lock()
	defer ptxMu.Unlock()
	if ptx, ok := ptxCache[arch]; ok {
		return ptx, nil
	}
	src := C.CString(kernelSource)
	defer C.free(unsafe.Pointer(src))
	name := C.CString("kernels.cu")
	defer C.free(unsafe.Pointer(name))
	opts := []string{"--gpu-architecture=" + arch}
	copts := make([]*C.char, len(opts))
	for i, o := range opts {
		copts[i] = C.CString(o)
		defer C.free(unsafe.Pointer(copts[i]))
	}
	// The option array lives in C memory: cgo forbids passing Go memory
	// that holds pointers.
	carr := (**C.char)(C.malloc(C.size_t(len(copts)) * C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(carr))
	copy(unsafe.Slice(carr, len(copts)), copts)
	var ptx, log *C.char
	code := C.pp_compile(src, name, carr, C.int(len(copts)), &ptx, &log)
	defer C.free(unsafe.Pointer(ptx))
	defer C.free(unsafe.Pointer(log))
	if err := check("nvrtcCompileProgram", code); err != nil {
		if log != nil {
			return nil, fmt.Errorf("%w; compiling kernels.cu for %s:\n%s", err, arch, C.GoString(log))
		}
		return nil, fmt.Errorf("%w (compiling kernels.cu for %s)", err, arch)
	}
	if ptx == nil {
		return nil, fmt.Errorf("cuda: NVRTC returned no PTX for %s", arch)
	}
	out := []byte(C.GoString(ptx))
	ptxCache[arch] = append(out, 0)
	return ptxCache[arch], nil
}

func (d *Device) loadKernels() error {
	arch := fmt.Sprintf("compute_%d%d", d.major, d.minor)
	ptx, err := compileKernels(arch)
	if err != nil {
		return err
	}
	cptx := C.CBytes(ptx)
	defer C.free(cptx)
	if err := check("cuModuleLoadData", C.pp_module_load(&d.module, (*C.char)(cptx))); err != nil {
		return fmt.Errorf("%w (loading the %s PTX of kernels.cu)", err, arch)
	}
	for i, n := range kernelNames {
		cn := C.CString(n)
		err := check("cuModuleGetFunction "+n, C.pp_module_function(&d.fns[i], d.module, cn))
		C.free(unsafe.Pointer(cn))
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *Device) Name() string { return d.name }

// PrefersBF16 reports whether the device was opened for bfloat16 inference:
// device.NewModel then runs its LSTM's products in bfloat16 when predicting.
func (d *Device) PrefersBF16() bool { return d.precision == BF16 }

// buffer is device memory: a root allocation or a view of one.
type buffer struct {
	dev  *Device
	ptr  uint64
	n    int
	root bool
}

func (b *buffer) Len() int { return b.n }

func (b *buffer) Slice(off, n int) device.Buffer {
	if off < 0 || n < 0 || off+n > b.n {
		panic(fmt.Sprintf("device: Slice(%d, %d) of a buffer of %d values", off, n, b.n))
	}
	return &buffer{dev: b.dev, ptr: b.ptr + 4*uint64(off), n: n}
}

// ptr returns b's device address (0 for nil); b must be this device's.
func (d *Device) ptr(b device.Buffer) C.uint64_t {
	if b == nil {
		return 0
	}
	cb, ok := b.(*buffer)
	if !ok || cb.dev != d {
		panic(fmt.Sprintf("device: a %T from another device passed to %s", b, d.name))
	}
	return C.uint64_t(cb.ptr)
}

func (d *Device) Alloc(n int) (device.Buffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("cuda: Alloc(%d): negative size", n)
	}
	if n == 0 {
		return &buffer{dev: d}, nil
	}
	bytes := 4 * n
	var p C.uint64_t
	if err := check("cudaMalloc", C.pp_malloc(&p, C.size_t(bytes))); err != nil {
		var ce *Error
		if errors.As(err, &ce) && ce.OutOfMemory() {
			var free, total C.size_t
			if C.pp_mem_info(&free, &total) == 0 {
				return nil, fmt.Errorf("%w: %d MiB requested, %d MiB free of %d MiB", err, bytes>>20, uint64(free)>>20, uint64(total)>>20)
			}
		}
		return nil, fmt.Errorf("%w (%d bytes)", err, bytes)
	}
	if err := check("cudaMemsetAsync", C.pp_memset_sync(p, C.size_t(bytes), d.zeroer)); err != nil {
		C.pp_free(p)
		return nil, err
	}
	d.mu.Lock()
	d.allocs[uint64(p)] = bytes
	d.mu.Unlock()
	return &buffer{dev: d, ptr: uint64(p), n: n, root: true}, nil
}

func (d *Device) Free(b device.Buffer) error {
	cb, ok := b.(*buffer)
	if !ok || cb.dev != d {
		return fmt.Errorf("cuda: Free of a %T that is not this device's", b)
	}
	if cb.n == 0 && cb.ptr == 0 {
		return nil
	}
	if !cb.root {
		return errors.New("cuda: Free of a Slice (free the buffer Alloc returned)")
	}
	d.mu.Lock()
	_, live := d.allocs[cb.ptr]
	delete(d.allocs, cb.ptr)
	d.mu.Unlock()
	if !live {
		return errors.New("cuda: Free of a buffer already freed")
	}
	captures.mu.Lock()
	defer captures.mu.Unlock()
	if captures.active > 0 {
		captures.deferred = append(captures.deferred, C.uint64_t(cb.ptr))
		return nil
	}
	return check("cudaFree", C.pp_free(C.uint64_t(cb.ptr)))
}

func (d *Device) Queues() int { return len(d.queues) }

func (d *Device) Queue(i int) device.Queue {
	if i < 0 || i >= len(d.queues) {
		panic(fmt.Sprintf("device: Queue(%d) of %d", i, len(d.queues)))
	}
	return d.queues[i]
}

func (d *Device) queue(q device.Queue) *queue {
	cq, ok := q.(*queue)
	if !ok || cq.dev != d {
		panic(fmt.Sprintf("device: a %T from another device passed to %s", q, d.name))
	}
	return cq
}

func (d *Device) Sync() error {
	var errs []error
	for _, q := range d.queues {
		errs = append(errs, q.Sync())
	}
	return errors.Join(errs...)
}

func (d *Device) BeginCapture(dq device.Queue) error {
	q := d.queue(dq)
	// A queue that failed keeps its error (see Sync); a capture on a device
	// whose queues failed would mix that error into the capture's.
	for _, o := range d.queues {
		if err := o.failed(); err != nil {
			return fmt.Errorf("cuda: BeginCapture on a device whose queue %d failed: %w", o.id, err)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.capturing {
		return errors.New("cuda: BeginCapture: this queue is already capturing")
	}
	captures.mu.Lock()
	defer captures.mu.Unlock()
	if err := check("cudaStreamBeginCapture", C.pp_begin_capture(q.stream)); err != nil {
		return err
	}
	captures.active++
	q.capturing = true
	return nil
}

// EndCapture ends the capture and instantiates the graph. Work enqueued
// while capturing is recorded, not run, so its failures are the capture's:
// they are returned here (with the reason the capture broke, when it did)
// and cleared from the queues, which stay usable.
func (d *Device) EndCapture(dq device.Queue) (device.Graph, error) {
	q := d.queue(dq)
	q.mu.Lock()
	if !q.capturing {
		q.mu.Unlock()
		return nil, errors.New("cuda: EndCapture on a queue that is not capturing")
	}
	q.capturing = false
	q.mu.Unlock()
	var exec C.uint64_t
	err := check("cudaStreamEndCapture/cudaGraphInstantiate", C.pp_end_capture(q.stream, &exec))
	captures.mu.Lock()
	endCaptureLocked()
	captures.mu.Unlock()
	var enqueued []error
	for _, o := range d.queues {
		o.mu.Lock()
		if o.err != nil {
			enqueued = append(enqueued, fmt.Errorf("queue %d while capturing: %w", o.id, o.err))
			o.err = nil
		}
		o.mu.Unlock()
	}
	if err != nil || len(enqueued) > 0 {
		if exec != 0 {
			C.pp_graph_destroy(exec)
		}
		return nil, errors.Join(append(enqueued, err)...)
	}
	return &graph{dev: d, exec: exec}, nil
}

func (d *Device) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	allocs := d.allocs
	d.allocs = map[uint64]int{}
	d.mu.Unlock()
	var errs []error
	for _, q := range d.queues {
		if q.isCapturing() {
			g, err := d.EndCapture(q)
			if g != nil {
				errs = append(errs, g.Close())
			}
			errs = append(errs, err)
		}
	}
	// What follows synchronises the device: wait for the captures of other
	// Devices and goroutines to end.
	captures.mu.Lock()
	defer captures.mu.Unlock()
	for captures.active > 0 {
		captures.idle.Wait()
	}
	for _, q := range d.queues {
		if q.stream != 0 {
			errs = append(errs, check("cudaStreamSynchronize", C.pp_stream_sync(q.stream)))
		}
		if q.blas != 0 {
			errs = append(errs, check("cublasDestroy", C.pp_cublas_destroy(q.blas)))
		}
		if q.workspace != 0 {
			errs = append(errs, check("cudaFree", C.pp_free(q.workspace)))
		}
		if q.event != 0 {
			errs = append(errs, check("cudaEventDestroy", C.pp_event_destroy(q.event)))
		}
		if q.stream != 0 {
			errs = append(errs, check("cudaStreamDestroy", C.pp_stream_destroy(q.stream)))
		}
	}
	for p := range allocs {
		errs = append(errs, check("cudaFree", C.pp_free(C.uint64_t(p))))
	}
	if d.zeroer != 0 {
		errs = append(errs, check("cudaStreamDestroy", C.pp_stream_destroy(d.zeroer)))
	}
	if d.module != 0 {
		errs = append(errs, check("cuModuleUnload", C.pp_module_unload(d.module)))
	}
	return errors.Join(errs...)
}

// graph is an instantiated CUDA graph.
type graph struct {
	dev  *Device
	exec C.uint64_t
}

func (g *graph) Launch(dq device.Queue) error {
	if g.exec == 0 {
		return errors.New("cuda: Launch of a closed graph")
	}
	q := g.dev.queue(dq)
	return q.fail(check("cudaGraphLaunch", C.pp_graph_launch(g.exec, q.stream)))
}

func (g *graph) Close() error {
	if g.exec == 0 {
		return nil
	}
	err := check("cudaGraphExecDestroy", C.pp_graph_destroy(g.exec))
	g.exec = 0
	return err
}
