// Element-wise and reduction kernels of the CUDA device, compiled at run time
// with NVRTC for the GPU's compute capability (see nvrtc.go). No headers: NVRTC
// provides the CUDA built-ins and math functions. Every kernel is extern "C"
// so that its name is the symbol cuModuleGetFunction looks up; kernelNames in
// kernels.go lists them. Matrix arguments are row-major with explicit row
// strides (ld*), as in device.Queue.

#define PP_BLOCK 256

__device__ __forceinline__ float pp_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// pp_bf16 rounds x to bfloat16 bits, to nearest with ties to even (a NaN
// becomes the quiet NaN 0x7fc0), as device.BF16Bits does.
__device__ __forceinline__ unsigned short pp_bf16(float x) {
	unsigned int u = __float_as_uint(x);
	if ((u & 0x7f800000u) == 0x7f800000u) return (u & 0x007fffffu) ? 0x7fc0 : (unsigned short)(u >> 16);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (unsigned short)(u >> 16);
}

// Grid-stride loop over n items.
#define PP_FOR(i, n) \
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (long long)(n); \
	     i += (long long)blockDim.x * gridDim.x)

// dst[r*ldd+j] = src[r*lds+j]; lds 0 broadcasts src's first row.
extern "C" __global__ void pp_copy2d(int rows, int cols, float* dst, int ldd, const float* src, int lds) {
	PP_FOR(i, (long long)rows * cols) {
		int r = (int)(i / cols), j = (int)(i % cols);
		dst[(long long)r * ldd + j] = src[(long long)r * lds + j];
	}
}

extern "C" __global__ void pp_fill2d(int rows, int cols, float* dst, int ld, float v) {
	PP_FOR(i, (long long)rows * cols) {
		int r = (int)(i / cols), j = (int)(i % cols);
		dst[(long long)r * ld + j] = v;
	}
}

// dst[i] = bfloat16(src[i]): the packed operands of bfloat16 matrix products.
extern "C" __global__ void pp_to_bf16(int n, unsigned short* dst, const float* src) {
	PP_FOR(i, n) { dst[i] = pp_bf16(src[i]); }
}

extern "C" __global__ void pp_add(int n, float* dst, const float* a, const float* b) {
	PP_FOR(i, n) { dst[i] = a[i] + b[i]; }
}

extern "C" __global__ void pp_mul(int n, float* dst, const float* a, const float* b) {
	PP_FOR(i, n) { dst[i] = a[i] * b[i]; }
}

// dst[j] = beta*dst[j] + sum_r src[r*ld+j]. Block (32, PP_COLSUM_ROWS): 32
// columns per block, the rows of threads stride over the rows; a fixed-order
// tree reduction in shared memory keeps the result deterministic.
#define PP_COLSUM_ROWS 8
extern "C" __global__ void pp_colsum(int rows, int cols, float* dst, float beta, const float* src, int ld) {
	__shared__ float part[PP_COLSUM_ROWS][33];
	int j = blockIdx.x * 32 + threadIdx.x;
	float s = 0.0f;
	if (j < cols) {
		for (int r = threadIdx.y; r < rows; r += PP_COLSUM_ROWS) s += src[(long long)r * ld + j];
	}
	part[threadIdx.y][threadIdx.x] = s;
	__syncthreads();
	for (int w = PP_COLSUM_ROWS / 2; w > 0; w >>= 1) {
		if ((int)threadIdx.y < w) part[threadIdx.y][threadIdx.x] += part[threadIdx.y + w][threadIdx.x];
		__syncthreads();
	}
	if (threadIdx.y == 0 && j < cols) {
		float t = part[0][threadIdx.x];
		dst[j] = beta == 0.0f ? t : beta * dst[j] + t;
	}
}

