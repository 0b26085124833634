//go:build amd64 && !purego

#include "textflag.h"

// LSTMCellForwardReduced at the AVX-512 level (see cell_reduced.go; its Go
// twin lstmCellReducedGo is the reference loop). One block is 16 units. The
// full blocks are software-pipelined (RCELLP: a block's gates beside the
// previous block's tanh(c) and h); the last, partial block runs alone under
// the mask K1 (its lanes past H zero-filled on load, computed on zeros and
// never stored). RSIG and RTANH are the activations as written; RCELL and
// RCELLP interleave their instructions across the chains.

// Constant registers (Z22-Z25, Z27-Z31); Z0-Z18 are the blocks'.
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

// RTANH sets x = (1-e)/(1+e) = tanh(x) with e = 2^(-2x*log2(e)); n, p and
// q are scratch.
#define RTANH(x, n, p, q) \
	REXP2(x, RN2L2E, n, p); \
	VSUBPS p, RONE, q; \
	VADDPS RONE, p, p; \
	RRCP(p, x); \
	VMULPS q, x, x

// A full block (16 units) loads and stores without a mask; the last,
// partial one (the M variants) under the mask K1, its loads zero-filled.

// RLOAD loads a block's gates into Z0-Z3 and cPrev into Z13: DI points at
// its i gates, f, g and o are R9 = 4H, 2*R9 and R10 = 12H bytes further;
// AX is the byte offset into cPrev (SI), c (DX) and h (R12).
#define RLOAD \
	VMOVUPS (DI), Z0; \
	VMOVUPS (DI)(R9*1), Z1; \
	VMOVUPS (DI)(R9*2), Z2; \
	VMOVUPS (DI)(R10*1), Z3; \
	VMOVUPS (SI)(AX*1), Z13

#define RLOADM \
	VMOVUPS.Z (DI), K1, Z0; \
	VMOVUPS.Z (DI)(R9*1), K1, Z1; \
	VMOVUPS.Z (DI)(R9*2), K1, Z2; \
	VMOVUPS.Z (DI)(R10*1), K1, Z3; \
	VMOVUPS.Z (SI)(AX*1), K1, Z13

// RRESET copies the block's bias (R8, same layout) over its gates.
#define RRESET \
	VMOVUPS (R8), Z4; \
	VMOVUPS (R8)(R9*1), Z5; \
	VMOVUPS (R8)(R9*2), Z6; \
	VMOVUPS (R8)(R10*1), Z7; \
	VMOVUPS Z4, (DI); \
	VMOVUPS Z5, (DI)(R9*1); \
	VMOVUPS Z6, (DI)(R9*2); \
	VMOVUPS Z7, (DI)(R10*1)

#define RRESETM \
	VMOVUPS.Z (R8), K1, Z4; \
	VMOVUPS.Z (R8)(R9*1), K1, Z5; \
	VMOVUPS.Z (R8)(R9*2), K1, Z6; \
	VMOVUPS.Z (R8)(R10*1), K1, Z7; \
	VMOVUPS Z4, K1, (DI); \
	VMOVUPS Z5, K1, (DI)(R9*1); \
	VMOVUPS Z6, K1, (DI)(R9*2); \
	VMOVUPS Z7, K1, (DI)(R10*1)

