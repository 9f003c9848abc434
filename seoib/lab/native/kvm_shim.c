/*
 * seoib lab: an LD_PRELOAD library between QEMU and /dev/kvm.
 *
 * It sees every KVM ioctl QEMU makes and changes only KVM_CAP_X2APIC_API:
 *
 *   SEOIB_LAB_X2APIC_MASK=0x3   KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API) is
 *                               answered ANDed with the mask, and a
 *                               KVM_ENABLE_CAP of bits outside it fails with
 *                               EINVAL: a kernel without the SEOIB flags
 *                               (bits 2 and 3, commit 6517dfbcc918) as QEMU's
 *                               own code paths see one.
 *   SEOIB_LAB_X2APIC_SET=0x4    on a VM's first KVM_CREATE_VCPU, enable these
 *                               flags first, on the VM fd, as a QEMU SEOIB
 *                               design does before any vCPU exists (0x4
 *                               RESPECTED, 0x8 NOT_ADVERTISED).
 *   SEOIB_LAB_SHIM_LOG=PATH     one line per event, appended to PATH (the lab
 *                               reads what QEMU asked and what KVM answered
 *                               from it, on any QEMU build).
 *
 * Without the variables it only logs. Built by the lab with the system C
 * compiler: cc -shared -fPIC -O2 -o kvm_shim.so kvm_shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/kvm.h>

#ifndef KVM_CAP_X2APIC_API
#define KVM_CAP_X2APIC_API 129
#endif

typedef int (*ioctl_fn)(int, unsigned long, ...);

static ioctl_fn real_ioctl;
static int have_mask, log_fd = -1;
static unsigned long long mask, set_flags;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int set_done_fds[64];
static int set_done_count;

static unsigned long long env_number(const char *name, int *present)
{
    const char *text = getenv(name);
    *present = text != NULL && *text != '\0';
    return *present ? strtoull(text, NULL, 0) : 0;
}

static void say(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    int n;

    if (log_fd < 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    /* one write per line: O_APPEND keeps lines of two threads whole */
    if (write(log_fd, line, n) < 0)
        return;
}

__attribute__((constructor)) static void shim_init(void)
{
    int present;
    const char *path = getenv("SEOIB_LAB_SHIM_LOG");

    real_ioctl = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
    mask = env_number("SEOIB_LAB_X2APIC_MASK", &have_mask);
    set_flags = env_number("SEOIB_LAB_X2APIC_SET", &present);
    if (path && *path)
        log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    say("loaded pid=%d mask=%s0x%llx set=0x%llx", (int)getpid(), have_mask ? "" : "none/",
        mask, set_flags);
}

static int forbidden(unsigned long long flags)
{
    return have_mask && (flags & ~mask) != 0;
}

/* The flags a design sets before the VM's first vCPU (once per VM fd). */
static void design_set(int vm_fd)
{
    struct kvm_enable_cap cap;
    int i, r, err = 0;

    pthread_mutex_lock(&lock);
    for (i = 0; i < set_done_count; i++) {
        if (set_done_fds[i] == vm_fd) {
            pthread_mutex_unlock(&lock);
            return;
        }
    }
    if (set_done_count < 64)
        set_done_fds[set_done_count++] = vm_fd;
    pthread_mutex_unlock(&lock);

    if (forbidden(set_flags)) {
        say("design_set flags=0x%llx result=-1 errno=%d emulated=1", set_flags, EINVAL);
        return;
    }
    memset(&cap, 0, sizeof(cap));
    cap.cap = KVM_CAP_X2APIC_API;
    cap.args[0] = set_flags;
    r = real_ioctl(vm_fd, KVM_ENABLE_CAP, &cap);
    if (r < 0)
        err = errno;
    say("design_set flags=0x%llx result=%d errno=%d emulated=0", set_flags, r, err);
}

int ioctl(int fd, unsigned long request_arg, ...)
{
    /* QEMU passes an int: the request arrives sign-extended (0xffffffffc008ae05) */
    unsigned int request = (unsigned int)request_arg;
    va_list ap;
    void *arg;
    int r;

    va_start(ap, request_arg);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (!real_ioctl)
        real_ioctl = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");

    if (request == KVM_CHECK_EXTENSION && (unsigned long)arg == KVM_CAP_X2APIC_API) {
        r = real_ioctl(fd, request_arg, arg);
        if (r >= 0 && have_mask) {
            say("check_extension real=0x%x answered=0x%llx", r, r & mask);
            return (int)(r & mask);
        }
        say("check_extension real=0x%x answered=0x%x", r, r);
        return r;
    }
    if (request == KVM_ENABLE_CAP && arg != NULL &&
        ((struct kvm_enable_cap *)arg)->cap == KVM_CAP_X2APIC_API) {
        unsigned long long flags = ((struct kvm_enable_cap *)arg)->args[0];
        int err = 0;

        if (forbidden(flags)) {
            say("enable_cap flags=0x%llx result=-1 errno=%d emulated=1", flags, EINVAL);
            errno = EINVAL;
            return -1;
        }
        r = real_ioctl(fd, request_arg, arg);
        if (r < 0)
            err = errno;
        say("enable_cap flags=0x%llx result=%d errno=%d emulated=0", flags, r, err);
        if (r < 0)
            errno = err;
        return r;
    }
    if (request == KVM_CREATE_VCPU && set_flags != 0)
        design_set(fd);
    return real_ioctl(fd, request_arg, arg);
}
