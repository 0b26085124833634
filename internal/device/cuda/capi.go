//go:build cuda && cgo

package cuda

// The C side: the CUDA entry points this backend uses, declared here (no
// CUDA headers needed), loaded with dlopen/dlsym into a table of function
// pointers, and thin wrappers that Go calls. Every handle and device pointer
// crosses into Go as a uint64_t, so no Go pointer ever holds device memory.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "capi.h"

typedef int pp_err; // cudaError_t, cublasStatus_t, nvrtcResult and CUresult are C enums

struct pp_api {
	// libcudart
	pp_err (*cudaGetDeviceCount)(int*);
	pp_err (*cudaSetDevice)(int);
	pp_err (*cudaDeviceGetAttribute)(int*, int, int);
	pp_err (*cudaMalloc)(void**, size_t);
	pp_err (*cudaFree)(void*);
	pp_err (*cudaMemcpyAsync)(void*, const void*, size_t, int, void*);
	pp_err (*cudaMemsetAsync)(void*, int, size_t, void*);
	pp_err (*cudaStreamCreateWithFlags)(void**, unsigned);
	pp_err (*cudaStreamDestroy)(void*);
	pp_err (*cudaStreamSynchronize)(void*);
	pp_err (*cudaEventCreateWithFlags)(void**, unsigned);
	pp_err (*cudaEventRecord)(void*, void*);
	pp_err (*cudaStreamWaitEvent)(void*, void*, unsigned);
	pp_err (*cudaEventDestroy)(void*);
	const char* (*cudaGetErrorString)(pp_err);
	pp_err (*cudaGetLastError)(void);
	pp_err (*cudaMemGetInfo)(size_t*, size_t*);
	pp_err (*cudaDriverGetVersion)(int*);
	pp_err (*cudaRuntimeGetVersion)(int*);
	pp_err (*cudaStreamBeginCapture)(void*, int);
	pp_err (*cudaStreamEndCapture)(void*, void**);
	pp_err (*cudaGraphInstantiateWithFlags)(void**, void*, unsigned long long);
	pp_err (*cudaGraphLaunch)(void*, void*);
	pp_err (*cudaGraphExecDestroy)(void*);
	pp_err (*cudaGraphDestroy)(void*);
	// libcublas
	pp_err (*cublasCreate_v2)(void**);
	pp_err (*cublasDestroy_v2)(void*);
	pp_err (*cublasSetStream_v2)(void*, void*);
	pp_err (*cublasSetMathMode)(void*, int);
	pp_err (*cublasSgemmStridedBatched)(void*, int, int, int, int, int, const float*, const float*, int, long long,
	                                    const float*, int, long long, const float*, float*, int, long long, int);
	pp_err (*cublasGemmStridedBatchedEx)(void*, int, int, int, int, int, const void*, const void*, int, int, long long,
	                                     const void*, int, int, long long, const void*, void*, int, int, long long, int,
	                                     int, int); // optional: the bf16 precision needs it
	pp_err (*cublasSetWorkspace_v2)(void*, void*, size_t);   // optional
	const char* (*cublasGetStatusString)(pp_err);            // optional
	// libnvrtc
	pp_err (*nvrtcCreateProgram)(void**, const char*, const char*, int, const char* const*, const char* const*);
	pp_err (*nvrtcCompileProgram)(void*, int, const char* const*);
	pp_err (*nvrtcGetPTXSize)(void*, size_t*);
	pp_err (*nvrtcGetPTX)(void*, char*);
	pp_err (*nvrtcGetProgramLogSize)(void*, size_t*);
	pp_err (*nvrtcGetProgramLog)(void*, char*);
	pp_err (*nvrtcDestroyProgram)(void**);
	const char* (*nvrtcGetErrorString)(pp_err);
	pp_err (*nvrtcVersion)(int*, int*);
	// libcuda, the driver
	pp_err (*cuInit)(unsigned);
	pp_err (*cuDeviceGet)(int*, int);
	pp_err (*cuDeviceGetName)(char*, int, int);
	pp_err (*cuDevicePrimaryCtxRetain)(void**, int);
	pp_err (*cuCtxSetCurrent)(void*);
	pp_err (*cuModuleLoadData)(void**, const void*);
	pp_err (*cuModuleGetFunction)(void**, void*, const char*);
	pp_err (*cuModuleUnload)(void*);
	pp_err (*cuLaunchKernel)(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void*,
	                         void**, void**);
	pp_err (*cuGetErrorString)(pp_err, const char**);
};

