//go:build amd64 && !purego

#include "textflag.h"

// LSTMCellForwardReduced at the AVX-512 level (see cell_reduced.go; its Go
// twin lstmCellReducedGo is the reference loop). One block is 16 units under
// the mask K1 (a partial block's lanes are zero-filled on load, so its
// activations are computed on zeros and never stored).

// Constant registers (Z22-Z25, Z27-Z31); Z0-Z12 are the block's.
#define RNL2E Z31
#define RN2L2E Z30
#define RHI Z29
#define RLO Z28
#define RONE Z27
#define RC1 Z25
#define RC2 Z24
#define RC3 Z23
#define RC4 Z22

#define RBCAST(v, z) MOVL v, BX; VPBROADCASTD BX, z

#define RLOADCONSTS \
	RBCAST($0xbfb8aa3b, RNL2E); \
	RBCAST($0xc038aa3b, RN2L2E); \
	RBCAST($0x42fc0000, RHI); \
	RBCAST($0xc2fc0000, RLO); \
	RBCAST($0x3f800000, RONE); \
	RBCAST($0x3f317096, RC1); \
	RBCAST($0x3e7601bc, RC2); \
	RBCAST($0x3d64fe37, RC3); \
	RBCAST($0x3c1d017a, RC4)

// REXP2 sets p = 2^(k*x) and leaves x scratch: t = k*x clamped to
// [-126, 126] (VMINPS and VMAXPS return their first Go operand, t, when it
// is NaN, so NaN passes), n = round(t) (VRNDSCALEPS), f = t - n
// (VREDUCEPS), p = 2^f by the polynomial, 2^t = p*2^n (VSCALEFPS, exact).
#define REXP2(x, k, n, p) \
	VMULPS k, x, x; \
	VMINPS x, RHI, x; \
	VMAXPS x, RLO, x; \
	VRNDSCALEPS $0, x, n; \
	VREDUCEPS $0, x, x; \
	VMOVAPS RC4, p; \
	VFMADD213PS RC3, x, p; \
	VFMADD213PS RC2, x, p; \
	VFMADD213PS RC1, x, p; \
	VFMADD213PS RONE, x, p; \
	VSCALEFPS n, p, p

// RRCP sets x = 1/d by VRCP14PS (relative error below 2^-14) and one
// Newton step x += x*(1 - d*x); d is lost.
#define RRCP(d, x) \
	VRCP14PS d, x; \
	VFNMADD213PS RONE, x, d; \
	VFMADD231PS d, x, x

// RSIG sets x = 1/(1+2^(-x*log2(e))) = sigmoid(x); n and p are scratch.
#define RSIG(x, n, p) \
	REXP2(x, RNL2E, n, p); \
	VADDPS RONE, p, p; \
	RRCP(p, x)

// RTANH sets x = (1-e)/(1+e) with e = 2^(-2x*log2(e)), tanh(x) with
// relative accuracy near 0; n, p and q are scratch.
#define RTANH(x, n, p, q) \
	REXP2(x, RN2L2E, n, p); \
	VSUBPS p, RONE, q; \
	VADDPS RONE, p, p; \
	RRCP(p, x); \
	VMULPS q, x, x

// RLOAD loads a block's gates: DI points at its i gates, f, g and o are
// R9 = 4H, 2*R9 and R10 = 12H bytes further.
#define RLOAD \
	VMOVUPS.Z (DI), K1, Z0; \
	VMOVUPS.Z (DI)(R9*1), K1, Z1; \
	VMOVUPS.Z (DI)(R9*2), K1, Z2; \
	VMOVUPS.Z (DI)(R10*1), K1, Z3

// RRESET copies the block's bias (R8, same layout) over its gates.
#define RRESET \
	VMOVUPS.Z (R8), K1, Z4; \
	VMOVUPS.Z (R8)(R9*1), K1, Z5; \
	VMOVUPS.Z (R8)(R9*2), K1, Z6; \
	VMOVUPS.Z (R8)(R10*1), K1, Z7; \
	VMOVUPS Z4, K1, (DI); \
	VMOVUPS Z5, K1, (DI)(R9*1); \
	VMOVUPS Z6, K1, (DI)(R9*2); \
	VMOVUPS Z7, K1, (DI)(R10*1)

// RSTATE activates the loaded gates and writes c and h: AX is the byte
// offset into cPrev (SI), c (DX) and h (R12); h stays in Z0.
#define RSTATE \
	RSIG(Z0, Z4, Z5); \
	RSIG(Z1, Z6, Z7); \
	RTANH(Z2, Z8, Z9, Z12); \
	RSIG(Z3, Z10, Z11); \
	VMULPS Z2, Z0, Z0; \
	VMOVUPS.Z (SI)(AX*1), K1, Z4; \
	VFMADD231PS Z4, Z1, Z0; \
	VMOVUPS Z0, K1, (DX)(AX*1); \
	RTANH(Z0, Z5, Z6, Z7); \
	VMULPS Z3, Z0, Z0; \
	VMOVUPS Z0, K1, (R12)(AX*1)

// RBF16 stores h (Z0) rounded to bf16 at R13 under K1; the bytes are
// VCVTNE2PS2BF16 zmm5, zmm0, zmm0 (Go's assembler lacks it), which rounds to
// nearest even with subnormals to zero, as BF16 does.
#define RBF16 \
	BYTE $0x62; BYTE $0xF2; BYTE $0x7F; BYTE $0x48; BYTE $0x72; BYTE $0xE8; \
	VMOVDQU16 Y5, K1, (R13)

// func lstmCellReducedAVX512(n int, gates, reset, cPrev, c, h *float32, hB *uint16)
TEXT ·lstmCellReducedAVX512(SB), NOSPLIT, $0-56
	MOVQ n+0(FP), CX
	MOVQ gates+8(FP), DI
	MOVQ reset+16(FP), R8
	MOVQ cPrev+24(FP), SI
	MOVQ c+32(FP), DX
	MOVQ h+40(FP), R12
	MOVQ hB+48(FP), R13
	TESTQ CX, CX
	JZ reddone
	// R11: bit 0 reset, bit 1 hB (the pointers advance, so test flags).
	XORQ R11, R11
	TESTQ R8, R8
	JZ redflag1
	ORQ $1, R11
redflag1:
	TESTQ R13, R13
	JZ redflag2
	ORQ $2, R11
redflag2:
	LEAQ (CX*4), R9
	LEAQ (R9)(R9*2), R10
	RLOADCONSTS
	XORQ AX, AX
	MOVL $0xffff, BX
	KMOVW BX, K1

red16:
	CMPQ CX, $16
	JB redtail
	RLOAD
	TESTQ $1, R11
	JZ red16state
	RRESET
red16state:
	RSTATE
	TESTQ $2, R11
	JZ red16next
	RBF16
red16next:
	ADDQ $64, AX
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $32, R13
	SUBQ $16, CX
	JMP red16

redtail:
	TESTQ CX, CX
	JZ reddone
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
	KMOVW BX, K1
	RLOAD
	TESTQ $1, R11
	JZ redtailstate
	RRESET
redtailstate:
	RSTATE
	TESTQ $2, R11
	JZ reddone
	RBF16

reddone:
	VZEROUPPER
	RET
