// device.cu
//	  Device discovery and the per-thread error text of the kernels.
//
// The probe is what mlops.device = auto consults: a build with CUDA still
// runs on a machine without a GPU, where cudaGetDeviceCount fails and the
// caller chooses the CPU path.  The error text is per thread because the
// probe runs before any context exists.
#include <stdio.h>
#include <string.h>

#include "common.cuh"

static thread_local char last_error[256];

// Record "what: CUDA message"
void
kernels_set_error(const char *what, cudaError_t err)
{
	snprintf(last_error, sizeof(last_error), "%s: %s", what, cudaGetErrorString(err));
}

// Record "what: cuBLAS message"
void
kernels_set_cublas_error(const char *what, cublasStatus_t status)
{
	snprintf(last_error, sizeof(last_error), "%s: %s", what, cublasGetStatusString(status));
}

// Record a message of our own
void
kernels_set_message(const char *message)
{
	snprintf(last_error, sizeof(last_error), "%s", message);
}

extern "C" const char *
kernels_last_error(void)
{
	return last_error;
}

extern "C" int
kernels_device_probe(int *count, char *name, size_t namelen)
{
	cudaDeviceProp prop;
	cudaError_t err;

	if (count == NULL || (name == NULL && namelen > 0))
		return KERNELS_ERR_ARGUMENT;
	*count = 0;
	if (namelen > 0)
		name[0] = '\0';

	err = cudaGetDeviceCount(count);
	if (err != cudaSuccess || *count == 0)
	{
		*count = 0;
		kernels_set_error("cudaGetDeviceCount", err == cudaSuccess ? cudaErrorNoDevice : err);
		return KERNELS_ERR_NO_DEVICE;
	}
	KERNELS_CHECK(cudaGetDeviceProperties(&prop, 0));
	if (namelen > 0)
	{
		strncpy(name, prop.name, namelen - 1);
		name[namelen - 1] = '\0';
	}
	return KERNELS_OK;
}
