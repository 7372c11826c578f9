# pgmlops: PGXS build.
#
#   make                 build the library (CUDA kernels too when nvcc is found)
#   make NVCC=           force a CPU-only build
#   make install         install into the PostgreSQL found by pg_config
#   make installcheck    pg_regress tests against a running server
#   make prove_installcheck   TAP tests (t/*.pl)
#   make unitcheck       standalone C unit tests (unit/*.c), no server needed

EXTENSION = pgmlops
EXTVERSION = 0.1.0

MODULE_big = pgmlops
SRCS = $(sort $(wildcard src/*.c src/*/*.c))
OBJS = $(SRCS:.c=.o)
HEADERS = $(wildcard src/*.h src/*/*.h)

# The install script is assembled from one fragment per subsystem.
INSTALL_SQL = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA_built = $(INSTALL_SQL)

# Every sql/<name>.sql except the install script is a pg_regress test.
REGRESS = $(filter-out $(EXTENSION)%,$(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)
TAP_TESTS = 1

PG_CPPFLAGS = -I$(CURDIR)/src -I$(CURDIR)/kernels
# the inference engine: JSON (jansson), HTTP to remote providers (libcurl),
# matrix products (OpenBLAS), Unicode classes and normalization (ICU).
# OpenBLAS is Debian's single-threaded build: the pthread build starts a
# thread pool in every process that loads the library, the postmaster
# included when it is preloaded.
OPENBLAS_DIR ?= /usr/lib/$(shell $(CC) -print-multiarch)/openblas-serial
ENGINE_LIBS = -ljansson -lcurl -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR) -lopenblas -licuuc -lxgboost
SHLIB_LINK += $(ENGINE_LIBS)

PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
	-Wno-missing-field-initializers -Wno-cast-function-type

# CUDA: compiled when nvcc is available, chosen at run time (mlops.device).
NVCC ?= $(shell command -v nvcc 2>/dev/null || (test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc))
ifneq ($(NVCC),)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
PG_CPPFLAGS += -DUSE_CUDA
CU_SRCS = $(sort $(wildcard kernels/*.cu))
# not in OBJS: PGXS would look for LLVM bitcode of every object in OBJS
CU_OBJS = $(CU_SRCS:.cu=.o)
CUDA_LIBS = -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++
SHLIB_LINK += $(CU_OBJS) $(CUDA_LIBS)
NVCC_FLAGS = -O3 -Xcompiler -fPIC -std=c++17 \
	-gencode arch=compute_80,code=sm_80 \
	-gencode arch=compute_90,code=sm_90 \
	-gencode arch=compute_90,code=compute_90
kernels/%.o: kernels/%.cu kernels/kernels.h kernels/common.cuh
	$(NVCC) $(NVCC_FLAGS) -c $< -o $@
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): $(HEADERS)
ifneq ($(NVCC),)
$(shlib): $(CU_OBJS)
endif

$(INSTALL_SQL): $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@

EXTRA_CLEAN = $(INSTALL_SQL) unit/*.bin kernels/*.o fuzz/*.bin

# Standalone C unit tests: each unit/test_<name>.c is linked with the
# PostgreSQL-independent objects it names in its first line
# ("// objects: src/vector/vecdist.o").
UNIT_SRCS = $(sort $(wildcard unit/test_*.c))
UNIT_BINS = $(UNIT_SRCS:.c=.bin)

unit/%.bin: unit/%.c $(wildcard unit/*.h) $(OBJS) $(CU_OBJS)
	$(CC) $(CFLAGS) $(CPPFLAGS) $(PG_CPPFLAGS) -I$(includedir_server) -o $@ $< \
		$(shell sed -n '1s|^// objects:||p' $<) $(ENGINE_LIBS) \
		$(if $(CU_OBJS),$(CU_OBJS) $(CUDA_LIBS)) -lm

unitcheck: $(UNIT_BINS)
	@status=0; for t in $(UNIT_BINS); do ./$$t || status=1; done; exit $$status

.PHONY: unitcheck

# the tokenizer benchmark (scripts/bench_tok.sh, scripts/gpu_check.sh)
TOKBENCH_OBJS = $(filter src/llm/tok%.o,$(OBJS)) src/llm/utf8.o src/llm/llmjson.o \
	src/llm/llmutil.o src/vector/vecdist.o
bench/tokbench: bench/tokbench.c $(TOKBENCH_OBJS)
	$(CC) -O2 -Isrc -o $@ $< $(TOKBENCH_OBJS) -ljansson -licuuc -lm

# libFuzzer targets for the parsers of untrusted files: each fuzz/fuzz_<name>.c
# is built with clang together with the sources named in its first line
# ("// sources: src/llm/config.c ...").  "make fuzz" builds them; run one as
# fuzz/fuzz_<name>.bin -max_total_time=60 fuzz/corpus/<name>.
FUZZ_SRCS = $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BINS = $(FUZZ_SRCS:.c=.bin)
FUZZ_CC ?= clang

fuzz/%.bin: fuzz/%.c $(HEADERS) $(SRCS)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I$(CURDIR)/src -o $@ $< \
		$(shell sed -n '1s|^// sources:||p' $<) $(ENGINE_LIBS) -lm

fuzz: $(FUZZ_BINS)

.PHONY: fuzz