// One LSTM step for a batch: thread (b, j) reads the four pre-activations of
// unit j (adding bias when not NULL), writes back the activations and c,
// tanh(c), h (and h in bfloat16 into hb when not NULL). cprev NULL is the
// zero state.
extern "C" __global__ void pp_lstm_fwd(int B, int H, float* gates, int ldg, const float* bias,
                                       const float* cprev, int ldcp, float* c, int ldc, float* h, int ldh,
                                       float* tanhc, int ldt, unsigned short* hb, int ldhb) {
	PP_FOR(idx, (long long)B * H) {
		int b = (int)(idx / H), j = (int)(idx % H);
		float* g = gates + (long long)b * ldg;
		float zi = g[j], zf = g[H + j], zg = g[2 * H + j], zo = g[3 * H + j];
		if (bias) {
			zi += bias[j];
			zf += bias[H + j];
			zg += bias[2 * H + j];
			zo += bias[3 * H + j];
		}
		float i = pp_sigmoid(zi);
		float f = pp_sigmoid(zf);
		float gg = tanhf(zg);
		float o = pp_sigmoid(zo);
		g[j] = i;
		g[H + j] = f;
		g[2 * H + j] = gg;
		g[3 * H + j] = o;
		float cp = cprev ? cprev[(long long)b * ldcp + j] : 0.0f;
		float cv = f * cp + i * gg;
		float tc = tanhf(cv);
		c[(long long)b * ldc + j] = cv;
		tanhc[(long long)b * ldt + j] = tc;
		float hv = o * tc;
		h[(long long)b * ldh + j] = hv;
		if (hb) hb[(long long)b * ldhb + j] = pp_bf16(hv);
	}
}

// Backward of one step: dh += dout (if any); dc = dc + dh*o*(1-tanh(c)^2);
// the gate gradients; dc becomes the gradient of cprev. dg may be act: each
// thread reads its four activations before writing.
extern "C" __global__ void pp_lstm_bwd(int B, int H, float* dg, int lddg, const float* act, int lda,
                                       const float* cprev, int ldcp, const float* tanhc, int ldt,
                                       float* dh, const float* dout, int lddo, float* dc) {
	PP_FOR(idx, (long long)B * H) {
		int b = (int)(idx / H), j = (int)(idx % H);
		const float* a = act + (long long)b * lda;
		float i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
		float dhv = dh[idx];
		if (dout) dhv += dout[(long long)b * lddo + j];
		dh[idx] = dhv;
		float th = tanhc[(long long)b * ldt + j];
		float dcv = dc[idx] + dhv * o * (1.0f - th * th);
		float cp = cprev ? cprev[(long long)b * ldcp + j] : 0.0f;
		float* d = dg + (long long)b * lddg;
		d[j] = dcv * g * i * (1.0f - i);
		d[H + j] = dcv * cp * f * (1.0f - f);
		d[2 * H + j] = dcv * i * (1.0f - g * g);
		d[3 * H + j] = dhv * th * o * (1.0f - o);
		dc[idx] = dcv * f;
	}
}

// Attention scores: u = tanh(u + bias) in place, e[r] = v . u[r]; one warp
// per row.
extern "C" __global__ void pp_att_score(int rows, int d, float* u, const float* bias, const float* v, float* e) {
	int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
	if (warp >= rows) return;
	float* ur = u + (long long)warp * d;
	float s = 0.0f;
	for (int j = lane; j < d; j += 32) {
		float x = tanhf(ur[j] + bias[j]);
		ur[j] = x;
		s += x * v[j];
	}
	for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
	if (lane == 0) e[warp] = s;
}

// Block-wide reductions over PP_BLOCK threads (blockDim.x == PP_BLOCK).
__device__ float pp_block_max(float x, float* sh) {
	sh[threadIdx.x] = x;
	__syncthreads();
	for (int w = PP_BLOCK / 2; w > 0; w >>= 1) {
		if ((int)threadIdx.x < w) sh[threadIdx.x] = fmaxf(sh[threadIdx.x], sh[threadIdx.x + w]);
		__syncthreads();
	}
	float r = sh[0];
	__syncthreads();
	return r;
}

__device__ float pp_block_sum(float x, float* sh) {
	sh[threadIdx.x] = x;
	__syncthreads();
	for (int w = PP_BLOCK / 2; w > 0; w >>= 1) {
		if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
		__syncthreads();
	}
	float r = sh[0];
	__syncthreads();
	return r;
}