// RCELL activates the loaded gates and leaves c = f*cPrev + i*g in Z0 and
// o in Z3: RSIG of i, f and o and RTANH of g, their instructions
// interleaved so that the four dependency chains run side by side.
#define RCELL \
	VMULPS RNL2E, Z0, Z0 \
	VMULPS RNL2E, Z1, Z1 \
	VMULPS RN2L2E, Z2, Z2 \
	VMULPS RNL2E, Z3, Z3 \
	VMINPS Z0, RHI, Z0 \
	VMINPS Z1, RHI, Z1 \
	VMINPS Z2, RHI, Z2 \
	VMINPS Z3, RHI, Z3 \
	VMAXPS Z0, RLO, Z0 \
	VMAXPS Z1, RLO, Z1 \
	VMAXPS Z2, RLO, Z2 \
	VMAXPS Z3, RLO, Z3 \
	VRNDSCALEPS $0, Z0, Z4 \
	VRNDSCALEPS $0, Z1, Z6 \
	VRNDSCALEPS $0, Z2, Z8 \
	VRNDSCALEPS $0, Z3, Z10 \
	VREDUCEPS $0, Z0, Z0 \
	VREDUCEPS $0, Z1, Z1 \
	VREDUCEPS $0, Z2, Z2 \
	VREDUCEPS $0, Z3, Z3 \
	VMOVAPS RC4, Z5 \
	VMOVAPS RC4, Z7 \
	VMOVAPS RC4, Z9 \
	VMOVAPS RC4, Z11 \
	VFMADD213PS RC3, Z0, Z5 \
	VFMADD213PS RC3, Z1, Z7 \
	VFMADD213PS RC3, Z2, Z9 \
	VFMADD213PS RC3, Z3, Z11 \
	VFMADD213PS RC2, Z0, Z5 \
	VFMADD213PS RC2, Z1, Z7 \
	VFMADD213PS RC2, Z2, Z9 \
	VFMADD213PS RC2, Z3, Z11 \
	VFMADD213PS RC1, Z0, Z5 \
	VFMADD213PS RC1, Z1, Z7 \
	VFMADD213PS RC1, Z2, Z9 \
	VFMADD213PS RC1, Z3, Z11 \
	VFMADD213PS RONE, Z0, Z5 \
	VFMADD213PS RONE, Z1, Z7 \
	VFMADD213PS RONE, Z2, Z9 \
	VFMADD213PS RONE, Z3, Z11 \
	VSCALEFPS Z4, Z5, Z5 \
	VSCALEFPS Z6, Z7, Z7 \
	VSCALEFPS Z8, Z9, Z9 \
	VSCALEFPS Z10, Z11, Z11 \
	VADDPS RONE, Z5, Z5 \
	VADDPS RONE, Z7, Z7 \
	VSUBPS Z9, RONE, Z12 \
	VADDPS RONE, Z11, Z11 \
	VRCP14PS Z5, Z0 \
	VRCP14PS Z7, Z1 \
	VADDPS RONE, Z9, Z9 \
	VRCP14PS Z11, Z3 \
	VFNMADD213PS RONE, Z0, Z5 \
	VFNMADD213PS RONE, Z1, Z7 \
	VRCP14PS Z9, Z2 \
	VFNMADD213PS RONE, Z3, Z11 \
	VFMADD231PS Z5, Z0, Z0 \
	VFMADD231PS Z7, Z1, Z1 \
	VFNMADD213PS RONE, Z2, Z9 \
	VFMADD231PS Z11, Z3, Z3 \
	VFMADD231PS Z9, Z2, Z2 \
	VMULPS Z12, Z2, Z2 \
	VMULPS Z2, Z0, Z0 \
	VFMADD231PS Z13, Z1, Z0

// RCELLP is RCELL with a fifth chain interleaved: the previous block's
// h = o*tanh(c) from its c in Z14 and o in Z18, left in Z14 (Z15-Z17
// scratch), so that its latency overlaps this block's gates.
#define RCELLP \
	VMULPS RNL2E, Z0, Z0 \
	VMULPS RNL2E, Z1, Z1 \
	VMULPS RN2L2E, Z2, Z2 \
	VMULPS RNL2E, Z3, Z3 \
	VMULPS RN2L2E, Z14, Z14 \
	VMINPS Z0, RHI, Z0 \
	VMINPS Z1, RHI, Z1 \
	VMINPS Z2, RHI, Z2 \
	VMINPS Z3, RHI, Z3 \
	VMINPS Z14, RHI, Z14 \
	VMAXPS Z0, RLO, Z0 \
	VMAXPS Z1, RLO, Z1 \
	VMAXPS Z2, RLO, Z2 \
	VMAXPS Z3, RLO, Z3 \
	VMAXPS Z14, RLO, Z14 \
	VRNDSCALEPS $0, Z0, Z4 \
	VRNDSCALEPS $0, Z1, Z6 \
	VRNDSCALEPS $0, Z2, Z8 \
	VRNDSCALEPS $0, Z3, Z10 \
	VRNDSCALEPS $0, Z14, Z15 \
	VREDUCEPS $0, Z0, Z0 \
	VREDUCEPS $0, Z1, Z1 \
	VREDUCEPS $0, Z2, Z2 \
	VREDUCEPS $0, Z3, Z3 \
	VREDUCEPS $0, Z14, Z14 \
	VMOVAPS RC4, Z5 \
	VMOVAPS RC4, Z7 \
	VMOVAPS RC4, Z9 \
	VMOVAPS RC4, Z11 \
	VMOVAPS RC4, Z16 \
	VFMADD213PS RC3, Z0, Z5 \
	VFMADD213PS RC3, Z1, Z7 \
	VFMADD213PS RC3, Z2, Z9 \
	VFMADD213PS RC3, Z3, Z11 \
	VFMADD213PS RC3, Z14, Z16 \
	VFMADD213PS RC2, Z0, Z5 \
	VFMADD213PS RC2, Z1, Z7 \
	VFMADD213PS RC2, Z2, Z9 \
	VFMADD213PS RC2, Z3, Z11 \
	VFMADD213PS RC2, Z14, Z16 \
	VFMADD213PS RC1, Z0, Z5 \
	VFMADD213PS RC1, Z1, Z7 \
	VFMADD213PS RC1, Z2, Z9 \
	VFMADD213PS RC1, Z3, Z11 \
	VFMADD213PS RC1, Z14, Z16 \
	VFMADD213PS RONE, Z0, Z5 \
	VFMADD213PS RONE, Z1, Z7 \
	VFMADD213PS RONE, Z2, Z9 \
	VFMADD213PS RONE, Z3, Z11 \
	VFMADD213PS RONE, Z14, Z16 \
	VSCALEFPS Z4, Z5, Z5 \
	VSCALEFPS Z6, Z7, Z7 \
	VSCALEFPS Z8, Z9, Z9 \
	VSCALEFPS Z10, Z11, Z11 \
	VSCALEFPS Z15, Z16, Z16 \
	VADDPS RONE, Z5, Z5 \
	VADDPS RONE, Z7, Z7 \
	VSUBPS Z9, RONE, Z12 \
	VADDPS RONE, Z11, Z11 \
	VSUBPS Z16, RONE, Z17 \
	VRCP14PS Z5, Z0 \
	VRCP14PS Z7, Z1 \
	VADDPS RONE, Z9, Z9 \
	VRCP14PS Z11, Z3 \
	VADDPS RONE, Z16, Z16 \
	VFNMADD213PS RONE, Z0, Z5 \
	VFNMADD213PS RONE, Z1, Z7 \
	VRCP14PS Z9, Z2 \
	VFNMADD213PS RONE, Z3, Z11 \
	VRCP14PS Z16, Z14 \
	VFMADD231PS Z5, Z0, Z0 \
	VFMADD231PS Z7, Z1, Z1 \
	VFNMADD213PS RONE, Z2, Z9 \
	VFMADD231PS Z11, Z3, Z3 \
	VFNMADD213PS RONE, Z14, Z16 \
	VFMADD231PS Z9, Z2, Z2 \
	VFMADD231PS Z16, Z14, Z14 \
	VMULPS Z12, Z2, Z2 \
	VMULPS Z17, Z14, Z14 \
	VMULPS Z18, Z14, Z14 \
	VMULPS Z2, Z0, Z0 \
	VFMADD231PS Z13, Z1, Z0

