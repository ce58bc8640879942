# gpufas — see README.md. `make` builds ./gpufas; `make test` runs every
# test (installing what they need); `make demo` boots the bundled test
# guest and opens the live view on it; `make bench` measures.

CC      ?= cc
NVCC    ?= $(shell command -v nvcc || echo /usr/local/cuda/bin/nvcc)
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -D_GNU_SOURCE
# Travels as one file: these libraries are linked from their static
# archives; glibc stays dynamic (a static glibc cannot dlopen libcuda).
STATIC_LIBS = -lbpf -lelf -lz -linih -lncursesw -ltinfo -lsodium -ljson-c -lxxhash
LDLIBS  = -Wl,-Bstatic $(STATIC_LIBS) -Wl,-Bdynamic -ldl -lpthread -lm

CORE = clock.o target.o libvirt.o vmcoreinfo.o kallsyms.o layout.o discover.o profile.o introspect.o \
       metrics.o detect.o recover.o loop.o engine.o gpu.o config.o \
       signals.o json.o operator.o watch.o events.o board.o hub.o blake2b.o pagehash.o \
       devbox.o sdnotify.o helper.o qmp.o snappages.o snapshot.o
# the protocol, its transports and the endpoint, without the viewer
WIRE = proto.o auth.o transport.o tcp.o rdma.o http.o prom.o
REMOTE = $(WIRE) view.o
OBJS = gpufas.o rescue.o agent.o textfile.o tui.o tui_draw.o terminfo.o $(REMOTE) $(CORE)
# test/unit: the runner, the synthetic guest, and one file per module
UNIT = $(patsubst %.c,%.o,$(wildcard test/unit_*.c))

all: gpufas

gpufas: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

