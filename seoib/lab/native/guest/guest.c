/*
 * seoib lab guest: a guest that uses directed EOI the way Windows with
 * Credential Guard does, observed on a real QEMU and KVM.
 *
 * It turns on x2APIC, reads the LAPIC version (LVR bit 24: suppress EOI
 * broadcast supported) and sets SVR bit 12 when the bit is advertised, without
 * looking at the IOAPIC version. IOAPIC pin 10 is programmed level-triggered
 * and driven through pc-testdev (one I/O port per ISA line, 0x2000 + pin).
 *
 *   phase A: raise the line and open interrupt windows for PHASE_CYCLES TSC
 *            cycles. With SVR bit 12 set the handler EOIs at the LAPIC only and
 *            leaves the device for later; without it, it services the device
 *            (lowers the line) and then EOIs, as Linux does.
 *   service: lower the line, write the IOAPIC EOI register (offset 0x40).
 *   phase B: raise the line again and count the same way.
 *
 * A storm shows as many interrupts in phase A (Remote IRR cleared while the
 * line is still high), a stuck line as none in phase B (Remote IRR never
 * cleared). One line of results goes to isa-debugcon (port 0xe9), then the
 * guest leaves through isa-debug-exit (port 0xf4). No writable globals: the
 * image is ROM, the state lives in RAM at STATE.
 */
typedef unsigned int u32;
typedef unsigned long long u64;

#define DEBUGCON 0xe9
#define DEBUG_EXIT 0xf4
#define TESTDEV_IRQ 0x2000
#define PIN 10
#define VECTOR 0x40
#define SPURIOUS 0xff
#define IOAPIC ((volatile u32 *)0xfec00000)
#define IOAPIC_EOIR ((volatile u32 *)0xfec00040)
#define MSR_APIC_BASE 0x1b
#define MSR_X2APIC_LVR 0x803
#define MSR_X2APIC_SVR 0x80f
#define MSR_X2APIC_EOI 0x80b
#define LVR_SEOIB (1u << 24)
#define SVR_ENABLE (1u << 8)
#define SVR_SEOIB (1u << 12)
#define RTE_LEVEL (1u << 15)
#define RTE_REMOTE_IRR (1u << 14)
#define PHASE_CYCLES 300000000ull
#define MAX_WINDOWS 4000000u
#define WINDOW_SPIN 2000u
#define EXIT_DONE 0x10
#define EXIT_FAULT 0x11

struct idt_entry { unsigned short off_lo, sel; unsigned char zero, flags; unsigned short off_hi; };
struct state {
    u32 phase, directed, spurious;
    u32 count[2], windows[2];
    struct idt_entry idt[256];
};
#define STATE ((struct state *)0x10000)

extern void irq_stub(void), spurious_stub(void);
extern void fault_stub_0(void), fault_stub_6(void), fault_stub_8(void);
extern void fault_stub_13(void), fault_stub_14(void), fault_stub_255(void);

static inline void outb(unsigned short port, unsigned char v)
{ __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u64 rdmsr(u32 msr)
{ u32 lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr)); return ((u64)hi << 32) | lo; }
static inline void wrmsr(u32 msr, u64 v)
{ __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32))); }
static inline u64 rdtsc(void)
{ u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((u64)hi << 32) | lo; }

static void put(const char *s) { while (*s) outb(DEBUGCON, (unsigned char)*s++); }
static void put_hex(u32 v)
{
    static const char digits[] = "0123456789abcdef";
    char buf[11];
    int i = 10;
    buf[i] = 0;
    do { buf[--i] = digits[v & 15]; v >>= 4; } while (v);
    buf[--i] = 'x';
    buf[--i] = '0';
    put(buf + i);
}
static void put_dec(u32 v)
{
    char buf[11];
    int i = 10;
    buf[i] = 0;
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    put(buf + i);
}
static void field(const char *name, u32 v, int hex)
{
    put(" "); put(name); put("=");
    if (hex) put_hex(v); else put_dec(v);
}

static u32 ioapic_read(u32 reg) { IOAPIC[0] = reg; return IOAPIC[4]; }
static void ioapic_write(u32 reg, u32 v) { IOAPIC[0] = reg; IOAPIC[4] = v; }
static u32 remote_irr(void) { return (ioapic_read(0x10 + 2 * PIN) & RTE_REMOTE_IRR) ? 1 : 0; }
static void line(int level) { outb(TESTDEV_IRQ + PIN, (unsigned char)level); }