static struct pp_api pp;

#define PP_SYM(name) do { *(void**)(&api->name) = dlsym(h, #name); if (!api->name) return #name; } while (0)
#define PP_OPT(name) do { *(void**)(&api->name) = dlsym(h, #name); } while (0)

// pp_load_* fill api from the library handle h and return the name of the
// first missing symbol, or NULL.
static const char* pp_load_cudart(struct pp_api* api, void* h) {
	PP_SYM(cudaGetDeviceCount); PP_SYM(cudaSetDevice); PP_SYM(cudaDeviceGetAttribute);
	PP_SYM(cudaMalloc); PP_SYM(cudaFree); PP_SYM(cudaMemcpyAsync); PP_SYM(cudaMemsetAsync);
	PP_SYM(cudaStreamCreateWithFlags); PP_SYM(cudaStreamDestroy); PP_SYM(cudaStreamSynchronize);
	PP_SYM(cudaEventCreateWithFlags); PP_SYM(cudaEventRecord); PP_SYM(cudaStreamWaitEvent);
	PP_SYM(cudaEventDestroy); PP_SYM(cudaGetErrorString); PP_SYM(cudaGetLastError); PP_SYM(cudaMemGetInfo);
	PP_SYM(cudaDriverGetVersion); PP_SYM(cudaRuntimeGetVersion); PP_SYM(cudaStreamBeginCapture);
	PP_SYM(cudaStreamEndCapture); PP_SYM(cudaGraphInstantiateWithFlags); PP_SYM(cudaGraphLaunch);
	PP_SYM(cudaGraphExecDestroy); PP_SYM(cudaGraphDestroy);
	return NULL;
}

static const char* pp_load_cublas(struct pp_api* api, void* h) {
	PP_SYM(cublasCreate_v2); PP_SYM(cublasDestroy_v2); PP_SYM(cublasSetStream_v2); PP_SYM(cublasSetMathMode);
	PP_SYM(cublasSgemmStridedBatched); PP_OPT(cublasGemmStridedBatchedEx); PP_OPT(cublasSetWorkspace_v2);
	PP_OPT(cublasGetStatusString);
	return NULL;
}

static const char* pp_load_nvrtc(struct pp_api* api, void* h) {
	PP_SYM(nvrtcCreateProgram); PP_SYM(nvrtcCompileProgram); PP_SYM(nvrtcGetPTXSize); PP_SYM(nvrtcGetPTX);
	PP_SYM(nvrtcGetProgramLogSize); PP_SYM(nvrtcGetProgramLog); PP_SYM(nvrtcDestroyProgram);
	PP_SYM(nvrtcGetErrorString); PP_SYM(nvrtcVersion);
	return NULL;
}

static const char* pp_load_driver(struct pp_api* api, void* h) {
	PP_SYM(cuInit); PP_SYM(cuDeviceGet); PP_SYM(cuDeviceGetName); PP_SYM(cuDevicePrimaryCtxRetain);
	PP_SYM(cuCtxSetCurrent); PP_SYM(cuModuleLoadData); PP_SYM(cuModuleGetFunction); PP_SYM(cuModuleUnload);
	PP_SYM(cuLaunchKernel); PP_SYM(cuGetErrorString);
	return NULL;
}

