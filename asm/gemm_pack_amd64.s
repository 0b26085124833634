//go:build amd64 && !purego

#include "textflag.h"

// func transpose8AVX2(n8 int, rows *[8]*float32, dst *float32, ldd int)
//
// For r < 8 and p < 8*n8: dst[p*ldd+r] = rows[r][p]. Each 8×8 block is
// transposed in registers (unpack, shuffle, 128-bit permute) and stored as
// eight 8-float rows in increasing p, so a caller may let the rows spill
// into the next p's cells and overwrite them afterwards.
TEXT ·transpose8AVX2(SB), NOSPLIT, $0-32
	MOVQ n8+0(FP), CX
	TESTQ CX, CX
	JZ tdone
	MOVQ rows+8(FP), SI
	MOVQ 0(SI), AX
	MOVQ 8(SI), BX
	MOVQ 16(SI), R8
	MOVQ 24(SI), R9
	MOVQ 32(SI), R10
	MOVQ 40(SI), R11
	MOVQ 48(SI), R12
	MOVQ 56(SI), R13
	MOVQ dst+16(FP), DI
	MOVQ ldd+24(FP), DX
	SHLQ $2, DX
	XORQ SI, SI

tloop:
	VMOVUPS (AX)(SI*1), Y0
	VMOVUPS (BX)(SI*1), Y1
	VMOVUPS (R8)(SI*1), Y2
	VMOVUPS (R9)(SI*1), Y3
	VMOVUPS (R10)(SI*1), Y4
	VMOVUPS (R11)(SI*1), Y5
	VMOVUPS (R12)(SI*1), Y6
	VMOVUPS (R13)(SI*1), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y0
	VUNPCKHPS Y5, Y4, Y1
	VUNPCKLPS Y7, Y6, Y2
	VUNPCKHPS Y7, Y6, Y3
	VSHUFPS $0x44, Y10, Y8, Y4
	VSHUFPS $0xEE, Y10, Y8, Y5
	VSHUFPS $0x44, Y11, Y9, Y6
	VSHUFPS $0xEE, Y11, Y9, Y7
	VSHUFPS $0x44, Y2, Y0, Y8
	VSHUFPS $0xEE, Y2, Y0, Y9
	VSHUFPS $0x44, Y3, Y1, Y10
	VSHUFPS $0xEE, Y3, Y1, Y11
	VPERM2F128 $0x20, Y8, Y4, Y0
	VPERM2F128 $0x31, Y8, Y4, Y1
	VPERM2F128 $0x20, Y9, Y5, Y2
	VPERM2F128 $0x31, Y9, Y5, Y3
	VPERM2F128 $0x20, Y10, Y6, Y12
	VPERM2F128 $0x31, Y10, Y6, Y13
	VPERM2F128 $0x20, Y11, Y7, Y14
	VPERM2F128 $0x31, Y11, Y7, Y15
	VMOVUPS Y0, (DI)
	ADDQ DX, DI
	VMOVUPS Y2, (DI)
	ADDQ DX, DI
	VMOVUPS Y12, (DI)
	ADDQ DX, DI
	VMOVUPS Y14, (DI)
	ADDQ DX, DI
	VMOVUPS Y1, (DI)
	ADDQ DX, DI
	VMOVUPS Y3, (DI)
	ADDQ DX, DI
	VMOVUPS Y13, (DI)
	ADDQ DX, DI
	VMOVUPS Y15, (DI)
	ADDQ DX, DI
	ADDQ $32, SI
	DECQ CX
	JNZ tloop
	VZEROUPPER

tdone:
	RET

// func copyRowsAVX512(n int, src *float32, lds int, dst *float32, ldd int, load, store uint64)
//
// For r < n: the first 32 floats of dst row r (stride ldd) get those of src
// row r (stride lds) where bit j of load is set and 0 elsewhere, stored where
// bit j of store is set. Neither side is touched outside its mask.
TEXT ·copyRowsAVX512(SB), NOSPLIT, $0-56
	MOVQ n+0(FP), CX
	TESTQ CX, CX
	JZ cdone
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI
	MOVQ ldd+32(FP), R9
	SHLQ $2, R9
	MOVQ load+40(FP), AX
	KMOVW AX, K1
	SHRQ $16, AX
	KMOVW AX, K2
	MOVQ store+48(FP), AX
	KMOVW AX, K3
	SHRQ $16, AX
	KMOVW AX, K4

cloop:
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	VMOVUPS Z0, K3, (DI)
	VMOVUPS Z1, K4, 64(DI)
	ADDQ R8, SI
	ADDQ R9, DI
	DECQ CX
	JNZ cloop
	VZEROUPPER

cdone:
	RET

// func copyPanelsAVX512(k int, src *float32, lds int, dst *float32, np, w, ldd, panel int, mask uint64)
//
// For p < k, t < np, j < w (w <= 32): dst[t*panel + p*ldd + j] =
// src[p*lds + t*w + j]. Row by row of src across np panels: with a few
// panels at a time the reads are contiguous and the writes few streams
// (about 4x faster than panel by panel for A^T). mask has the low w bits set.
TEXT ·copyPanelsAVX512(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	TESTQ CX, CX
	JZ pdone
	MOVQ np+32(FP), R12
	TESTQ R12, R12
	JZ pdone
	MOVQ src+8(FP), R8
	MOVQ lds+16(FP), R9
	SHLQ $2, R9
	MOVQ dst+24(FP), R13
	MOVQ w+40(FP), R10
	SHLQ $2, R10
	MOVQ ldd+48(FP), DX
	SHLQ $2, DX
	MOVQ panel+56(FP), R11
	SHLQ $2, R11
	MOVQ mask+64(FP), AX
	KMOVW AX, K1
	SHRQ $16, AX
	KMOVW AX, K2
	TESTQ AX, AX
	JNZ prow2

prow:
	MOVQ R8, SI
	MOVQ R13, DI
	MOVQ R12, BX

ppanel:
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS Z0, K1, (DI)
	ADDQ R10, SI
	ADDQ R11, DI
	DECQ BX
	JNZ ppanel
	ADDQ R9, R8
	ADDQ DX, R13
	DECQ CX
	JNZ prow
	VZEROUPPER
	RET

prow2:
	MOVQ R8, SI
	MOVQ R13, DI
	MOVQ R12, BX

ppanel2:
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	VMOVUPS Z0, K1, (DI)
	VMOVUPS Z1, K2, 64(DI)
	ADDQ R10, SI
	ADDQ R11, DI
	DECQ BX
	JNZ ppanel2
	ADDQ R9, R8
	ADDQ DX, R13
	DECQ CX
	JNZ prow2
	VZEROUPPER

pdone:
	RET
