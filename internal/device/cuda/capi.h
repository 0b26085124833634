// Prototypes of the C wrappers defined in capi.go's preamble, for the other
// cgo files of the package (cgo compiles each file's preamble separately).
#ifndef PP_CAPI_H
#define PP_CAPI_H
#include <stdint.h>
#include <stdlib.h>

int pp_open_device(int ordinal, char* name, int name_len, int* major, int* minor, int* drv, int* rt);
int pp_device_count(int* n);
int pp_malloc(uint64_t* p, size_t n);
int pp_free(uint64_t p);
int pp_mem_info(size_t* free_b, size_t* total_b);
int pp_memset_sync(uint64_t p, size_t n, uint64_t stream);
int pp_h2d(uint64_t dst, const void* src, size_t n, uint64_t stream);
int pp_d2h(void* dst, uint64_t src, size_t n, uint64_t stream);
int pp_stream_create(uint64_t* s);
int pp_stream_destroy(uint64_t s);
int pp_stream_sync(uint64_t s);
int pp_event_create(uint64_t* ev);
int pp_event_destroy(uint64_t ev);
int pp_wait(uint64_t stream, uint64_t other, uint64_t other_event);
int pp_begin_capture(uint64_t s);
int pp_end_capture(uint64_t s, uint64_t* exec);
int pp_graph_launch(uint64_t exec, uint64_t s);
int pp_graph_destroy(uint64_t exec);
int pp_cublas_create(uint64_t* h, uint64_t stream, uint64_t ws, size_t ws_size, int math_mode);
int pp_cublas_destroy(uint64_t h);
int pp_sgemm(uint64_t h, int ta, int tb, int m, int n, int k, float alpha, uint64_t a, int lda, long long sa,
             uint64_t b, int ldb, long long sb, float beta, uint64_t c, int ldc, long long sc, int batch, int ab_type);
int pp_has_gemm_ex(void);
int pp_compile(const char* src, const char* name, const char** opts, int nopts, char** ptx, char** log);
int pp_nvrtc_version(int* major, int* minor);
int pp_module_load(uint64_t* mod, const char* image);
int pp_module_function(uint64_t* fn, uint64_t mod, const char* name);
int pp_module_unload(uint64_t mod);
int pp_launch(uint64_t fn, unsigned gx, unsigned bx, unsigned by, uint64_t stream, uint64_t* args, int nargs);

#endif
