# scripts/blasenv.sh: sourced by the scripts that run the engine or a server.
#
# OpenBLAS 0.3.21 (Debian 12) picks its kernels from the CPU model and
# falls back to its oldest x86-64 kernels (Prescott, SSE3) on CPUs it does
# not know, such as some virtual machines, even when they have AVX2 or
# AVX-512: batched decoding and prefill then run 2-4x slower.  Name the
# kernels from the CPU's flags unless the caller chose them; every server,
# test and benchmark started from these scripts inherits the choice.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -r /proc/cpuinfo ]; then
  if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell
  fi
fi
