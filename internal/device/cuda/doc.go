// Package cuda is the CUDA backend of internal/device, built only with
// -tags cuda (cgo); without the tag the package holds a stub whose Open
// reports "built without -tags cuda". Importing the package registers the
// backend as device "cuda" (and makes "auto" try it).
//
// Status: untested on a GPU so far. It compiles (CI vets it with -tags
// cuda) and, without a GPU, its tests exercise everything up to the GPU
// itself: the loader's errors (missing, broken and incomplete libraries), and
// Open and the whole conformance suite (internal/device/devicetest) against a
// fake CUDA (testdata/fakecuda.cc) that runs kernels.cu compiled as host C++
// with a thread per CUDA thread, a reference column-major SGEMM in place of
// cuBLAS and recorded stream capture. What only a GPU run can show: NVRTC
// accepting kernels.cu, real cuBLAS and graph semantics, speed. On a machine
// with a GPU TestConformance runs the suite on it (and skips, saying why,
// elsewhere); tools/gpu/run.sh is the script a session with a GPU runs.
//
// Nothing links against CUDA at build time: building needs only gcc. At the
// first Open the libraries are loaded with dlopen, each as soname .13, then
// .12, then unversioned: libcudart, libcublasLt and libcublas, libnvrtc, and
// the driver's libcuda.so.1. PERFPREDICT_CUDA_LIBS names a directory to load
// them from instead of the loader's search path (and /usr/local/cuda/lib64);
// a library that is missing, unreadable or lacks a symbol is a returned error
// naming it and the directories tried ("libcublas.so.13 not found in ...").
//
// Data flow: buffers are cudaMalloc'd float32 arrays (out of memory is an
// error with the free and total memory); each Queue is a non-blocking stream
// with its own cuBLAS handle (and workspace, so that GEMMs can be captured
// in graphs); Gemm is cublasSgemmStridedBatched on the row-major operands
// seen as column-major transposes (C^T = op(B)^T op(A)^T); everything else
// is a kernel of kernels.cu, compiled with NVRTC for the device's compute
// capability (compute_XY PTX, loaded with cuModuleLoadData and launched with
// cuLaunchKernel through the driver API). WaitFor records an event on the
// other stream and waits for it; BeginCapture/EndCapture wrap
// cudaStreamBeginCapture (relaxed mode) and cudaStreamEndCapture, and a
// Graph is the instantiated cudaGraphExec. Failures of queued work are
// sticky per queue and returned by Sync, with CUDA's error string.
//
// Environment: PERFPREDICT_CUDA_LIBS (library directory),
// PERFPREDICT_CUDA_DEVICE (ordinal, default 0), PERFPREDICT_CUDA_TF32=1
// (let cuBLAS use TF32 tensor cores for fp32 GEMMs).
//
// Not done: bf16 inference, a persistent LSTM kernel keeping W_hh in shared
// memory (the way to batch-1 latency under 1 ms), cuBLASLt epilogues, more
// than one device per process.
package cuda