// pp_load loads library lib (0 cudart, 1 cublas, 2 nvrtc, 3 driver) from h
// into api, or into the process's table when api is NULL.
static const char* pp_load(struct pp_api* api, int lib, void* h) {
	if (!api) api = &pp;
	switch (lib) {
	case 0: return pp_load_cudart(api, h);
	case 1: return pp_load_cublas(api, h);
	case 2: return pp_load_nvrtc(api, h);
	default: return pp_load_driver(api, h);
	}
}

static void* pp_dlopen(const char* path) { return dlopen(path, RTLD_NOW | RTLD_GLOBAL); }
static const char* pp_dlerror(void) { const char* e = dlerror(); return e ? e : "unknown dlopen error"; }

// Driver errors are returned as PP_DRIVER + CUresult, so that one int
// carries which API failed.
#define PP_DRIVER 1000000

// The context of the device in use, made current on each calling thread:
// goroutines move between threads, and driver calls need a current context.
static void* pp_ctx;
static __thread void* pp_bound;

static int pp_bind(void) {
	if (pp_ctx && pp_bound != pp_ctx) {
		int e = pp.cuCtxSetCurrent(pp_ctx);
		if (e) return PP_DRIVER + e;
		pp_bound = pp_ctx;
	}
	return 0;
}

#define PP_BIND() do { int be = pp_bind(); if (be) return be; } while (0)
#define PP_PTR(x) ((void*)(uintptr_t)(x))

static const char* pp_cuda_error_string(int e) { return pp.cudaGetErrorString(e); }
static const char* pp_driver_error_string(int e) {
	const char* s = NULL;
	if (pp.cuGetErrorString(e, &s) != 0 || !s) return "unknown driver error";
	return s;
}
static const char* pp_cublas_error_string(int e) {
	return pp.cublasGetStatusString ? pp.cublasGetStatusString(e) : "cuBLAS error";
}
static const char* pp_nvrtc_error_string(int e) { return pp.nvrtcGetErrorString(e); }

int pp_open_device(int ordinal, char* name, int name_len, int* major, int* minor, int* drv, int* rt) {
	int e = pp.cuInit(0);
	if (e) return PP_DRIVER + e;
	int n = 0;
	e = pp.cudaGetDeviceCount(&n);
	if (e) return e;
	if (ordinal < 0 || ordinal >= n) return 101; // cudaErrorInvalidDevice
	int dev = 0;
	e = pp.cuDeviceGet(&dev, ordinal);
	if (e) return PP_DRIVER + e;
	e = pp.cuDeviceGetName(name, name_len, dev);
	if (e) return PP_DRIVER + e;
	void* ctx = NULL;
	e = pp.cuDevicePrimaryCtxRetain(&ctx, dev);
	if (e) return PP_DRIVER + e;
	pp_ctx = ctx;
	pp_bound = NULL;
	PP_BIND();
	e = pp.cudaSetDevice(ordinal);
	if (e) return e;
	e = pp.cudaDeviceGetAttribute(major, 75, ordinal); // cudaDevAttrComputeCapabilityMajor
	if (e) return e;
	e = pp.cudaDeviceGetAttribute(minor, 76, ordinal); // cudaDevAttrComputeCapabilityMinor
	if (e) return e;
	e = pp.cudaDriverGetVersion(drv);
	if (e) return e;
	return pp.cudaRuntimeGetVersion(rt);
}

int pp_device_count(int* n) { return pp.cudaGetDeviceCount(n); }

int pp_malloc(uint64_t* p, size_t n) {
	PP_BIND();
	void* q = NULL;
	int e = pp.cudaMalloc(&q, n);
	if (e) pp.cudaGetLastError(); // not sticky: clear it
	*p = (uint64_t)(uintptr_t)q;
	return e;
}

int pp_free(uint64_t p) { PP_BIND(); return pp.cudaFree(PP_PTR(p)); }

int pp_mem_info(size_t* free_b, size_t* total_b) { PP_BIND(); return pp.cudaMemGetInfo(free_b, total_b); }

