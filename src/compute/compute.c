/*-------------------------------------------------------------------------
 *
 * compute.c
 *	  The mlops.device setting and the device probe behind it.
 *
 * mlops.device = auto uses CUDA when the library was built with nvcc and
 * a device answers, and the CPU otherwise; cpu forces the CPU; cuda
 * demands a GPU and raises FEATURE_NOT_SUPPORTED without one.  The probe
 * runs lazily in the process that asks, never in the postmaster.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "compute/compute.h"
#ifdef USE_CUDA
#include "kernels.h"
#endif

int			compute_device = COMPUTE_DEVICE_AUTO;

static const struct config_enum_entry compute_device_options[] = {
	{"auto", COMPUTE_DEVICE_AUTO, false},
	{"cpu", COMPUTE_DEVICE_CPU, false},
	{"cuda", COMPUTE_DEVICE_CUDA, false},
	{NULL, 0, false}
};

/*
 * Probe result, cached per process: the hardware does not change under a
 * running backend.  probe_done is the reset point (never reset).
 */
static bool probe_done = false;
static bool probe_found = false;
static char probe_name[256];
static char probe_error[256];

/*
 * Define the GUCs of the compute layer
 */
void
ComputeInit(void)
{
	DefineCustomEnumVariable("mlops.device", "Device for model computations.",
							 "auto uses a CUDA GPU when one is present, cpu never does, cuda requires one.",
							 &compute_device, COMPUTE_DEVICE_AUTO, compute_device_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * Ask the CUDA runtime once whether a device is present
 */
static void
ProbeDevice(void)
{
	if (probe_done)
		return;
	probe_done = true;
#ifdef USE_CUDA
	{
		int			count = 0;

		if (kernels_device_probe(&count, probe_name, sizeof(probe_name)) == KERNELS_OK)
			probe_found = true;
		else
			strlcpy(probe_error, kernels_last_error(), sizeof(probe_error));
	}
#else
	strlcpy(probe_error, "pgmlops was built without CUDA", sizeof(probe_error));
#endif
}

/*
 * The device that mlops.device selects here, or an error if it demands a
 * GPU that is not available
 */
ComputeDevice
ComputeResolveDevice(void)
{
	if (compute_device == COMPUTE_DEVICE_CPU)
		return COMPUTE_DEVICE_CPU;

	ProbeDevice();
	if (probe_found)
		return COMPUTE_DEVICE_CUDA;
	if (compute_device == COMPUTE_DEVICE_CUDA)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("mlops.device is \"cuda\" but no CUDA device is available"),
				 errdetail("%s", probe_error),
#ifdef USE_CUDA
				 errhint("Set mlops.device to \"auto\" or \"cpu\".")
#else
				 errhint("Rebuild pgmlops with nvcc in PATH, or set mlops.device to \"auto\" or \"cpu\".")
#endif
				 ));
	return COMPUTE_DEVICE_CPU;
}

/*
 * The device that computations would use now ("cpu" or "cuda: <name>"),
 * palloc'ed
 */
char *
ComputeDeviceLabel(void)
{
	if (ComputeResolveDevice() == COMPUTE_DEVICE_CUDA)
		return psprintf("cuda: %s", probe_name);
	return pstrdup("cpu");
}

/*
 * SQL: ComputeDeviceLabel()
 */
PG_FUNCTION_INFO_V1(compute_device_name);
Datum
compute_device_name(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(ComputeDeviceLabel()));
}
