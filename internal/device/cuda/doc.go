// Package cuda is the CUDA backend of internal/device, built only with
// -tags cuda (cgo); without the tag the package holds a stub whose Open
// reports "built without -tags cuda". Importing the package registers the
// backend as device "cuda" (and makes "auto" try it).
//
// Status: tested on an NVIDIA H100 (driver 580, CUDA 13.0 libraries):
// tools/gpu/run.sh runs the conformance suite (internal/device/devicetest),
// the precision checks, the root package's device tests and the benchmarks
// there beside PyTorch; docs/BENCHMARKS.md has the figures. Without a GPU,
// the tests exercise everything up to the GPU itself: the loader's errors
// (missing, broken and incomplete libraries), and Open and the whole
// conformance suite against a fake CUDA (testdata/fakecuda.cc) that runs
// kernels.cu compiled as host C++ with a thread per CUDA thread, a
// reference column-major GEMM in place of cuBLAS, and stream capture that
// breaks on the same calls as CUDA's. On a machine with a GPU,
// TestConformance and TestPrecisions run on it (and skip, saying why,
// elsewhere).
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
// seen as column-major transposes (C^T = op(B)^T op(A)^T), or
// cublasGemmStridedBatchedEx with bfloat16 operands; everything else
// is a kernel of kernels.cu, compiled with NVRTC for the device's compute
// capability (compute_XY PTX, loaded with cuModuleLoadData and launched with
// cuLaunchKernel through the driver API). WaitFor records an event on the
// other stream and waits for it; BeginCapture/EndCapture wrap
// cudaStreamBeginCapture (relaxed mode) and cudaStreamEndCapture, and a
// Graph is the instantiated cudaGraphExec. Failures of queued work are
// sticky per queue and returned by Sync, with CUDA's error string; those
// enqueued while capturing belong to the capture and are returned by
// EndCapture. A call that synchronises the device breaks every capture in
// progress in the process (cudaFree above all, say from the garbage
// collector's cleanup of a dropped model), so Free defers its cudaFree and
// Close waits while any capture is under way, and Alloc zeroes new memory
// on a stream of its own.
//
// Precision (see Precision): fp32 by default; tf32 lets cuBLAS use the TF32
// tensor cores; bf16 makes a device.Model predict with bfloat16 matrix
// products in its LSTM (and TF32 in the rest).
//
// The precision is an option of the caller's (device.Options.Precision,
// OpenPrecision): the package does not read it from the environment.
// Environment: PERFPREDICT_CUDA_LIBS (library directory),
// PERFPREDICT_CUDA_DEVICE (ordinal, default 0).
//
// Not done: a persistent LSTM kernel keeping W_hh in shared memory (the
// batch-1 pass is 0.87 ms as a graph without one), bfloat16 storage of the
// gates and activations beyond the products' operands, cuBLASLt epilogues,
// more than one GPU per process.
package cuda