int pp_memset_sync(uint64_t p, size_t n, uint64_t stream) {
	PP_BIND();
	int e = pp.cudaMemsetAsync(PP_PTR(p), 0, n, PP_PTR(stream));
	if (e) return e;
	return pp.cudaStreamSynchronize(PP_PTR(stream));
}

// Host copies wait for the stream: the Go memory they read or write is used
// only during the call.
int pp_h2d(uint64_t dst, const void* src, size_t n, uint64_t stream) {
	PP_BIND();
	int e = pp.cudaMemcpyAsync(PP_PTR(dst), src, n, 1, PP_PTR(stream)); // cudaMemcpyHostToDevice
	if (e) return e;
	return pp.cudaStreamSynchronize(PP_PTR(stream));
}

int pp_d2h(void* dst, uint64_t src, size_t n, uint64_t stream) {
	PP_BIND();
	int e = pp.cudaMemcpyAsync(dst, PP_PTR(src), n, 2, PP_PTR(stream)); // cudaMemcpyDeviceToHost
	if (e) return e;
	return pp.cudaStreamSynchronize(PP_PTR(stream));
}

int pp_stream_create(uint64_t* s) {
	PP_BIND();
	void* q = NULL;
	int e = pp.cudaStreamCreateWithFlags(&q, 1); // cudaStreamNonBlocking
	*s = (uint64_t)(uintptr_t)q;
	return e;
}
int pp_stream_destroy(uint64_t s) { PP_BIND(); return pp.cudaStreamDestroy(PP_PTR(s)); }
int pp_stream_sync(uint64_t s) { PP_BIND(); return pp.cudaStreamSynchronize(PP_PTR(s)); }

int pp_event_create(uint64_t* ev) {
	PP_BIND();
	void* q = NULL;
	int e = pp.cudaEventCreateWithFlags(&q, 2); // cudaEventDisableTiming
	*ev = (uint64_t)(uintptr_t)q;
	return e;
}
int pp_event_destroy(uint64_t ev) { PP_BIND(); return pp.cudaEventDestroy(PP_PTR(ev)); }

// pp_wait makes stream wait for the work enqueued on other so far.
int pp_wait(uint64_t stream, uint64_t other, uint64_t other_event) {
	PP_BIND();
	int e = pp.cudaEventRecord(PP_PTR(other_event), PP_PTR(other));
	if (e) return e;
	return pp.cudaStreamWaitEvent(PP_PTR(stream), PP_PTR(other_event), 0);
}

int pp_begin_capture(uint64_t s) { PP_BIND(); return pp.cudaStreamBeginCapture(PP_PTR(s), 2); } // relaxed

int pp_end_capture(uint64_t s, uint64_t* exec) {
	PP_BIND();
	void* g = NULL;
	int e = pp.cudaStreamEndCapture(PP_PTR(s), &g);
	if (e) return e;
	void* x = NULL;
	e = pp.cudaGraphInstantiateWithFlags(&x, g, 0);
	pp.cudaGraphDestroy(g); // the executable graph does not need it
	*exec = (uint64_t)(uintptr_t)x;
	return e;
}

int pp_graph_launch(uint64_t exec, uint64_t s) { PP_BIND(); return pp.cudaGraphLaunch(PP_PTR(exec), PP_PTR(s)); }
int pp_graph_destroy(uint64_t exec) { PP_BIND(); return pp.cudaGraphExecDestroy(PP_PTR(exec)); }

// cuBLAS errors are returned as PP_CUBLAS + status.
#define PP_CUBLAS 2000000

