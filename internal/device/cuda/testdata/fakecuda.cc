// A fake CUDA for the tests on machines without a GPU: one shared library
// (C++20, built by cuda_test.go with g++) exporting every entry point the
// backend loads, copied under each soname (libcudart.so.13, libcublas.so.13,
// libnvrtc.so.13, libcuda.so.1). "Device memory" is host memory, every call is
// synchronous, and kernels.cu itself is compiled in as host code: a launch
// runs each block's threads (on real threads with barriers for the kernels
// that synchronise, serially for the others), cublasSgemmStridedBatched is a
// column-major reference loop, and stream capture records launches and GEMMs
// for graph replay. As on a GPU, a capture breaks (cudaStreamEndCapture
// fails with cudaErrorStreamCaptureInvalidated) when, while it records, the
// capturing stream is synchronised or used for a memset or copy (those fail
// with cudaErrorStreamCaptureUnsupported), or anything synchronises the
// device: cudaFree, destroying a stream, event or cuBLAS handle, unloading a
// module. So the Go backend (argument packing, grids, the
// row-major GEMM mapping, capture) and the kernels' indexing and reductions
// run here; what it cannot show is NVRTC, real cuBLAS and real GPU timing and
// memory semantics.
//
// FAKE_CUDA selects a failure to simulate:
//   nodevice   cuInit fails with CUDA_ERROR_NO_DEVICE
//   olddriver  the driver supports CUDA 12.2, the runtime is 13.0
//   badkernel  NVRTC fails to compile, with a log
//   anything else: everything works (cudaMalloc above 1 GiB is out of
//   memory; FAKE_CUDA_LAUNCH_FAIL=1 makes kernel launches fail).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <barrier>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

// The CUDA built-ins kernels.cu uses, as host code.
struct pp_dim3 {
	unsigned x, y, z;
};
static thread_local pp_dim3 threadIdx, blockIdx;
static pp_dim3 blockDim, gridDim;
static std::barrier<>* block_barrier;
static std::barrier<>* warp_barrier[32];
static float warp_xch[32][32];
static void __syncthreads() { block_barrier->arrive_and_wait(); }
static float __shfl_down_sync(unsigned, float v, int o) {
	unsigned t = threadIdx.x + threadIdx.y * blockDim.x;
	unsigned w = t / 32, lane = t % 32;
	warp_xch[w][lane] = v;
	warp_barrier[w]->arrive_and_wait();
	float r = lane + o < 32 ? warp_xch[w][lane + o] : v;
	warp_barrier[w]->arrive_and_wait();
	return r;
}
static unsigned int __float_as_uint(float x) {
	unsigned int u;
	memcpy(&u, &x, 4);
	return u;
}
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#include <math.h>
#include "../kernels.cu"
#undef __shared__

// A kernel of kernels.cu and how to run it: threaded when it uses barriers
// or warp shuffles.
struct Kernel {
	const char* name;
	bool threaded;
	std::function<std::function<void()>(void**)> bind; // params -> the call
	void (*raw)();
};

template <typename... A, size_t... I>
static std::function<void()> bind_args(void (*k)(A...), void** p, std::index_sequence<I...>) {
	std::tuple<A...> args{*static_cast<A*>(p[I])...};
	return [k, args]() { std::apply(k, args); };
}

template <typename... A>
static Kernel make_kernel(const char* name, bool threaded, void (*k)(A...)) {
	return Kernel{name, threaded, [k](void** p) { return bind_args(k, p, std::index_sequence_for<A...>{}); }, nullptr};
}

static std::vector<Kernel>& kernels() {
	static std::vector<Kernel> ks = {
		make_kernel("pp_copy2d", false, pp_copy2d), make_kernel("pp_fill2d", false, pp_fill2d),
		make_kernel("pp_add", false, pp_add), make_kernel("pp_mul", false, pp_mul),
		make_kernel("pp_colsum", true, pp_colsum), make_kernel("pp_lstm_fwd", false, pp_lstm_fwd),
		make_kernel("pp_lstm_bwd", false, pp_lstm_bwd), make_kernel("pp_att_score", true, pp_att_score),
		make_kernel("pp_att_softmax_ctx", true, pp_att_softmax_ctx),
		make_kernel("pp_att_bwd_scores", true, pp_att_bwd_scores),
		make_kernel("pp_att_bwd_elem", false, pp_att_bwd_elem), make_kernel("pp_affine", false, pp_affine),
		make_kernel("pp_relu_bwd", false, pp_relu_bwd), make_kernel("pp_bn_train", true, pp_bn_train),
		make_kernel("pp_bn_bwd", true, pp_bn_bwd), make_kernel("pp_adam", false, pp_adam),
		make_kernel("pp_to_bf16", false, pp_to_bf16),
	};
	return ks;
}

