/* Benchmark aid: run a process as if on an AVX2-only x86-64 CPU (no AVX-512, AVX-VNNI, AMX
 * or AVX512-BF16), for every library in it: torch, MKL and oneDNN have environment variables
 * for that (ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS, ONEDNN_MAX_CPU_ISA), ONNX Runtime's
 * MLAS has none and reads CPUID itself. This LD_PRELOAD library turns on CPUID faulting
 * (arch_prctl ARCH_SET_CPUID, Linux >= 4.12, CPU flag `cpuid_fault`) and answers each
 * CPUID with the real result less those feature bits. It exits with status 97 where CPUID
 * faulting is unavailable, rather than measure the real CPU. /proc/cpuinfo is unchanged.
 *
 *   gcc -O2 -shared -fPIC -o /tmp/avx2only.so benchmarks/avx2only.c
 *   LD_PRELOAD=/tmp/avx2only.so CLAIMLENS_INFERENCE_PRECISION=fp32 .venv/bin/python -m benchmarks.bench_scoring
 *
 * The benchmarks' first line lists the features the process sees. Not for production. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static long set_cpuid(int enabled) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, (unsigned long)enabled); }

static void on_segv(int sig, siginfo_t *info, void *raw) {
    ucontext_t *ctx = raw;
    greg_t *r = ctx->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)r[REG_RIP];
    if (!(ip[0] == 0x0f && ip[1] == 0xa2)) { /* a real crash: default action on re-fault */
        signal(SIGSEGV, SIG_DFL);
        return;
    }
    unsigned leaf = (unsigned)r[REG_RAX], sub = (unsigned)r[REG_RCX], a, b, c, d;
    set_cpuid(1);
    __cpuid_count(leaf, sub, a, b, c, d);
    set_cpuid(0);
    if (leaf == 7 && sub == 0) {
        b &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31));
        c &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
        d &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
    } else if (leaf == 7 && sub == 1) {
        a &= ~((1u << 4) | (1u << 5) | (1u << 21));
        d &= ~((1u << 4) | (1u << 5) | (1u << 8));
    }
    r[REG_RAX] = a; r[REG_RBX] = b; r[REG_RCX] = c; r[REG_RDX] = d;
    r[REG_RIP] += 2;
}

__attribute__((constructor)) static void avx2only_init(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_segv;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGSEGV, &action, NULL) != 0 || set_cpuid(0) != 0) {
        fprintf(stderr, "avx2only: CPUID faulting unavailable; refusing to run unemulated\n");
        _exit(97);
    }
}