// Softmax over time of the scores in w (in place) and the context vector;
// one block per sequence.
extern "C" __global__ void pp_att_softmax_ctx(int batch, int steps, int d, float* w, const float* h, float* ctx) {
	__shared__ float sh[PP_BLOCK];
	int b = blockIdx.x;
	if (b >= batch) return;
	float* wb = w + (long long)b * steps;
	float m = -3.402823466e38f; // -FLT_MAX: NVRTC has no <float.h>
	for (int t = threadIdx.x; t < steps; t += PP_BLOCK) m = fmaxf(m, wb[t]);
	m = pp_block_max(m, sh);
	float s = 0.0f;
	for (int t = threadIdx.x; t < steps; t += PP_BLOCK) {
		float x = expf(wb[t] - m);
		wb[t] = x;
		s += x;
	}
	s = pp_block_sum(s, sh);
	for (int t = threadIdx.x; t < steps; t += PP_BLOCK) wb[t] /= s;
	__syncthreads();
	const float* hb = h + (long long)b * steps * d;
	for (int j = threadIdx.x; j < d; j += PP_BLOCK) {
		float acc = 0.0f;
		for (int t = 0; t < steps; t++) acc += wb[t] * hb[(long long)t * d + j];
		ctx[(long long)b * d + j] = acc;
	}
}

// Attention backward, scores: da_t = dctx . h_t (+ dw_t),
// de_t = a_t (da_t - sum_s a_s da_s); one block per sequence, one warp per
// time step at a time.
extern "C" __global__ void pp_att_bwd_scores(int batch, int steps, int d, const float* dctx, const float* dw,
                                             const float* h, const float* w, float* de) {
	__shared__ float sh[PP_BLOCK];
	int b = blockIdx.x;
	if (b >= batch) return;
	int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = PP_BLOCK / 32;
	const float* dc = dctx + (long long)b * d;
	for (int t = warp; t < steps; t += warps) {
		const float* ht = h + ((long long)b * steps + t) * d;
		float s = 0.0f;
		for (int j = lane; j < d; j += 32) s += dc[j] * ht[j];
		for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
		if (lane == 0) {
			long long r = (long long)b * steps + t;
			de[r] = s + (dw ? dw[r] : 0.0f);
		}
	}
	__syncthreads();
	const float* wb = w + (long long)b * steps;
	float* deb = de + (long long)b * steps;
	float s = 0.0f;
	for (int t = threadIdx.x; t < steps; t += PP_BLOCK) s += wb[t] * deb[t];
	s = pp_block_sum(s, sh);
	for (int t = threadIdx.x; t < steps; t += PP_BLOCK) deb[t] = wb[t] * (deb[t] - s);
}

// Attention backward, element-wise: the direct path dh = a_t dctx and the
// score path du = de_t v (1 - u^2), written over u.
extern "C" __global__ void pp_att_bwd_elem(int rows, int steps, int d, const float* dctx, const float* w,
                                           const float* de, const float* v, float* u, float* dh) {
	PP_FOR(i, (long long)rows * d) {
		long long r = i / d;
		int j = (int)(i % d);
		long long b = r / steps;
		dh[i] = w[r] * dctx[b * d + j];
		float uj = u[i];
		u[i] = de[r] * v[j] * (1.0f - uj * uj);
	}
}

// y = x*scale + shift per column (scale NULL means 1), then ReLU if relu.
extern "C" __global__ void pp_affine(int rows, int cols, float* y, const float* x, const float* scale,
                                     const float* shift, int relu) {
	PP_FOR(i, (long long)rows * cols) {
		int j = (int)(i % cols);
		float v = scale ? x[i] * scale[j] + shift[j] : x[i] + shift[j];
		if (relu && !(v > 0.0f)) v = 0.0f;
		y[i] = v;
	}
}

extern "C" __global__ void pp_relu_bwd(int n, float* dx, const float* dy, const float* y) {
	PP_FOR(i, n) { dx[i] = y[i] > 0.0f ? dy[i] : 0.0f; }
}

// Column statistics in double, as internal/nn's BatchNorm1d: one block per
// column.
__device__ void pp_bn_stats(int batch, int n, int j, const float* x, double eps, double* sh, double* mean,
                            double* inv, double* ss_out) {
	double s = 0.0;
	for (int r = threadIdx.x; r < batch; r += PP_BLOCK) s += (double)x[(long long)r * n + j];
	sh[threadIdx.x] = s;
	__syncthreads();
	for (int w = PP_BLOCK / 2; w > 0; w >>= 1) {
		if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
		__syncthreads();
	}
	double m = sh[0] / batch;
	__syncthreads();
	double ss = 0.0;
	for (int r = threadIdx.x; r < batch; r += PP_BLOCK) {
		double dv = (double)x[(long long)r * n + j] - m;
		ss += dv * dv;
	}
	sh[threadIdx.x] = ss;
	__syncthreads();
	for (int w = PP_BLOCK / 2; w > 0; w >>= 1) {
		if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
		__syncthreads();
	}
	ss = sh[0];
	__syncthreads();
	*mean = m;
	*inv = 1.0 / sqrt(ss / batch + eps);
	*ss_out = ss;
}

