//go:build amd64 && !purego

#include "textflag.h"

// AVX2+FMA kernels. Tails use VMASKMOVPS with a lane mask from tailmask<>
// (masked-off lanes are neither read nor written); the activations follow the
// same algorithm as the AVX-512 file, so the two levels agree bit for bit.
//
// Registers: Y15 = sign bit, Y14 = 1.0, Y13 = -88 (exp's clamp), Y12 = tail
// mask; Y0-Y11 are free. Other constants are 8-lane vectors in memory.

#define CONST8(name, v) \
	DATA name<>+0(SB)/4, v; \
	DATA name<>+4(SB)/4, v; \
	DATA name<>+8(SB)/4, v; \
	DATA name<>+12(SB)/4, v; \
	DATA name<>+16(SB)/4, v; \
	DATA name<>+20(SB)/4, v; \
	DATA name<>+24(SB)/4, v; \
	DATA name<>+28(SB)/4, v; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

CONST8(signbit, $0x80000000)
CONST8(one, $0x3f800000)
CONST8(clamp, $0xc2b00000)
CONST8(log2e, $0x3fb8aa3b)
CONST8(magic, $0x4b400000)
CONST8(negc1, $0xbf318000)
CONST8(negc2, $0x395e8083)
CONST8(p0, $0x39506967)
CONST8(p1, $0x3ab743ce)
CONST8(p2, $0x3c088908)
CONST8(p3, $0x3d2aa9c1)
CONST8(p4, $0x3e2aaaaa)
CONST8(p5, $0x3f000000)

// tailmask<>+32-4k holds k all-ones lanes followed by zero lanes.
DATA tailmask<>+0(SB)/8, $-1
DATA tailmask<>+8(SB)/8, $-1
DATA tailmask<>+16(SB)/8, $-1
DATA tailmask<>+24(SB)/8, $-1
DATA tailmask<>+32(SB)/8, $0
DATA tailmask<>+40(SB)/8, $0
DATA tailmask<>+48(SB)/8, $0
DATA tailmask<>+56(SB)/8, $0
GLOBL tailmask<>(SB), RODATA|NOPTR, $64

#define SIGN Y15
#define ONE Y14
#define CLAMP Y13
#define MASK Y12

#define LOADCONSTS \
	VMOVUPS signbit<>(SB), SIGN; \
	VMOVUPS one<>(SB), ONE; \
	VMOVUPS clamp<>(SB), CLAMP

// TAILMASK sets MASK to the low CX lanes (0 < CX < 8); clobbers BX.
#define TAILMASK \
	LEAQ tailmask<>+32(SB), BX; \
	NEGQ CX; \
	VMOVUPS (BX)(CX*4), MASK; \
	NEGQ CX

// EXPQ and EXP are as in the AVX-512 file.
#define EXPQ(y, ta, tb, tc) \
	VMOVUPS magic<>(SB), ta; \
	VFMADD231PS log2e<>(SB), y, ta; \
	VSUBPS magic<>(SB), ta, tb; \
	VFMADD231PS negc1<>(SB), tb, y; \
	VFMADD231PS negc2<>(SB), tb, y; \
	VPSLLD $23, ta, ta; \
	VPADDD ONE, ta, ta; \
	VMULPS y, y, tb; \
	VMOVUPS p0<>(SB), tc; \
	VFMADD213PS p1<>(SB), y, tc; \
	VFMADD213PS p2<>(SB), y, tc; \
	VFMADD213PS p3<>(SB), y, tc; \
	VFMADD213PS p4<>(SB), y, tc; \
	VFMADD213PS p5<>(SB), y, tc; \
	VFMADD213PS y, tb, tc

#define EXP(y, ta, tb, tc) \
	EXPQ(y, ta, tb, tc); \
	VMOVAPS ta, y; \
	VFMADD231PS tc, ta, y

// SIGMOID sets x = sigmoid(x) = num/(1+e), e = exp(-|x|), num = e where x's
// sign bit is set (VBLENDVPS selects on it), else 1.
#define SIGMOID(x, y, ta, tb, tc) \
	VORPS SIGN, x, y; \
	VMAXPS y, CLAMP, y; \
	EXP(y, ta, tb, tc); \
	VADDPS ONE, y, tb; \
	VBLENDVPS x, y, ONE, ta; \
	VDIVPS tb, ta, x

// TANH sets x = tanh(x) = sign(x)*|m/(2+m)|, m = expm1(-2|x|); see the
// AVX-512 file.
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
	VANDNPS y, SIGN, y; \
	VANDPS SIGN, x, x; \
	VORPS y, x, x

// LD and ST are plain loads and stores in the main loops and are redefined
// as masked ones for the tails of the LSTM cell kernels.
#define LD(addr, r) VMOVUPS addr, r
#define ST(r, addr) VMOVUPS r, addr

