# bpf/: kernel programs, the header shared with user space, the loader (the eBPF source).
#
# The kernel side is compiled by plain clang for the BPF target whatever the variant (the fuzz
# variant's sanitizers must not reach it), against a vmlinux.h dumped from the running kernel's
# BTF; bpftool turns the object into a skeleton header that embeds it. The skeleton is in
# GENERATED so it exists before any C file compiles.
LIB_SRCS += $(filter-out %.bpf.c,$(wildcard bpf/*.c))

BPF_CLANG ?= clang
BPFTOOL ?= bpftool
BPF_VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
# -mcpu=v3: atomic fetch-add (generation counter, byte offsets) needs BPF_FETCH.
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Werror

$(BUILD)/bpf/vmlinux.h:
	@mkdir -p $(@D)
	@$(if $(Q),echo "  BTF     $@")
	$(Q)$(BPFTOOL) btf dump file $(BPF_VMLINUX_BTF) format c > $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(BUILD)/bpf/vmlinux.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  BPF     $<")
	$(Q)$(BPF_CLANG) $(BPF_CFLAGS) -I$(BUILD)/bpf -Ibpf -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	@$(if $(Q),echo "  SKEL    $@")
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .,_,$*)_bpf > $@

GENERATED += $(BUILD)/bpf/capture.skel.h
# not intermediates: the object is kept for llvm-objdump when debugging the verifier, and the
# skeleton must stay or every C file that includes it would rebuild each time
.SECONDARY: $(BUILD)/bpf/capture.bpf.o $(BUILD)/bpf/capture.skel.h