int pp_cublas_create(uint64_t* h, uint64_t stream, uint64_t ws, size_t ws_size, int math_mode) {
	PP_BIND();
	void* q = NULL;
	int e = pp.cublasCreate_v2(&q);
	if (e) return PP_CUBLAS + e;
	*h = (uint64_t)(uintptr_t)q;
	e = pp.cublasSetStream_v2(q, PP_PTR(stream));
	if (e) return PP_CUBLAS + e;
	if (pp.cublasSetWorkspace_v2 && ws) {
		e = pp.cublasSetWorkspace_v2(q, PP_PTR(ws), ws_size);
		if (e) return PP_CUBLAS + e;
	}
	e = pp.cublasSetMathMode(q, math_mode);
	return e ? PP_CUBLAS + e : 0;
}

int pp_cublas_destroy(uint64_t h) { PP_BIND(); int e = pp.cublasDestroy_v2(PP_PTR(h)); return e ? PP_CUBLAS + e : 0; }

int pp_has_gemm_ex(void) { return pp.cublasGemmStridedBatchedEx != NULL; }

// pp_sgemm multiplies matrices into float32 ones: float32 operands with
// cublasSgemmStridedBatched when ab_type is 0 (CUDA_R_32F), else operands of
// that cudaDataType (14, CUDA_R_16BF: bfloat16) with
// cublasGemmStridedBatchedEx, summing in float32.
int pp_sgemm(uint64_t h, int ta, int tb, int m, int n, int k, float alpha, uint64_t a, int lda, long long sa,
                    uint64_t b, int ldb, long long sb, float beta, uint64_t c, int ldc, long long sc, int batch,
                    int ab_type) {
	PP_BIND();
	int e;
	if (ab_type) {
		const int f32 = 0; // CUDA_R_32F
		e = pp.cublasGemmStridedBatchedEx(PP_PTR(h), ta, tb, m, n, k, &alpha, PP_PTR(a), ab_type, lda, sa, PP_PTR(b),
		                                  ab_type, ldb, sb, &beta, PP_PTR(c), f32, ldc, sc, batch,
		                                  68,  // CUBLAS_COMPUTE_32F
		                                  -1); // CUBLAS_GEMM_DEFAULT
	} else {
		e = pp.cublasSgemmStridedBatched(PP_PTR(h), ta, tb, m, n, k, &alpha, (const float*)PP_PTR(a), lda, sa,
		                                 (const float*)PP_PTR(b), ldb, sb, &beta, (float*)PP_PTR(c), ldc, sc, batch);
	}
	return e ? PP_CUBLAS + e : 0;
}

// NVRTC errors are returned as PP_NVRTC + result.
#define PP_NVRTC 3000000

// pp_compile compiles src to PTX; *ptx and *log are malloc'd (the caller
// frees them).
int pp_compile(const char* src, const char* name, const char** opts, int nopts, char** ptx, char** log) {
	void* prog = NULL;
	*ptx = NULL;
	*log = NULL;
	int e = pp.nvrtcCreateProgram(&prog, src, name, 0, NULL, NULL);
	if (e) return PP_NVRTC + e;
	int ce = pp.nvrtcCompileProgram(prog, nopts, (const char* const*)opts);
	size_t n = 0;
	if (pp.nvrtcGetProgramLogSize(prog, &n) == 0 && n > 1) {
		*log = (char*)malloc(n);
		if (*log && pp.nvrtcGetProgramLog(prog, *log) != 0) (*log)[0] = 0;
	}
	if (ce) {
		pp.nvrtcDestroyProgram(&prog);
		return PP_NVRTC + ce;
	}
	e = pp.nvrtcGetPTXSize(prog, &n);
	if (!e) {
		*ptx = (char*)malloc(n + 1);
		e = *ptx ? pp.nvrtcGetPTX(prog, *ptx) : 0;
		if (*ptx) (*ptx)[n] = 0;
	}
	pp.nvrtcDestroyProgram(&prog);
	return e ? PP_NVRTC + e : 0;
}

int pp_nvrtc_version(int* major, int* minor) { int e = pp.nvrtcVersion(major, minor); return e ? PP_NVRTC + e : 0; }