// run_grid runs call over a grid of blocks, one block at a time.
static void run_grid(const Kernel* k, unsigned gx, unsigned bx, unsigned by, const std::function<void()>& call) {
	gridDim = {gx, 1, 1};
	blockDim = {bx, by, 1};
	unsigned n = bx * by;
	for (unsigned b = 0; b < gx; b++) {
		if (!k->threaded) {
			for (unsigned t = 0; t < n; t++) {
				blockIdx = {b, 0, 0};
				threadIdx = {t % bx, t / bx, 0};
				call();
			}
			continue;
		}
		std::barrier<> bar(n);
		block_barrier = &bar;
		std::vector<std::barrier<>*> warps;
		for (unsigned w = 0; w < (n + 31) / 32; w++) warps.push_back(warp_barrier[w] = new std::barrier<>(32));
		std::vector<std::thread> threads;
		for (unsigned t = 0; t < n; t++) {
			threads.emplace_back([&, t]() {
				blockIdx = {b, 0, 0};
				threadIdx = {t % bx, t / bx, 0};
				call();
			});
		}
		for (auto& th : threads) th.join();
		for (auto* w : warps) delete w;
	}
}

// Stream capture records every launch and GEMM (on any stream) in order.
typedef std::vector<std::function<void()>> Graph;
// Atomics: a device may be closed on another thread while one records.
static std::atomic<Graph*> recording;
static std::atomic<void*> capture_stream;
static std::atomic<bool> invalidated; // the capture broke: EndCapture fails

// device_sync is a call that synchronises the device: it breaks a capture.
static void device_sync(void) {
	if (recording) invalidated = true;
}

// on_capture_stream reports (and breaks the capture for) a memset, copy or
// synchronisation of the capturing stream.
static bool on_capture_stream(void* st) {
	if (!recording || st != capture_stream) return false;
	invalidated = true;
	return true;
}

static void submit(std::function<void()> op) {
	if (Graph* r = recording.load())
		r->push_back(std::move(op));
	else
		op();
}