// func dotAVX2(x, y []float32) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ CX, $32
	JB dot8

dot32:
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JAE dot32

dot8:
	CMPQ CX, $8
	JB dottail
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP dot8

dottail:
	TESTQ CX, CX
	JZ dotsum
	TAILMASK
	VMASKMOVPS (SI), MASK, Y4
	VMASKMOVPS (DI), MASK, Y5
	VFMADD231PS Y5, Y4, Y1

dotsum:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// func axpyAVX2(alpha float32, x, y []float32)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-56
	VBROADCASTSS alpha+0(FP), Y11
	MOVQ x_base+8(FP), SI
	MOVQ x_len+16(FP), CX
	MOVQ y_base+32(FP), DI
	CMPQ CX, $32
	JB axpy8

axpy32:
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VFMADD231PS (SI), Y11, Y0
	VFMADD231PS 32(SI), Y11, Y1
	VFMADD231PS 64(SI), Y11, Y2
	VFMADD231PS 96(SI), Y11, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JAE axpy32

axpy8:
	CMPQ CX, $8
	JB axpytail
	VMOVUPS (DI), Y0
	VFMADD231PS (SI), Y11, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP axpy8

axpytail:
	TESTQ CX, CX
	JZ axpydone
	TAILMASK
	VMASKMOVPS (SI), MASK, Y1
	VMASKMOVPS (DI), MASK, Y0
	VFMADD231PS Y1, Y11, Y0
	VMASKMOVPS Y0, MASK, (DI)

axpydone:
	VZEROUPPER
	RET

// func scaleAVX2(alpha float32, x []float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Y11
	MOVQ x_base+8(FP), SI
	MOVQ x_len+16(FP), CX
	CMPQ CX, $32
	JB scale8

scale32:
	VMULPS (SI), Y11, Y0
	VMULPS 32(SI), Y11, Y1
	VMULPS 64(SI), Y11, Y2
	VMULPS 96(SI), Y11, Y3
	VMOVUPS Y0, (SI)
	VMOVUPS Y1, 32(SI)
	VMOVUPS Y2, 64(SI)
	VMOVUPS Y3, 96(SI)
	ADDQ $128, SI
	SUBQ $32, CX
	CMPQ CX, $32
	JAE scale32

scale8:
	CMPQ CX, $8
	JB scaletail
	VMULPS (SI), Y11, Y0
	VMOVUPS Y0, (SI)
	ADDQ $32, SI
	SUBQ $8, CX
	JMP scale8

scaletail:
	TESTQ CX, CX
	JZ scaledone
	TAILMASK
	VMASKMOVPS (SI), MASK, Y0
	VMULPS Y0, Y11, Y0
	VMASKMOVPS Y0, MASK, (SI)

scaledone:
	VZEROUPPER
	RET

// func sigmoidAVX2(dst, x []float32)
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	TESTQ CX, CX
	JZ sigdone
	LOADCONSTS

sig16:
	CMPQ CX, $16
	JB sig8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y5
	SIGMOID(Y0, Y1, Y2, Y3, Y4)
	SIGMOID(Y5, Y6, Y7, Y8, Y9)
	VMOVUPS Y0, (DI)
	VMOVUPS Y5, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP sig16

sig8:
	CMPQ CX, $8
	JB sigtail
	VMOVUPS (SI), Y0
	SIGMOID(Y0, Y1, Y2, Y3, Y4)
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX

sigtail:
	TESTQ CX, CX
	JZ sigdone
	TAILMASK
	VMASKMOVPS (SI), MASK, Y0
	SIGMOID(Y0, Y1, Y2, Y3, Y4)
	VMASKMOVPS Y0, MASK, (DI)

sigdone:
	VZEROUPPER
	RET

// func tanhAVX2(dst, x []float32)
TEXT ·tanhAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	TESTQ CX, CX
	JZ tanhdone
	LOADCONSTS

tanh16:
	CMPQ CX, $16
	JB tanh8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y6
	TANH(Y0, Y1, Y2, Y3, Y4)
	TANH(Y6, Y7, Y8, Y9, Y10)
	VMOVUPS Y0, (DI)
	VMOVUPS Y6, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP tanh16

tanh8:
	CMPQ CX, $8
	JB tanhtail
	VMOVUPS (SI), Y0
	TANH(Y0, Y1, Y2, Y3, Y4)
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX

tanhtail:
	TESTQ CX, CX
	JZ tanhdone
	TAILMASK
	VMASKMOVPS (SI), MASK, Y0
	TANH(Y0, Y1, Y2, Y3, Y4)
	VMASKMOVPS Y0, MASK, (DI)

