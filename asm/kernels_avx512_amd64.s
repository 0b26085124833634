//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 kernels. Tails use the opmask registers: K1 holds the lanes a
// partial block may touch, so no scalar loop is needed. K2 is scratch for the
// activation macros.
//
// The activations share one algorithm with the AVX2 file (see exp below), so
// both levels give the same results bit for bit.

// Constant registers loaded by LOADCONSTS (Z19-Z31); Z0-Z18 are free.
#define SIGN Z31
#define ONE Z30
#define CLAMP Z29
#define LOG2E Z28
#define MAGIC Z27
#define NEGC1 Z26
#define NEGC2 Z25
#define P0 Z24
#define P1 Z23
#define P2 Z22
#define P3 Z21
#define P4 Z20
#define P5 Z19

#define BCAST(v, z) MOVL v, BX; VPBROADCASTD BX, z

#define LOADCONSTS \
	BCAST($0x80000000, SIGN); \
	BCAST($0x3f800000, ONE); \
	BCAST($0xc2b00000, CLAMP); \
	BCAST($0x3fb8aa3b, LOG2E); \
	BCAST($0x4b400000, MAGIC); \
	BCAST($0xbf318000, NEGC1); \
	BCAST($0x395e8083, NEGC2); \
	BCAST($0x39506967, P0); \
	BCAST($0x3ab743ce, P1); \
	BCAST($0x3c088908, P2); \
	BCAST($0x3d2aa9c1, P3); \
	BCAST($0x3e2aaaaa, P4); \
	BCAST($0x3f000000, P5)

// EXPQ prepares exp(y) for y in [-88, 0] or NaN (callers clamp): it leaves
// s = 2^n in ta and q = exp(r) - 1 in tc with exp(y) = s*(1+q). n =
// round(y*log2e) comes from adding 1.5*2^23, whose low mantissa bits are then
// n itself; r = y - n*ln2 in two steps (Cody-Waite, Cephes' constants);
// q = r + r^2*p(r) with Cephes' degree-5 expf polynomial p; s is built by
// adding n<<23 to the bits of 1.0 (n = -127 gives +0, the right answer to
// float32 precision).
#define EXPQ(y, ta, tb, tc) \
	VMOVAPS MAGIC, ta; \
	VFMADD231PS LOG2E, y, ta; \
	VSUBPS MAGIC, ta, tb; \
	VFMADD231PS NEGC1, tb, y; \
	VFMADD231PS NEGC2, tb, y; \
	VPSLLD $23, ta, ta; \
	VPADDD ONE, ta, ta; \
	VMULPS y, y, tb; \
	VMOVAPS P0, tc; \
	VFMADD213PS P1, y, tc; \
	VFMADD213PS P2, y, tc; \
	VFMADD213PS P3, y, tc; \
	VFMADD213PS P4, y, tc; \
	VFMADD213PS P5, y, tc; \
	VFMADD213PS y, tb, tc

// EXP sets y = exp(y) = s*q + s (one FMA).
#define EXP(y, ta, tb, tc) \
	EXPQ(y, ta, tb, tc); \
	VMOVAPS ta, y; \
	VFMADD231PS tc, ta, y

// SIGMOID sets x = 1/(1+exp(-x)) as num/(1+e) with e = exp(-|x|) and num = 1
// for x >= 0, e for x < 0: exp never overflows and small results keep their
// relative accuracy. VMAXPS returns its first (Go) operand when either is NaN,
// so the clamp lets NaN through.
#define SIGMOID(x, y, ta, tb, tc) \
	VORPS SIGN, x, y; \
	VMAXPS y, CLAMP, y; \
	EXP(y, ta, tb, tc); \
	VADDPS ONE, y, tb; \
	VPMOVD2M x, K2; \
	VBLENDMPS y, ONE, K2, ta; \
	VDIVPS tb, ta, x