# Header dependencies: written by the compiler beside each object (.d).
CFLAGS += -MMD -MP
-include $(wildcard *.d test/*.d)

# XXH3's lanes: gcc vectorizes and unrolls them at -O3 (7 GB/s a core
# here against 3 at -O2; README: Snapshot and restore)
pagehash.o: CFLAGS += -O3

test/unit: $(UNIT) $(CORE) $(WIRE) test/fuzz/image.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Plays the NIC for the GPU's remote mailbox (devbox.h), through CUDA IPC.
test/nic: test/nic.o $(CORE) $(WIRE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

test/bench: test/bench.o $(CORE) $(WIRE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A restore's compare, the CPU's threads against the GPU (make bench-pagehash).
test/bench_pagehash: test/bench_pagehash.o $(CORE) $(WIRE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The real dashboard on a synthetic source (make bench: its CPU cost).
test/bench_tui: test/bench_tui.o tui.o tui_draw.o terminfo.o $(CORE) $(WIRE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The terminal entries the binary carries for boxes without terminfo files
# (terminfo.c): this machine's entries, compiled with tic into one tar.
TERMINFO_ENTRIES = xterm-256color xterm screen-256color screen \
		   tmux-256color tmux linux vt100
terminfo.tar:
	rm -rf terminfo.d && mkdir terminfo.d
	for t in $(TERMINFO_ENTRIES); do \
		infocmp -x $$t >terminfo.d/$$t.src && \
		tic -x -o terminfo.d terminfo.d/$$t.src || exit 1; \
	done
	rm terminfo.d/*.src
	tar -C terminfo.d --format=ustar --owner=0 --group=0 --numeric-owner \
	    --sort=name --mtime=@0 -cf $@ .
	rm -rf terminfo.d

terminfo.o: terminfo.tar
terminfo.o: CPPFLAGS += -DGPUFAS_TERMINFO='"terminfo.tar"'

# The GPU kernels, built wherever nvcc is, and embedded in the binary
# (gpu.c .incbin's the fatbin). Without nvcc the binary has the CPU engine
# only, and says so when asked for the GPU.
ifneq ($(wildcard $(NVCC)),)
gpu.o: kernels.fatbin
gpu.o: CPPFLAGS += -DGPUFAS_FATBIN='"kernels.fatbin"'
endif

# The shared files (test/device-safe.sh checks the same list) and every
# header they might include.
DEVICE_SRC = introspect.c metrics.c detect.c recover.c loop.c blake2b.c pagehash.c devbox.c
kernels.fatbin: kernels.cu $(DEVICE_SRC) $(wildcard *.h) kmod/gpufas_helper.h
	$(NVCC) -fatbin -O2 -Xfatbin -compress-all -Wno-deprecated-gpu-targets \
	  -gencode arch=compute_75,code=sm_75 -gencode arch=compute_80,code=sm_80 \
	  -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 \
	  -o $@ kernels.cu

# ---- Sanitizer and fuzz builds (README: Fuzzing and sanitizers) ----
# The same sources, built by clang into object trees of their own:
# build/asan with ASan + UBSan (make test runs test/unit-asan and replays
# the fuzz inputs with them), build/fuzz also instrumented for libFuzzer.
# They link the shared libraries: these binaries stay on this machine
# (./gpufas is the one that travels). gpu.c is built without the fatbin:
# these builds need no nvcc.
SAN_CC   = clang
SAN_FLAGS = -O1 -g -std=c11 -Wall -Wextra -D_GNU_SOURCE -fno-omit-frame-pointer \
	    -fsanitize=address,undefined -fno-sanitize-recover=all
SAN_LIBS = -lbpf -lelf -lz -linih -lncursesw -ltinfo -lsodium -ljson-c -lxxhash -ldl -lpthread -lm
HEADERS  = $(wildcard *.h kmod/*.h test/*.h test/fuzz/*.h)
FUZZ_TARGETS = fuzz_ram fuzz_vmcoreinfo fuzz_kallsyms fuzz_btf fuzz_elfcore \
	       fuzz_config fuzz_proto_agent fuzz_proto_viewer fuzz_devbox
FUZZ_SHARED = test/fuzz/image.o test/fuzz/wire.o test/fuzz/writes.o test/fuzz/ram.o
# seconds a target: short, as in make test's smoke run (test/fuzz/run.sh)
FUZZ_SECONDS ?= 3
# the tests whose fixtures are written as seeds (test/unit.h's fuzz_seed)
SEED_TESTS = walk_processes walk_threads walk_rss_percpu walk_5level log_tail \
	     kallsyms_rules kallsyms_from_image profile_round_trip \
	     target_elf_core operator_signal_all

build/asan/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(SAN_CC) $(CPPFLAGS) $(SAN_FLAGS) -c -o $@ $<

build/fuzz/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(SAN_CC) $(CPPFLAGS) $(SAN_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build/asan/terminfo.o: terminfo.tar
build/asan/terminfo.o: CPPFLAGS += -DGPUFAS_TERMINFO='"terminfo.tar"'

ASAN_LIB = $(addprefix build/asan/,$(CORE) $(WIRE) $(FUZZ_SHARED))
FUZZ_LIB = $(addprefix build/fuzz/,$(CORE) $(WIRE) $(FUZZ_SHARED))

test/unit-asan: $(addprefix build/asan/,$(UNIT)) $(ASAN_LIB)
	$(SAN_CC) -fsanitize=address,undefined -o $@ $^ $(SAN_LIBS)

# The whole program under the sanitizers, for the guest suites (README).
gpufas-asan: $(addprefix build/asan/,$(OBJS))
	$(SAN_CC) -fsanitize=address,undefined -o $@ $^ $(SAN_LIBS)

# Each target twice: with libFuzzer (make fuzz), and with replay.c.
test/fuzz/bin/%: build/fuzz/test/fuzz/%.o $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(SAN_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(SAN_LIBS)

test/fuzz/bin/replay-%: build/asan/test/fuzz/%.o build/asan/test/fuzz/replay.o $(ASAN_LIB)
	@mkdir -p $(dir $@)
	$(SAN_CC) -fsanitize=address,undefined -o $@ $^ $(SAN_LIBS)

fuzz-replay: $(addprefix test/fuzz/bin/replay-,$(FUZZ_TARGETS))
fuzz-bin: $(addprefix test/fuzz/bin/,$(FUZZ_TARGETS))

fuzz: deps
	$(MAKE) fuzz-bin
	FUZZ_SECONDS=$(FUZZ_SECONDS) test/fuzz/run.sh $(FUZZ_TARGETS)

# Rewrites the seeds: test/unit's fixtures, seeds.c's messages, config.ini,
# BTF of btf_types.c (llvm-objcopy: Debian's llvm).
fuzz-seeds: test/unit test/fuzz/bin/seeds
	mkdir -p $(addprefix test/fuzz/corpus/,$(FUZZ_TARGETS))
	GPUFAS_FUZZ_SEEDS=test/fuzz/corpus ./test/unit $(SEED_TESTS)
	test/fuzz/bin/seeds test/fuzz/corpus
	cp config.ini test/fuzz/corpus/fuzz_config/config.ini
	$(SAN_CC) -g -target bpf -c -o build/btf_types.o test/fuzz/btf_types.c
	llvm-objcopy --dump-section .BTF=test/fuzz/corpus/fuzz_btf/types build/btf_types.o

test/fuzz/bin/seeds: build/asan/test/fuzz/seeds.o $(ASAN_LIB)
	@mkdir -p $(dir $@)
	$(SAN_CC) -fsanitize=address,undefined -o $@ $^ $(SAN_LIBS)

# Records the RAM targets' seeds of real kernels: the 6.1 and 6.12 guests
# the suites boot (test/fuzz/record.py, test/fuzz/record.c), then the
# agent's seeds made of them.
fuzz-record: deps
	$(MAKE) test/fuzz/bin/record test/fuzz/bin/seeds
	python3 test/fuzz/record.py
	test/fuzz/bin/seeds test/fuzz/corpus

test/fuzz/bin/record: build/asan/test/fuzz/record.o $(ASAN_LIB)
	@mkdir -p $(dir $@)
	$(SAN_CC) -fsanitize=address,undefined -o $@ $^ $(SAN_LIBS)

deps:
	test/install-deps.sh

# Each of these installs what it needs first, then builds with it.
test: deps
	$(MAKE) gpufas test/unit test/bench_tui test/unit-asan fuzz-replay fuzz-bin
	test/run-tests.sh

demo: deps
	$(MAKE) gpufas
	test/demo.sh

bench: deps
	$(MAKE) gpufas test/bench test/bench_tui
	python3 test/bench.py

# The recovery benchmark (issue 4): gpufas against the in-OS killers in a
# thrashing guest. Options: make bench-recovery RECOVERY_ARGS='--runs 1'
bench-recovery: deps
	$(MAKE) gpufas
	python3 test/bench_recovery.py $(RECOVERY_ARGS)

# The GPUfas paper's mass kill: N sleepers between bursts killed by the
# pseudo-signal, the in-OS helper and an in-guest killall (issue 13).
bench-signals: deps
	$(MAKE) gpufas
	cd test && python3 bench_signals.py $(SIGNALS_ARGS)

# The remote protocol's round trips against each transport's floor (TCP
# echo on loopback; perftest over Soft-RoCE in a guest).
bench-remote: deps
	$(MAKE) gpufas test/echo
	cd test && python3 bench_remote.py $(REMOTE_ARGS)

test/echo: test/echo.c

# Kernel-failure recovery (issue 14): downtime of a panicked guest by reboot,
# reset and restore; the restore against QEMU's full restore, 512 MiB and
# 4 GiB. Options: make bench-restore RESTORE_ARGS='--runs 1'
bench-restore: deps
	$(MAKE) gpufas
	python3 test/bench_restore.py $(RESTORE_ARGS)

# A restore's compare: the CPU's threads against the GPU, where there is
# one (test/gpu-test.sh pagehash on the GPU machine). Options:
# make bench-pagehash PAGEHASH_ARGS='--gib 16 --runs 9'
bench-pagehash: deps
	$(MAKE) test/bench_pagehash
	test/bench_pagehash $(PAGEHASH_ARGS)

clean:
	rm -f gpufas *.o *.d test/*.o test/*.d test/unit test/bench test/bench_tui test/echo test/nic \
	      kernels.fatbin terminfo.tar test/unit-asan gpufas-asan test/fuzz/*.o \
	      test/bench_pagehash
	rm -rf build test/fuzz/bin

.PHONY: all deps test demo bench bench-pagehash bench-recovery bench-remote \
	bench-restore bench-signals clean fuzz fuzz-bin fuzz-record fuzz-replay \
	fuzz-seeds