extern "C" __global__ void pp_bn_train(int batch, int n, const float* x, float* y, const float* gamma,
                                       const float* beta, float* rmean, float* rvar, float* mean,
                                       float* invstd, float momentum, float eps) {
	__shared__ double sh[PP_BLOCK];
	int j = blockIdx.x;
	if (j >= n) return;
	double m, inv, ss;
	pp_bn_stats(batch, n, j, x, (double)eps, sh, &m, &inv, &ss);
	double g = gamma[j], bb = beta[j];
	for (int r = threadIdx.x; r < batch; r += PP_BLOCK) {
		long long k = (long long)r * n + j;
		y[k] = (float)(((double)x[k] - m) * inv * g + bb);
	}
	if (threadIdx.x == 0) {
		double mo = (double)momentum;
		rmean[j] = (float)(mo * m + (1.0 - mo) * (double)rmean[j]);
		rvar[j] = (float)(mo * ss / (batch - 1) + (1.0 - mo) * (double)rvar[j]);
		mean[j] = (float)m;
		invstd[j] = (float)inv;
	}
}

// Backward: the statistics are recomputed from x in double (not read back
// from the float32 mean and invstd) to match internal/nn.
extern "C" __global__ void pp_bn_bwd(int batch, int n, const float* x, const float* dy, float* dx,
                                     const float* gamma, float* dgamma, float* dbeta, float eps) {
	__shared__ double sh[PP_BLOCK];
	__shared__ double sh2[PP_BLOCK];
	int j = blockIdx.x;
	if (j >= n) return;
	double m, inv, ss;
	pp_bn_stats(batch, n, j, x, (double)eps, sh, &m, &inv, &ss);
	double sum = 0.0, dotp = 0.0;
	for (int r = threadIdx.x; r < batch; r += PP_BLOCK) {
		long long k = (long long)r * n + j;
		double d = (double)dy[k];
		sum += d;
		dotp += ((double)x[k] - m) * d;
	}
	sh[threadIdx.x] = sum;
	sh2[threadIdx.x] = dotp;
	__syncthreads();
	for (int w = PP_BLOCK / 2; w > 0; w >>= 1) {
		if ((int)threadIdx.x < w) {
			sh[threadIdx.x] += sh[threadIdx.x + w];
			sh2[threadIdx.x] += sh2[threadIdx.x + w];
		}
		__syncthreads();
	}
	sum = sh[0];
	dotp = sh2[0];
	double k2 = dotp * inv * inv / batch, gm = sum / batch, wj = (double)gamma[j];
	// dx may alias dy: every thread has read its rows of dy above, and
	// writes only those rows below.
	for (int r = threadIdx.x; r < batch; r += PP_BLOCK) {
		long long k = (long long)r * n + j;
		double c = ((double)x[k] - m) * k2;
		dx[k] = (float)(((double)dy[k] - gm - c) * inv * wj);
	}
	if (threadIdx.x == 0) {
		dgamma[j] += (float)(dotp * inv);
		dbeta[j] += (float)sum;
	}
}

// One Adam step, with nn.Adam's float32 operation order; the scalars come
// from device.AdamArgs.Scalars.
extern "C" __global__ void pp_adam(int n, float* p, const float* g, float* m, float* v, float b1, float b2,
                                   float c1, float c2, float bc2sqrt, float negstep, float eps) {
	PP_FOR(i, n) {
		float gi = g[i];
		float mi = m[i] * b1 + c1 * gi;
		float vi = v[i] * b2 + c2 * gi * gi;
		m[i] = mi;
		v[i] = vi;
		float denom = sqrtf(vi) / bc2sqrt + eps;
		p[i] += negstep * mi / denom;
	}
}
