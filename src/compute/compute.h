/*-------------------------------------------------------------------------
 *
 * compute.h
 *	  Run-time choice between the CPU and CUDA paths (mlops.device).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_COMPUTE_COMPUTE_H
#define PGMLOPS_COMPUTE_COMPUTE_H

typedef enum ComputeDevice
{
	COMPUTE_DEVICE_AUTO,
	COMPUTE_DEVICE_CPU,
	COMPUTE_DEVICE_CUDA
} ComputeDevice;

/* compute.c */
extern int	compute_device;
extern void ComputeInit(void);
extern ComputeDevice ComputeResolveDevice(void);
extern char *ComputeDeviceLabel(void);

#endif							/* PGMLOPS_COMPUTE_COMPUTE_H */
