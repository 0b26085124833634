// A fake CUDA for the loader and error-path tests on machines without a GPU:
// one shared library exporting every entry point the backend loads, copied
// under each soname (libcudart.so.13, libcublas.so.13, libnvrtc.so.13,
// libcuda.so.1). "Device memory" is host memory; kernels and GEMMs do
// nothing. FAKE_CUDA selects the failure to simulate:
//   nodevice   cuInit fails with CUDA_ERROR_NO_DEVICE
//   olddriver  the driver supports CUDA 12.2, the runtime is 13.0
//   badkernel  NVRTC fails to compile, with a log
//   ok         everything succeeds (cudaMalloc above 1 GiB is out of memory;
//              FAKE_CUDA_LAUNCH_FAIL=1 makes kernel launches fail)
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
int cudaFree(void* p) { free(p); return 0; }
int cudaMemcpyAsync(void* d, const void* s, size_t n, int kind, void* st) { (void)kind; (void)st; memcpy(d, s, n); return 0; }
int cudaMemsetAsync(void* p, int v, size_t n, void* st) { (void)st; memset(p, v, n); return 0; }
static int handles;
int cudaStreamCreateWithFlags(void** s, unsigned f) { (void)f; *s = (void*)(uintptr_t)(++handles); return 0; }
int cudaStreamDestroy(void* s) { (void)s; return 0; }
int cudaStreamSynchronize(void* s) { (void)s; return 0; }
int cudaEventCreateWithFlags(void** e, unsigned f) { (void)f; *e = (void*)(uintptr_t)(++handles); return 0; }
int cudaEventRecord(void* e, void* s) { (void)e; (void)s; return 0; }
int cudaStreamWaitEvent(void* s, void* e, unsigned f) { (void)s; (void)e; (void)f; return 0; }
int cudaEventDestroy(void* e) { (void)e; return 0; }
const char* cudaGetErrorString(int e) {
	switch (e) {
	case 2: return "out of memory";
	case 100: return "no CUDA-capable device is detected";
	default: return "fake runtime error";
	}
}
int cudaGetLastError(void) { return 0; }
int cudaMemGetInfo(size_t* f, size_t* t) { *f = (size_t)1 << 30; *t = (size_t)2 << 30; return 0; }
int cudaDriverGetVersion(int* v) { *v = mode("olddriver") ? 12020 : 13000; return 0; }
int cudaRuntimeGetVersion(int* v) { *v = 13000; return 0; }
int cudaStreamBeginCapture(void* s, int m) { (void)s; (void)m; return 0; }
int cudaStreamEndCapture(void* s, void** g) { (void)s; *g = (void*)(uintptr_t)(++handles); return 0; }
int cudaGraphInstantiateWithFlags(void** x, void* g, unsigned long long f) { (void)g; (void)f; *x = (void*)(uintptr_t)(++handles); return 0; }
int cudaGraphLaunch(void* x, void* s) { (void)x; (void)s; return 0; }
int cudaGraphExecDestroy(void* x) { (void)x; return 0; }
int cudaGraphDestroy(void* g) { (void)g; return 0; }

// libcublas
int cublasCreate_v2(void** h) { *h = (void*)(uintptr_t)(++handles); return 0; }
int cublasDestroy_v2(void* h) { (void)h; return 0; }
int cublasSetStream_v2(void* h, void* s) { (void)h; (void)s; return 0; }
int cublasSetMathMode(void* h, int m) { (void)h; (void)m; return 0; }
int cublasSetWorkspace_v2(void* h, void* w, size_t n) { (void)h; (void)w; (void)n; return 0; }
int cublasSgemmStridedBatched(void) { return 0; }
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
int cuModuleGetFunction(void** f, void* m, const char* n) { (void)m; (void)n; *f = (void*)(uintptr_t)(++handles); return 0; }
int cuModuleUnload(void* m) { (void)m; return 0; }
int cuLaunchKernel(void) {
	const char* v = getenv("FAKE_CUDA_LAUNCH_FAIL");
	return v && v[0] == '1' ? 700 : 0; // CUDA_ERROR_ILLEGAL_ADDRESS
}
int cuGetErrorString(int e, const char** s) {
	*s = e == 100 ? "no CUDA-capable device is detected" : e == 700 ? "an illegal memory access was encountered" : "fake driver error";
	return 0;
}