// TANH sets x = tanh(x) = sign(x)*|m/(2+m)| with m = expm1(-2|x|) in
// (-1, 0]: m = s*q + (s-1) and 2+m = s*q + (s+1), each one FMA with an exact
// addend (see EXPQ), so both keep full relative accuracy, near 0 (m = -2|x| to
// rounding) and near saturation alike; large |x| gives m = -1, so ±1 without
// overflow; NaN passes through. VPTERNLOGD takes the sign bit from x and the
// rest from the quotient.
#define TANH(x, y, ta, tb, tc) \
	VORPS SIGN, x, y; \
	VADDPS y, y, y; \
	VMAXPS y, CLAMP, y; \
	EXPQ(y, ta, tb, tc); \
	VSUBPS ONE, ta, y; \
	VFMADD231PS tc, ta, y; \
	VADDPS ONE, ta, tb; \
	VFMADD231PS tc, ta, tb; \
	VDIVPS tb, y, y; \
	VPTERNLOGD $0xE4, SIGN, y, x

// TAILMASK sets K1 to the low n lanes (n in CX, 0 < n < 16).
#define TAILMASK \
	MOVL $1, BX; \
	SHLL CX, BX; \
	DECL BX; \
	KMOVW BX, K1

// func dotAVX512(x, y []float32) float32
TEXT ·dotAVX512(SB), NOSPLIT, $0-52
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	CMPQ CX, $64
	JB dot16

dot64:
	VMOVUPS (SI), Z4
	VMOVUPS 64(SI), Z5
	VMOVUPS 128(SI), Z6
	VMOVUPS 192(SI), Z7
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z5, Z1
	VFMADD231PS 128(DI), Z6, Z2
	VFMADD231PS 192(DI), Z7, Z3
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	CMPQ CX, $64
	JAE dot64

dot16:
	CMPQ CX, $16
	JB dottail
	VMOVUPS (SI), Z4
	VFMADD231PS (DI), Z4, Z0
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP dot16

dottail:
	TESTQ CX, CX
	JZ dotsum
	TAILMASK
	VMOVUPS.Z (SI), K1, Z4
	VMOVUPS.Z (DI), K1, Z5
	VFMADD231PS Z5, Z4, Z1

dotsum:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// func axpyAVX512(alpha float32, x, y []float32)
TEXT ·axpyAVX512(SB), NOSPLIT, $0-56
	VBROADCASTSS alpha+0(FP), Z31
	MOVQ x_base+8(FP), SI
	MOVQ x_len+16(FP), CX
	MOVQ y_base+32(FP), DI
	CMPQ CX, $64
	JB axpy16

axpy64:
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VFMADD231PS (SI), Z31, Z0
	VFMADD231PS 64(SI), Z31, Z1
	VFMADD231PS 128(SI), Z31, Z2
	VFMADD231PS 192(SI), Z31, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	CMPQ CX, $64
	JAE axpy64

axpy16:
	CMPQ CX, $16
	JB axpytail
	VMOVUPS (DI), Z0
	VFMADD231PS (SI), Z31, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP axpy16

axpytail:
	TESTQ CX, CX
	JZ axpydone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z1
	VMOVUPS.Z (DI), K1, Z0
	VFMADD231PS Z1, Z31, Z0
	VMOVUPS Z0, K1, (DI)

axpydone:
	VZEROUPPER
	RET

