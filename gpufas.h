/* gpufas.h — what every part of gpufas shares, and nothing else: the
 * version, the error convention, and the marks that let one function be
 * compiled for the CPU and for the GPU (GF_HD). Each module's interface
 * is in a header of its own (README.md, "Source"); the device-safe core
 * that kernels.cu compiles a second time is core.h, detect.h, recover.h
 * and loop.h, which include nothing host-only.
 */
#ifndef GPUFAS_H
#define GPUFAS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define GF_HD __host__ __device__
/* A big function kept out of line on the GPU: the whole watch loop
 * inlined into the monitor kernel takes ptxas minutes and gigabytes. */
#define GF_HD_OUTLINE __host__ __device__ __noinline__
#else
#define GF_HD
#define GF_HD_OUTLINE
#endif

#define GPUFAS_VERSION "0.1.0"

/* The most targets one gpufas watches (the GPU monitor has a slot each). */
#define GF_MAX_TARGETS 64

/* ---- Errors: every fallible call returns GF_OK or a negative GF_E*. ----
 * The values travel: in the remote protocol's answers and in the GPU's
 * mailboxes. A new code goes at the end, and GF_ELAST with it. */
enum {
	GF_OK = 0,
	GF_EFAULT = -1,   /* address outside guest RAM or not mapped */
	GF_ECORRUPT = -2, /* guest or file data inconsistent (broken list,
			     bad value, malformed input) */
	GF_ENOSPC = -3,   /* caller's buffer or a fixed table too small */
	GF_ESRCH = -4,    /* no such task */
	GF_ESTALE = -5,   /* task changed between lookup and write */
	GF_EINVAL = -6,   /* bad argument */
	GF_EGPU = -7,     /* the GPU failed (a driver call, its monitor) or
			     stopped answering */
	GF_EBUSY = -8,    /* busy, or no answer in time */
	GF_ENOMEM = -9,   /* out of memory */
	GF_EREFUSED = -10, /* refused: by policy, a read-only role, a peer */
	GF_ENOLIB = -11,  /* a library or driver not present (libcuda,
			     librdmacm, libvirt...) */
	GF_EIO = -12,     /* an I/O or system call failed (open, read, mmap,
			     a socket...) */
	GF_ENOENT = -13,  /* no such entry: a symbol, key or file not there */
	GF_ELAST = GF_ENOENT, /* the last code: every error is in [GF_ELAST, 0) */
};
const char *gf_strerror(int err);


#endif
