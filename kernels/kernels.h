/*
 * kernels.h
 *	  Plain-C interface to the CUDA kernels.
 *
 * No PostgreSQL and no CUDA headers: only pointers, sizes and int status
 * codes cross this line.  Every entry returns KERNELS_OK or an error code;
 * kernels_last_error() describes the most recent failure of this thread.
 */
#ifndef PGMLOPS_KERNELS_KERNELS_H
#define PGMLOPS_KERNELS_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C"
{
#endif

#define KERNELS_OK 0
#define KERNELS_ERR_NO_DEVICE 1
#define KERNELS_ERR_CUDA 2
#define KERNELS_ERR_ARGUMENT 3

/* device.cu: number of usable devices, and the name of device 0 */
extern int	kernels_device_probe(int *count, char *name, size_t namelen);

/* device.cu: text of the last failure on this thread */
extern const char *kernels_last_error(void);

#ifdef __cplusplus
}
#endif

#endif							/* PGMLOPS_KERNELS_KERNELS_H */
