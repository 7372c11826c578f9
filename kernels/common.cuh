// common.cuh
//	  Shared helpers for the CUDA kernels: status-returning error checks.
//
// Kernels never abort or exit: a failed CUDA call records its message for
// kernels_last_error() and makes the entry point return an error code.
#ifndef PGMLOPS_KERNELS_COMMON_CUH
#define PGMLOPS_KERNELS_COMMON_CUH

#include <cuda_runtime.h>

#include "kernels.h"

// Record a CUDA failure for kernels_last_error(); defined in device.cu
void		kernels_set_error(const char *what, cudaError_t err);

#define KERNELS_CHECK(call) \
	do { \
		cudaError_t err_ = (call); \
		if (err_ != cudaSuccess) \
		{ \
			kernels_set_error(#call, err_); \
			return KERNELS_ERR_CUDA; \
		} \
	} while (0)

#endif							// PGMLOPS_KERNELS_COMMON_CUH