extern "C" {

static int mode(const char* m) {
	const char* v = getenv("FAKE_CUDA");
	return v && strcmp(v, m) == 0;
}

// libcudart
int cudaGetDeviceCount(int* n) { *n = 1; return 0; }
int cudaSetDevice(int d) { (void)d; return 0; }
int cudaDeviceGetAttribute(int* v, int attr, int d) { (void)d; *v = attr == 75 ? 9 : 0; return 0; }
int cudaMalloc(void** p, size_t n) {
	if (n > ((size_t)1 << 30)) return 2; // cudaErrorMemoryAllocation
	*p = malloc(n);
	return *p ? 0 : 2;
}
int cudaFree(void* p) { device_sync(); free(p); return 0; }
int cudaMemcpyAsync(void* d, const void* s, size_t n, int kind, void* st) {
	(void)kind;
	if (on_capture_stream(st)) return 900; // cudaErrorStreamCaptureUnsupported
	memcpy(d, s, n);
	return 0;
}
int cudaMemsetAsync(void* p, int v, size_t n, void* st) {
	if (on_capture_stream(st)) return 900;
	memset(p, v, n);
	return 0;
}
static int handles;
int cudaStreamCreateWithFlags(void** s, unsigned f) { (void)f; *s = (void*)(uintptr_t)(++handles); return 0; }
int cudaStreamDestroy(void* s) { (void)s; device_sync(); return 0; }
int cudaStreamSynchronize(void* s) { return on_capture_stream(s) ? 900 : 0; }
int cudaEventCreateWithFlags(void** e, unsigned f) { (void)f; *e = (void*)(uintptr_t)(++handles); return 0; }
int cudaEventRecord(void* e, void* s) { (void)e; (void)s; return 0; }
int cudaStreamWaitEvent(void* s, void* e, unsigned f) { (void)s; (void)e; (void)f; return 0; }
int cudaEventDestroy(void* e) { (void)e; device_sync(); return 0; }
const char* cudaGetErrorString(int e) {
	switch (e) {
	case 2: return "out of memory";
	case 100: return "no CUDA-capable device is detected";
	case 900: return "operation not permitted when stream is capturing";
	case 901: return "operation failed due to a previous error during capture";
	default: return "fake runtime error";
	}
}
int cudaGetLastError(void) { return 0; }
int cudaMemGetInfo(size_t* f, size_t* t) { *f = (size_t)1 << 30; *t = (size_t)2 << 30; return 0; }
int cudaDriverGetVersion(int* v) { *v = mode("olddriver") ? 12020 : 13000; return 0; }
int cudaRuntimeGetVersion(int* v) { *v = 13000; return 0; }
int cudaStreamBeginCapture(void* s, int m) {
	(void)s; (void)m;
	if (recording) return 900; // cudaErrorStreamCaptureUnsupported
	recording = new Graph();
	capture_stream = s;
	invalidated = false;
	return 0;
}
int cudaStreamEndCapture(void* s, void** g) {
	if (!recording || s != capture_stream) return 400; // cudaErrorInvalidResourceHandle
	Graph* r = recording.exchange(nullptr);
	capture_stream = nullptr;
	if (invalidated) {
		delete r;
		*g = nullptr;
		return 901; // cudaErrorStreamCaptureInvalidated
	}
	*g = r;
	return 0;
}
int cudaGraphInstantiateWithFlags(void** x, void* g, unsigned long long f) { (void)f; *x = new Graph(*(Graph*)g); return 0; }
int cudaGraphLaunch(void* x, void* s) { (void)s; for (auto& op : *(Graph*)x) op(); return 0; }
int cudaGraphExecDestroy(void* x) { delete (Graph*)x; return 0; }
int cudaGraphDestroy(void* g) { delete (Graph*)g; return 0; }

// libcublas
int cublasCreate_v2(void** h) { *h = (void*)(uintptr_t)(++handles); return 0; }
int cublasDestroy_v2(void* h) { (void)h; device_sync(); return 0; }
int cublasSetStream_v2(void* h, void* s) { (void)h; (void)s; return 0; }
int cublasSetMathMode(void* h, int m) { (void)h; (void)m; return 0; }
int cublasSetWorkspace_v2(void* h, void* w, size_t n) { (void)h; (void)w; (void)n; return 0; }
// gemm is the column-major reference product; operands are float32, or
// bfloat16 (uint16 bits) when bf16_data.
static int gemm(int ta, int tb, int m, int n, int k, const float* alpha, const void* A, int lda, long long sa,
                const void* B, int ldb, long long sb, const float* beta, float* C, int ldc, long long sc, int batch,
                bool bf16_data) {
	float al = *alpha, be = *beta;
	submit([=]() {
		auto at = [=](const void* base, long long idx) {
			if (bf16_data) {
				uint32_t u = (uint32_t)((const uint16_t*)base)[idx] << 16;
				float v;
				memcpy(&v, &u, 4);
				return v;
			}
			return ((const float*)base)[idx];
		};
		for (int i = 0; i < batch; i++) {
			for (int col = 0; col < n; col++)
				for (int row = 0; row < m; row++) {
					double acc = 0;
					for (int p = 0; p < k && al != 0; p++) {
						float av = at(A, i * sa + (ta ? p + (long long)row * lda : row + (long long)p * lda));
						float bv = at(B, i * sb + (tb ? col + (long long)p * ldb : p + (long long)col * ldb));
						acc += (double)av * bv;
					}
					float* c = C + i * sc;
					float* cv = &c[row + (long long)col * ldc];
					*cv = (float)(al * acc + (be == 0 ? 0.0 : (double)be * *cv));
				}
		}
	});
	return 0;
}

int cublasSgemmStridedBatched(void* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                              long long sa, const float* B, int ldb, long long sb, const float* beta, float* C, int ldc,
                              long long sc, int batch) {
	(void)h;
	return gemm(ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch, false);
}

// Float32 output and compute type 68 (CUBLAS_COMPUTE_32F) only, with
// float32 (CUDA_R_32F, 0) or bfloat16 (CUDA_R_16BF, 14) operands; anything
// else is CUBLAS_STATUS_NOT_SUPPORTED.
int cublasGemmStridedBatchedEx(void* h, int ta, int tb, int m, int n, int k, const void* alpha, const void* A, int at,
                               int lda, long long sa, const void* B, int bt, int ldb, long long sb, const void* beta,
                               void* C, int ct, int ldc, long long sc, int batch, int compute, int algo) {
	(void)h; (void)algo;
	bool b16 = at == 14 && bt == 14;
	if (ct != 0 || compute != 68 || !(b16 || (at == 0 && bt == 0))) return 15;
	return gemm(ta, tb, m, n, k, (const float*)alpha, A, lda, sa, B, ldb, sb, (const float*)beta, (float*)C, ldc, sc,
	            batch, b16);
}
const char* cublasGetStatusString(int s) { (void)s; return "fake cuBLAS error"; }

// libnvrtc
int nvrtcCreateProgram(void** p, const char* src, const char* name, int n, const char* const* h, const char* const* i) {
	(void)src; (void)name; (void)n; (void)h; (void)i;
	*p = (void*)(uintptr_t)(++handles);
	return 0;
}
int nvrtcCompileProgram(void* p, int n, const char* const* o) { (void)p; (void)n; (void)o; return mode("badkernel") ? 6 : 0; }
static const char* fake_log = "kernels.cu(1): error: fake compile failure";
int nvrtcGetProgramLogSize(void* p, size_t* n) { (void)p; *n = mode("badkernel") ? strlen(fake_log) + 1 : 1; return 0; }
int nvrtcGetProgramLog(void* p, char* s) { (void)p; strcpy(s, mode("badkernel") ? fake_log : ""); return 0; }
int nvrtcGetPTXSize(void* p, size_t* n) { (void)p; *n = 4; return 0; }
int nvrtcGetPTX(void* p, char* s) { (void)p; strcpy(s, "ptx"); return 0; }
int nvrtcDestroyProgram(void** p) { *p = 0; return 0; }
const char* nvrtcGetErrorString(int e) { return e == 6 ? "NVRTC_ERROR_COMPILATION" : "fake NVRTC error"; }
int nvrtcVersion(int* a, int* b) { *a = 13; *b = 0; return 0; }

// libcuda
int cuInit(unsigned f) { (void)f; return mode("nodevice") ? 100 : 0; }
int cuDeviceGet(int* d, int o) { *d = o; return 0; }
int cuDeviceGetName(char* s, int n, int d) { (void)d; strncpy(s, "Fake GPU", n); return 0; }
int cuDevicePrimaryCtxRetain(void** c, int d) { (void)d; *c = (void*)(uintptr_t)(++handles); return 0; }
int cuCtxSetCurrent(void* c) { (void)c; return 0; }
int cuModuleLoadData(void** m, const void* img) { (void)img; *m = (void*)(uintptr_t)(++handles); return 0; }
int cuModuleGetFunction(void** f, void* m, const char* n) {
	(void)m;
	for (auto& k : kernels())
		if (strcmp(k.name, n) == 0) {
			*f = &k;
			return 0;
		}
	return 500; // CUDA_ERROR_NOT_FOUND
}
int cuModuleUnload(void* m) { (void)m; device_sync(); return 0; }
int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shmem,
                   void* stream, void** params, void** extra) {
	(void)gy; (void)gz; (void)bz; (void)shmem; (void)stream; (void)extra;
	const char* v = getenv("FAKE_CUDA_LAUNCH_FAIL");
	if (v && v[0] == '1') return 700; // CUDA_ERROR_ILLEGAL_ADDRESS
	if (bx * by > 1024 || gy != 1 || gz != 1 || bz != 1) return 1; // CUDA_ERROR_INVALID_VALUE
	const Kernel* k = (const Kernel*)f;
	std::function<void()> call = k->bind(params);
	submit([=]() { run_grid(k, gx, bx, by, call); });
	return 0;
}
int cuGetErrorString(int e, const char** s) {
	*s = e == 100 ? "no CUDA-capable device is detected" : e == 700 ? "an illegal memory access was encountered" : "fake driver error";
	return 0;
}

} // extern "C"