// func scaleAVX512(alpha float32, x []float32)
TEXT ·scaleAVX512(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Z31
	MOVQ x_base+8(FP), SI
	MOVQ x_len+16(FP), CX
	CMPQ CX, $64
	JB scale16

scale64:
	VMULPS (SI), Z31, Z0
	VMULPS 64(SI), Z31, Z1
	VMULPS 128(SI), Z31, Z2
	VMULPS 192(SI), Z31, Z3
	VMOVUPS Z0, (SI)
	VMOVUPS Z1, 64(SI)
	VMOVUPS Z2, 128(SI)
	VMOVUPS Z3, 192(SI)
	ADDQ $256, SI
	SUBQ $64, CX
	CMPQ CX, $64
	JAE scale64

scale16:
	CMPQ CX, $16
	JB scaletail
	VMULPS (SI), Z31, Z0
	VMOVUPS Z0, (SI)
	ADDQ $64, SI
	SUBQ $16, CX
	JMP scale16

scaletail:
	TESTQ CX, CX
	JZ scaledone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	VMULPS Z0, Z31, Z0
	VMOVUPS Z0, K1, (SI)

scaledone:
	VZEROUPPER
	RET

// func sigmoidAVX512(dst, x []float32)
TEXT ·sigmoidAVX512(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	TESTQ CX, CX
	JZ sigdone
	LOADCONSTS

sig32:
	CMPQ CX, $32
	JB sig16
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z5
	SIGMOID(Z0, Z1, Z2, Z3, Z4)
	SIGMOID(Z5, Z6, Z7, Z8, Z9)
	VMOVUPS Z0, (DI)
	VMOVUPS Z5, 64(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP sig32

sig16:
	CMPQ CX, $16
	JB sigtail
	VMOVUPS (SI), Z0
	SIGMOID(Z0, Z1, Z2, Z3, Z4)
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX

sigtail:
	TESTQ CX, CX
	JZ sigdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	SIGMOID(Z0, Z1, Z2, Z3, Z4)
	VMOVUPS Z0, K1, (DI)

sigdone:
	VZEROUPPER
	RET

// func tanhAVX512(dst, x []float32)
TEXT ·tanhAVX512(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	TESTQ CX, CX
	JZ tanhdone
	LOADCONSTS

tanh32:
	CMPQ CX, $32
	JB tanh16
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z6
	TANH(Z0, Z1, Z2, Z3, Z4)
	TANH(Z6, Z7, Z8, Z9, Z10)
	VMOVUPS Z0, (DI)
	VMOVUPS Z6, 64(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP tanh32

tanh16:
	CMPQ CX, $16
	JB tanhtail
	VMOVUPS (SI), Z0
	TANH(Z0, Z1, Z2, Z3, Z4)
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX

tanhtail:
	TESTQ CX, CX
	JZ tanhdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	TANH(Z0, Z1, Z2, Z3, Z4)
	VMOVUPS Z0, K1, (DI)

tanhdone:
	VZEROUPPER
	RET

// CELLSTATE computes c = f*cPrev + i*g, tanhC = tanh(c) and h = o*tanhC for
// the block at byte offset off under mask K1 from the activations: DI, R9,
// R10, R11 point at i, f, g, o, SI at cPrev, DX at c, R12 at h, R13 at tanhC.
// cPrev is read before c is written, so the two may alias. z0-z5 are scratch
// (z0 ends as h).
#define CELLSTATE(off, z0, z1, z2, z3, z4, z5) \
	VMOVUPS.Z off(DI)(AX*1), K1, z0; \
	VMULPS.Z off(R10)(AX*1), z0, K1, z0; \
	VMOVUPS.Z off(R9)(AX*1), K1, z1; \
	VFMADD231PS.Z off(SI)(AX*1), z1, K1, z0; \
	VMOVUPS z0, K1, off(DX)(AX*1); \
	TANH(z0, z1, z2, z3, z4); \
	VMOVUPS z0, K1, off(R13)(AX*1); \
	VMULPS.Z off(R11)(AX*1), z0, K1, z0; \
	VMOVUPS z0, K1, off(R12)(AX*1)

// func lstmCellStateAVX512(act, cPrev, c, h, tanhC []float32)
TEXT ·lstmCellStateAVX512(SB), NOSPLIT, $0-120
	MOVQ act_base+0(FP), DI
	MOVQ cPrev_base+24(FP), SI
	MOVQ c_base+48(FP), DX
	MOVQ c_len+56(FP), CX
	MOVQ h_base+72(FP), R12
	MOVQ tanhC_base+96(FP), R13
	TESTQ CX, CX
	JZ statedone
	LEAQ (DI)(CX*4), R9
	LEAQ (R9)(CX*4), R10
	LEAQ (R10)(CX*4), R11
	LOADCONSTS
	XORQ AX, AX
	MOVL $0xffff, BX
	KMOVW BX, K1

state32:
	CMPQ CX, $32
	JB state16
	CELLSTATE(0, Z0, Z1, Z2, Z3, Z4, Z5)
	CELLSTATE(64, Z6, Z7, Z8, Z9, Z10, Z11)
	ADDQ $128, AX
	SUBQ $32, CX
	JMP state32

state16:
	CMPQ CX, $16
	JB statetail
	CELLSTATE(0, Z0, Z1, Z2, Z3, Z4, Z5)
	ADDQ $64, AX
	SUBQ $16, CX

statetail:
	TESTQ CX, CX
	JZ statedone
	TAILMASK
	CELLSTATE(0, Z0, Z1, Z2, Z3, Z4, Z5)

statedone:
	VZEROUPPER
	RET

// CELLBWD is one block of LSTMCellBackward under mask K1, in the reference's
// order of operations (no FMA), so it matches the Go loop bit for bit. SI and
// DI point at the block's i gate in act and dGates (advanced per block); the
// f, g, o gates are R8 = 4H, 2*R8 and R9 = 12H bytes further. AX is the byte
// offset into cPrev (DX), tanhC (R10), dh (R11) and dc (R12).
#define CELLBWD \
	VMOVUPS.Z (SI), K1, Z0; \
	VMOVUPS.Z (SI)(R8*1), K1, Z1; \
	VMOVUPS.Z (SI)(R8*2), K1, Z2; \
	VMOVUPS.Z (SI)(R9*1), K1, Z3; \
	VMOVUPS.Z (R10)(AX*1), K1, Z5; \
	VMOVUPS.Z (R11)(AX*1), K1, Z6; \
	VMOVUPS.Z (R12)(AX*1), K1, Z7; \
	VMULPS Z5, Z5, Z8; \
	VSUBPS Z8, ONE, Z8; \
	VMULPS Z3, Z6, Z9; \
	VMULPS Z8, Z9, Z9; \
	VADDPS Z7, Z9, Z9; \
	VSUBPS Z0, ONE, Z10; \
	VMULPS Z2, Z9, Z11; \
	VMULPS Z0, Z11, Z11; \
	VMULPS Z10, Z11, Z11; \
	VMOVUPS Z11, K1, (DI); \
	VSUBPS Z1, ONE, Z10; \
	VMOVUPS.Z (DX)(AX*1), K1, Z8; \
	VMULPS Z8, Z9, Z11; \
	VMULPS Z1, Z11, Z11; \
	VMULPS Z10, Z11, Z11; \
	VMOVUPS Z11, K1, (DI)(R8*1); \
	VMULPS Z2, Z2, Z10; \
	VSUBPS Z10, ONE, Z10; \
	VMULPS Z0, Z9, Z11; \
	VMULPS Z10, Z11, Z11; \
	VMOVUPS Z11, K1, (DI)(R8*2); \
	VSUBPS Z3, ONE, Z10; \
	VMULPS Z5, Z6, Z11; \
	VMULPS Z3, Z11, Z11; \
	VMULPS Z10, Z11, Z11; \
	VMOVUPS Z11, K1, (DI)(R9*1); \
	VMULPS Z1, Z9, Z9; \
	VMOVUPS Z9, K1, (R12)(AX*1)

// func lstmCellBackwardAVX512(dGates, act, cPrev, tanhC, dh, dc []float32)
TEXT ·lstmCellBackwardAVX512(SB), NOSPLIT, $0-144
	MOVQ dGates_base+0(FP), DI
	MOVQ act_base+24(FP), SI
	MOVQ cPrev_base+48(FP), DX
	MOVQ tanhC_base+72(FP), R10
	MOVQ dh_base+96(FP), R11
	MOVQ dh_len+104(FP), CX
	MOVQ dc_base+120(FP), R12
	TESTQ CX, CX
	JZ bwddone
	LEAQ (CX*4), R8
	LEAQ (R8)(R8*2), R9
	BCAST($0x3f800000, ONE)
	XORQ AX, AX
	MOVL $0xffff, BX
	KMOVW BX, K1

bwd16:
	CMPQ CX, $16
	JB bwdtail
	CELLBWD
	ADDQ $64, AX
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP bwd16

bwdtail:
	TESTQ CX, CX
	JZ bwddone
	TAILMASK
	CELLBWD

bwddone:
	VZEROUPPER
	RET