tanhdone:
	VZEROUPPER
	RET

// CELLSTATE is one 8-lane block of the cell state update; see the AVX-512
// file for the registers. cPrev is read before c is written.
#define CELLSTATE(off, y0, y1, y2, y3, y4, y5) \
	LD(off(DI)(AX*1), y0); \
	LD(off(R10)(AX*1), y1); \
	VMULPS y1, y0, y0; \
	LD(off(R9)(AX*1), y1); \
	LD(off(SI)(AX*1), y2); \
	VFMADD231PS y2, y1, y0; \
	ST(y0, off(DX)(AX*1)); \
	TANH(y0, y1, y2, y3, y4); \
	ST(y0, off(R13)(AX*1)); \
	LD(off(R11)(AX*1), y1); \
	VMULPS y1, y0, y0; \
	ST(y0, off(R12)(AX*1))

// CELLBWD is one 8-lane block of LSTMCellBackward in the reference's order of
// operations; see the AVX-512 file for the registers.
#define CELLBWD \
	LD((SI), Y0); \
	LD((SI)(R8*1), Y1); \
	LD((SI)(R8*2), Y2); \
	LD((SI)(R9*1), Y3); \
	LD((R10)(AX*1), Y5); \
	LD((R11)(AX*1), Y6); \
	LD((R12)(AX*1), Y7); \
	VMULPS Y5, Y5, Y8; \
	VSUBPS Y8, ONE, Y8; \
	VMULPS Y3, Y6, Y9; \
	VMULPS Y8, Y9, Y9; \
	VADDPS Y7, Y9, Y9; \
	VSUBPS Y0, ONE, Y10; \
	VMULPS Y2, Y9, Y11; \
	VMULPS Y0, Y11, Y11; \
	VMULPS Y10, Y11, Y11; \
	ST(Y11, (DI)); \
	VSUBPS Y1, ONE, Y10; \
	LD((DX)(AX*1), Y8); \
	VMULPS Y8, Y9, Y11; \
	VMULPS Y1, Y11, Y11; \
	VMULPS Y10, Y11, Y11; \
	ST(Y11, (DI)(R8*1)); \
	VMULPS Y2, Y2, Y10; \
	VSUBPS Y10, ONE, Y10; \
	VMULPS Y0, Y9, Y11; \
	VMULPS Y10, Y11, Y11; \
	ST(Y11, (DI)(R8*2)); \
	VSUBPS Y3, ONE, Y10; \
	VMULPS Y5, Y6, Y11; \
	VMULPS Y3, Y11, Y11; \
	VMULPS Y10, Y11, Y11; \
	ST(Y11, (DI)(R9*1)); \
	VMULPS Y1, Y9, Y9; \
	ST(Y9, (R12)(AX*1))

// func lstmCellStateAVX2(act, cPrev, c, h, tanhC []float32)
TEXT ·lstmCellStateAVX2(SB), NOSPLIT, $0-120
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

state16:
	CMPQ CX, $16
	JB state8
	CELLSTATE(0, Y0, Y1, Y2, Y3, Y4, Y5)
	CELLSTATE(32, Y6, Y7, Y8, Y9, Y10, Y11)
	ADDQ $64, AX
	SUBQ $16, CX
	JMP state16

state8:
	CMPQ CX, $8
	JB statetail
	CELLSTATE(0, Y0, Y1, Y2, Y3, Y4, Y5)
	ADDQ $32, AX
	SUBQ $8, CX

statetail:
	TESTQ CX, CX
	JZ statedone
	TAILMASK
#undef LD
#undef ST
#define LD(addr, r) VMASKMOVPS addr, MASK, r
#define ST(r, addr) VMASKMOVPS r, MASK, addr
	CELLSTATE(0, Y0, Y1, Y2, Y3, Y4, Y5)
#undef LD
#undef ST
#define LD(addr, r) VMOVUPS addr, r
#define ST(r, addr) VMOVUPS r, addr

statedone:
	VZEROUPPER
	RET

// func lstmCellBackwardAVX2(dGates, act, cPrev, tanhC, dh, dc []float32)
TEXT ·lstmCellBackwardAVX2(SB), NOSPLIT, $0-144
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
	VMOVUPS one<>(SB), ONE
	XORQ AX, AX

bwd8:
	CMPQ CX, $8
	JB bwdtail
	CELLBWD
	ADDQ $32, AX
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP bwd8

bwdtail:
	TESTQ CX, CX
	JZ bwddone
	TAILMASK
#undef LD
#undef ST
#define LD(addr, r) VMASKMOVPS addr, MASK, r
#define ST(r, addr) VMASKMOVPS r, MASK, addr
	CELLBWD

bwddone:
	VZEROUPPER
	RET