// RHOUT sets Z0 = h = o*tanh(c) from c in Z0 (stored first).
#define RHOUT \
	RTANH(Z0, Z5, Z6, Z7); \
	VMULPS Z3, Z0, Z0

// RCVT sets Y5 to h (Z0) rounded to bf16; the bytes are
// VCVTNE2PS2BF16 zmm5, zmm0, zmm0 (Go's assembler lacks it), which rounds to
// nearest even with subnormals to zero, as BF16 does.
#define RCVT \
	BYTE $0x62; BYTE $0xF2; BYTE $0x7F; BYTE $0x48; BYTE $0x72; BYTE $0xE8

// RCVT4 is RCVT from Z4: VCVTNE2PS2BF16 zmm5, zmm4, zmm4.
#define RCVT4 \
	BYTE $0x62; BYTE $0xF2; BYTE $0x5F; BYTE $0x48; BYTE $0x72; BYTE $0xEC

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

	// Full blocks are software-pipelined: each pass computes a block's
	// gates and c, and the h of the block before it (RCELLP).
	CMPQ CX, $16
	JB redtail
	RLOAD
	TESTQ $1, R11
	JZ redfirstcell
	RRESET
redfirstcell:
	RCELL
	VMOVUPS Z0, (DX)(AX*1)
	VMOVAPS Z0, Z14
	VMOVAPS Z3, Z18
	ADDQ $64, AX
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $32, R13
	SUBQ $16, CX

red16:
	CMPQ CX, $16
	JB redflush
	RLOAD
	TESTQ $1, R11
	JZ red16cell
	RRESET
red16cell:
	RCELLP
	VMOVUPS Z14, -64(R12)(AX*1)
	TESTQ $2, R11
	JZ red16c
	VMOVAPS Z14, Z4
	RCVT4
	VMOVDQU Y5, -32(R13)
red16c:
	VMOVUPS Z0, (DX)(AX*1)
	VMOVAPS Z0, Z14
	VMOVAPS Z3, Z18
	ADDQ $64, AX
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $32, R13
	SUBQ $16, CX
	JMP red16

redflush:
	// The h of the last full block.
	RTANH(Z14, Z15, Z16, Z17)
	VMULPS Z18, Z14, Z14
	VMOVUPS Z14, -64(R12)(AX*1)
	TESTQ $2, R11
	JZ redtail
	VMOVAPS Z14, Z4
	RCVT4
	VMOVDQU Y5, -32(R13)

redtail:
	TESTQ CX, CX
	JZ reddone
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
	KMOVW BX, K1
	RLOADM
	TESTQ $1, R11
	JZ redtailcell
	RRESETM
redtailcell:
	RCELL
	VMOVUPS Z0, K1, (DX)(AX*1)
	RHOUT
	VMOVUPS Z0, K1, (R12)(AX*1)
	TESTQ $2, R11
	JZ reddone
	RCVT
	VMOVDQU16 Y5, K1, (R13)

reddone:
	VZEROUPPER
	RET
