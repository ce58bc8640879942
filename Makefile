# gpufas — see README.md. `make` builds ./gpufas; `make test` runs every
# test (installing what they need); `make demo` boots the bundled test
# guest and opens the live view on it; `make bench` measures.

CC      ?= cc
NVCC    ?= $(shell command -v nvcc || echo /usr/local/cuda/bin/nvcc)
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -D_GNU_SOURCE
# Travels as one file: these libraries are linked from their static
# archives; glibc stays dynamic (a static glibc cannot dlopen libcuda).
STATIC_LIBS = -lbpf -lelf -lz -linih -lncursesw -ltinfo
LDLIBS  = -Wl,-Bstatic $(STATIC_LIBS) -Wl,-Bdynamic -ldl -lpthread -lm

CORE = target.o vmcoreinfo.o kallsyms.o layout.o discover.o introspect.o \
       metrics.o engine.o gpu.o config.o signals.o json.o detect.o \
       recover.o watch.o events.o board.o hub.o
OBJS = gpufas.o rescue.o agent.o tui.o $(CORE)

all: gpufas

gpufas: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(OBJS) test/unit.o test/bench.o: gpufas.h
introspect.o metrics.o: introspect.h

test/unit: test/unit.o $(CORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

test/bench: test/bench.o $(CORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The GPU kernels, built wherever nvcc is, and embedded in the binary
# (gpu.c .incbin's the fatbin). Without nvcc the binary has the CPU engine
# only, and says so when asked for the GPU.
ifneq ($(wildcard $(NVCC)),)
gpu.o: kernels.fatbin
gpu.o: CPPFLAGS += -DGPUFAS_FATBIN='"kernels.fatbin"'
endif

kernels.fatbin: kernels.cu introspect.c metrics.c introspect.h gpufas.h
	$(NVCC) -fatbin -O2 -Xfatbin -compress-all -Wno-deprecated-gpu-targets \
	  -gencode arch=compute_75,code=sm_75 -gencode arch=compute_80,code=sm_80 \
	  -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 \
	  -o $@ kernels.cu

deps:
	test/install-deps.sh

# Each of these installs what it needs first, then builds with it.
test: deps
	$(MAKE) gpufas test/unit
	test/run-tests.sh

demo: deps
	$(MAKE) gpufas
	test/demo.sh

bench: deps
	$(MAKE) gpufas test/bench
	python3 test/bench.py

# The recovery benchmark (issue 4): gpufas against the in-OS killers in a
# thrashing guest. Options: make bench-recovery RECOVERY_ARGS='--runs 1'
bench-recovery: deps
	$(MAKE) gpufas
	python3 test/bench_recovery.py $(RECOVERY_ARGS)

clean:
	rm -f gpufas *.o test/*.o test/unit test/bench kernels.fatbin

.PHONY: all deps test demo bench bench-recovery clean
