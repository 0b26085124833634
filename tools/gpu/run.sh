#!/usr/bin/env bash
# GPU checks of the CUDA device backend (internal/device/cuda), in two halves:
#
#   tools/gpu/run.sh build   here, on a machine with Go and gcc (no GPU or
#                            CUDA SDK needed): builds the cuda-tagged test and
#                            benchmark binaries into .gpu/ (git-ignored) and
#                            copies the PyTorch benchmark of the same model
#                            (tools/fixtures/model_torch_bench.py) beside them.
#   tools/gpu/run.sh gpu     on the GPU machine (no Go there), from the
#                            repository root: runs the conformance suite on the
#                            GPU, the device benchmarks and model_torch_bench.py
#                            --device cuda in one go, so the figures come from
#                            the same machine. Logs go to $OUT (or .gpu/out).
#
# With the device tool: build here, then
#   run(command="bash tools/gpu/run.sh gpu", carry=[".gpu"], timeout_s=590)
# The steps' own timeouts add up to 580 s; a typical run takes about 2 minutes.
set -uo pipefail
cd "$(dirname "$0")/../.."

build() {
	set -e
	mkdir -p .gpu
	export CGO_ENABLED=1
	local flags=(-tags cuda -ldflags=-s\ -w)
	go test -c "${flags[@]}" -o .gpu/cuda.test ./internal/device/cuda
	go test -c "${flags[@]}" -o .gpu/bench.test ./bench
	go test -c "${flags[@]}" -o .gpu/root.test .
	cp -f tools/fixtures/model_torch_bench.py tools/fixtures/perfmodel.py .gpu/
	git rev-parse HEAD >.gpu/commit 2>/dev/null || true
	ls -l .gpu
	du -sh .gpu
}

gpu() {
	local out=${OUT:-.gpu/out}
	mkdir -p "$out"
	local root=$PWD orig_ldp=${LD_LIBRARY_PATH-}
	# NVRTC dlopens its builtins by soname: make CUDA's directory searchable
	# for our binaries (PyTorch below runs without it, on its own libraries).
	export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	{
		echo "commit $(cat .gpu/commit 2>/dev/null)"
		date -u
		nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
		ls /usr/local/cuda/lib64 2>&1 | grep -E 'lib(cudart|cublas|cublasLt|nvrtc|nvrtc-builtins)\.so' | head -20
		ldconfig -p 2>&1 | grep -E 'libcuda\.so|libcudart|libnvrtc' | head -8
	} >"$out/summary.txt" 2>&1
	cat "$out/summary.txt"

	# 1. Conformance on the GPU (values against the CPU packages, gradients,
	# Adam, the PyTorch LSTM fixtures, graph replay), the precisions
	# (TestPrecisions: fp32, tf32, bf16 against the CPU); the loader tests too.
	(cd internal/device/cuda && timeout 100 "$root/.gpu/cuda.test" -test.v -test.count=1) 2>&1 | tee "$out/cuda_test.log"
	echo "cuda.test exit ${PIPESTATUS[0]}" | tee -a "$out/summary.txt"
	# The root package's Model with Config.Device "cuda" against its pure-Go
	# path (TestDeviceCUDA: predictions, training steps, every tensor,
	# checkpoint, Clone, Close, Train), and the CPU-device comparisons.
	timeout 60 .gpu/root.test -test.run 'TestDevice' -test.v -test.count=1 2>&1 | tee "$out/root_test.log"
	echo "root.test exit ${PIPESTATUS[0]}" | tee -a "$out/summary.txt"

	# 2. The device benchmarks: the default model's forward (eager and as a
	# graph) at batch 1, 32, 1024, 4096 and a training step at batch 32;
	# then the root Model on Config.Device cuda (PredictInto at batch 1 and
	# 256, a Trainer step at 32 without dropout).
	(cd bench && PERFPREDICT_DEVICE=cuda PERFPREDICT_BENCH_BATCHES=1,32,1024,4096 timeout 150 "$root/.gpu/bench.test" \
		-test.run '^$' -test.bench 'BenchmarkDevice|BenchmarkModel(Predict|Train)' -test.benchtime 2s -test.count=1 -test.v) 2>&1 | tee "$out/bench_cuda.txt"
	echo "bench.test exit ${PIPESTATUS[0]}" | tee -a "$out/summary.txt"
	# The other precisions of the matrix products (PERFPREDICT_CUDA_PRECISION):
	# inference graphs only (TestPrecisions checked their accuracy above).
	for p in tf32 bf16; do
		(cd bench && PERFPREDICT_CUDA_PRECISION=$p PERFPREDICT_DEVICE=cuda PERFPREDICT_BENCH_BATCHES=1,1024,4096 timeout 60 \
			"$root/.gpu/bench.test" -test.run '^$' -test.bench 'BenchmarkDeviceModelPredict/batch=[0-9]+/graph' \
			-test.benchtime 2s -test.count=1) 2>&1 | tee "$out/bench_cuda_$p.txt"
		echo "bench.test ($p) exit ${PIPESTATUS[0]}" | tee -a "$out/summary.txt"
	done

	# 3. PyTorch with cuDNN on the same GPU, fp32 and bf16 autocast.
	env LD_LIBRARY_PATH="$orig_ldp" PYTHONUNBUFFERED=1 timeout 100 python3 .gpu/model_torch_bench.py --device cuda --batches 1,32,1024,4096 --json "$out/torch_cuda.json" \
		2>&1 | tail -40 >>"$out/torch.log"
	echo "model_torch_bench exit ${PIPESTATUS[0]}" | tee -a "$out/summary.txt"
	env LD_LIBRARY_PATH="$orig_ldp" PYTHONUNBUFFERED=1 timeout 50 python3 .gpu/model_torch_bench.py --device cuda --amp --batches 1,4096 --json "$out/torch_cuda_bf16.json" \
		2>&1 | tail -40 >>"$out/torch.log"
	echo "model_torch_bench bf16 exit ${PIPESTATUS[0]}" | tee -a "$out/summary.txt"
	grep -E 'seq/s|FAIL|ok ' "$out/bench_cuda.txt" "$out/cuda_test.log" | tail -40
	cat "$out/torch_cuda.json" 2>/dev/null
}

case "${1:-}" in
build) build ;;
gpu) gpu ;;
*)
	echo "usage: $0 build|gpu" >&2
	exit 2
	;;
esac