int pp_module_load(uint64_t* mod, const char* image) {
	PP_BIND();
	void* m = NULL;
	int e = pp.cuModuleLoadData(&m, image);
	*mod = (uint64_t)(uintptr_t)m;
	return e ? PP_DRIVER + e : 0;
}

int pp_module_function(uint64_t* fn, uint64_t mod, const char* name) {
	PP_BIND();
	void* f = NULL;
	int e = pp.cuModuleGetFunction(&f, PP_PTR(mod), name);
	*fn = (uint64_t)(uintptr_t)f;
	return e ? PP_DRIVER + e : 0;
}

int pp_module_unload(uint64_t mod) { PP_BIND(); int e = pp.cuModuleUnload(PP_PTR(mod)); return e ? PP_DRIVER + e : 0; }

// pp_launch launches fn with nargs arguments, each in an 8-byte slot of args
// (ints and floats in the low bytes: little-endian hosts only), which the
// driver copies before returning.
int pp_launch(uint64_t fn, unsigned gx, unsigned bx, unsigned by, uint64_t stream, uint64_t* args, int nargs) {
	void* ptrs[32];
	if (nargs > 32) return 1; // cudaErrorInvalidValue
	for (int i = 0; i < nargs; i++) ptrs[i] = &args[i];
	PP_BIND();
	int e = pp.cuLaunchKernel(PP_PTR(fn), gx, 1, 1, bx, by, 1, 0, PP_PTR(stream), ptrs, NULL);
	return e ? PP_DRIVER + e : 0;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Error is a failed CUDA call, with the library's own error string.
type Error struct {
	Call string // the entry point, e.g. "cudaMalloc"
	Lib  string // "runtime", "driver", "cuBLAS" or "NVRTC"
	Code int    // the library's error code
	Msg  string // the library's error string
}

func (e *Error) Error() string {
	return fmt.Sprintf("cuda: %s: %s (%s error %d)", e.Call, e.Msg, e.Lib, e.Code)
}

// OutOfMemory reports whether the error is the runtime's out-of-memory.
func (e *Error) OutOfMemory() bool { return e.Lib == "runtime" && e.Code == 2 }

// check turns a wrapper's return code into an error (nil for 0).
func check(call string, code C.int) error {
	c := int(code)
	switch {
	case c == 0:
		return nil
	case c >= C.PP_NVRTC:
		c -= C.PP_NVRTC
		return &Error{Call: call, Lib: "NVRTC", Code: c, Msg: C.GoString(C.pp_nvrtc_error_string(C.int(c)))}
	case c >= C.PP_CUBLAS:
		c -= C.PP_CUBLAS
		return &Error{Call: call, Lib: "cuBLAS", Code: c, Msg: C.GoString(C.pp_cublas_error_string(C.int(c)))}
	case c >= C.PP_DRIVER:
		c -= C.PP_DRIVER
		return &Error{Call: call, Lib: "driver", Code: c, Msg: C.GoString(C.pp_driver_error_string(C.int(c)))}
	default:
		return &Error{Call: call, Lib: "runtime", Code: c, Msg: C.GoString(C.pp_cuda_error_string(C.int(c)))}
	}
}

// dlopenPath opens one library file (or soname) and returns its handle.
func dlopenPath(path string) (unsafe.Pointer, error) {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	h := C.pp_dlopen(cs)
	if h == nil {
		return nil, fmt.Errorf("%s", C.GoString(C.pp_dlerror()))
	}
	return h, nil
}

// loadSymbols fills the symbol table of library lib (see pp_load) from h:
// into the process's table when private is false, else into a scratch table
// that is discarded (tests). It returns the first missing symbol.
func loadSymbols(lib int, h unsafe.Pointer, private bool) string {
	var api *C.struct_pp_api
	if private {
		api = (*C.struct_pp_api)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_pp_api{}))))
		defer C.free(unsafe.Pointer(api))
	}
	if missing := C.pp_load(api, C.int(lib), h); missing != nil {
		return C.GoString(missing)
	}
	return ""
}