static void set_gate(int vector, void (*handler)(void))
{
    u32 off = (u32)handler;
    struct idt_entry *e = &STATE->idt[vector];
    e->off_lo = (unsigned short)off;
    e->sel = 0x08;
    e->zero = 0;
    e->flags = 0x8e; /* present, ring 0, 32-bit interrupt gate */
    e->off_hi = (unsigned short)(off >> 16);
}

static void load_idt(void)
{
    struct { unsigned short limit; u32 base; } __attribute__((packed)) desc;
    int v;
    for (v = 0; v < 256; v++)
        set_gate(v, fault_stub_255);
    set_gate(0, fault_stub_0);
    set_gate(6, fault_stub_6);
    set_gate(8, fault_stub_8);
    set_gate(13, fault_stub_13);
    set_gate(14, fault_stub_14);
    set_gate(VECTOR, irq_stub);
    set_gate(SPURIOUS, spurious_stub);
    desc.limit = sizeof(STATE->idt) - 1;
    desc.base = (u32)STATE->idt;
    __asm__ volatile("lidt %0" : : "m"(desc));
}

/* Open interrupt windows for PHASE_CYCLES: each takes at most one interrupt (handlers return
 * with IF clear), so a count is of deliveries, never of nested handlers. */
static void windows(u32 phase)
{
    u64 start = rdtsc();
    u32 n = 0;
    STATE->phase = phase;
    while (rdtsc() - start < PHASE_CYCLES && n < MAX_WINDOWS) {
        u32 before = STATE->count[phase], spin;
        /* open: an interrupt that is on its way gets WINDOW_SPIN pauses to arrive */
        __asm__ volatile("sti" ::: "memory");
        for (spin = 0; spin < WINDOW_SPIN && STATE->count[phase] == before; spin++)
            __asm__ volatile("pause" ::: "memory");
        __asm__ volatile("cli" ::: "memory");
        n++;
    }
    STATE->windows[phase] = n;
}

void guest_irq(void)
{
    STATE->count[STATE->phase]++;
    if (!STATE->directed)
        line(0); /* service the device before the EOI: the broadcast then finds it quiet */
    wrmsr(MSR_X2APIC_EOI, 0);
}

void guest_spurious(void) { STATE->spurious++; }

void guest_fault(u32 vector)
{
    put("seoib-lab-guest fault");
    field("vector", vector, 0);
    put("\n");
    outb(DEBUG_EXIT, EXIT_FAULT);
    for (;;) __asm__ volatile("cli; hlt");
}

void guest_main(void)
{
    u32 lvr, svr, version, rirr_a, rirr_eoir, rirr_b, rirr_end;
    struct state *s = STATE;

    s->phase = 0; s->directed = 0; s->spurious = 0;
    s->count[0] = s->count[1] = 0;
    s->windows[0] = s->windows[1] = 0;
    load_idt();

    wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | (1u << 11) | (1u << 10)); /* xAPIC, then x2APIC */
    lvr = (u32)rdmsr(MSR_X2APIC_LVR);
    wrmsr(MSR_X2APIC_SVR, SPURIOUS | SVR_ENABLE | ((lvr & LVR_SEOIB) ? SVR_SEOIB : 0));
    svr = (u32)rdmsr(MSR_X2APIC_SVR);
    s->directed = (svr & SVR_SEOIB) ? 1 : 0;

    version = ioapic_read(1) & 0xff;
    ioapic_write(0x10 + 2 * PIN + 1, 0);             /* destination: APIC ID 0 */
    ioapic_write(0x10 + 2 * PIN, VECTOR | RTE_LEVEL); /* fixed, active high, unmasked */

    line(1);
    windows(0);
    rirr_a = remote_irr();
    line(0);                 /* the device is serviced ... */
    *IOAPIC_EOIR = VECTOR;   /* ... then the IOAPIC is told (ignored by a 0x11) */
    rirr_eoir = remote_irr();

    line(1);
    windows(1);
    rirr_b = remote_irr();
    line(0);
    *IOAPIC_EOIR = VECTOR;
    rirr_end = remote_irr();

    put("seoib-lab-guest 1");
    field("lvr", lvr, 1);
    field("svr", svr, 1);
    field("ioapic", version, 1);
    field("directed", s->directed, 0);
    field("a", s->count[0], 0);
    field("b", s->count[1], 0);
    field("windows_a", s->windows[0], 0);
    field("windows_b", s->windows[1], 0);
    field("rirr_a", rirr_a, 0);
    field("rirr_eoir", rirr_eoir, 0);
    field("rirr_b", rirr_b, 0);
    field("rirr_end", rirr_end, 0);
    field("spurious", s->spurious, 0);
    put("\n");
    outb(DEBUG_EXIT, EXIT_DONE);
    for (;;) __asm__ volatile("cli; hlt");
}
