/* The migsim measurement guest: a bare-metal multiboot kernel that dirties memory at a paced rate.
 *
 * Kernel command line (all counts in 4 KiB pages, offsets from the 4 MiB mark, rates in pages/s):
 *   fill=N     pages filled with non-zero, page-distinct data before the run
 *   ws=N       working-set pages (written once before the run, then rewritten at `rate`)
 *   wsoff=N    first page of the working set
 *   rate=N     working-set page writes per second
 *   pat=seq|rand   sequential sweep (wrapping) or pseudo-random pages of the working set
 *   hot=N hotoff=N hotrate=N   an optional hot set, disjoint from the working set
 * Each write stores one 32-bit word in a page, which dirties the page. Time comes from the ACPI PM
 * timer (3.579545 MHz, QEMU's virtual clock); the PIT (1 kHz) only wakes the vCPU from `hlt`. Debt
 * is capped at 10 ms, so a throttled vCPU really writes less. Once a second (PM time) it prints on
 * isa-debugcon (port 0xe9): "R <second> <ws pages written> <hot pages written>". Before the loop it
 * prints "READY ..." (memory filled) or "ERROR ..." (parameters do not fit the RAM).
 * Leaves out: paging, SMP, everything else. */

typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

#define PAGE 4096u
#define BASE 0x400000u                 /* 4 MiB: the guest's own code and stack live below */
#define PM_HZ 3579545u
#define PIT_HZ 1000u
#define PM_CHUNK 3580u                 /* ~1 ms of PM ticks per pacing step (keeps u32 sums small) */
#define MAX_DEBT (PM_HZ / 100u)        /* 10 ms */

struct mbi { u32 flags, mem_lower, mem_upper, boot_device, cmdline; };
struct idt_entry { u16 off_lo, sel; u8 zero, type; u16 off_hi; } __attribute__((packed));
struct idtr { u16 limit; u32 base; } __attribute__((packed));

extern void irq0_stub(void);
extern void ignore_stub(void);
volatile u32 ticks;
static struct idt_entry idt[256];
static struct idtr idtr;
static u16 pm_port = 0x608;

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void puts(const char *s) { while (*s) outb(0xe9, (u8)*s++); }
static void putu(u32 v) {
    char buf[12]; int i = 11; buf[i] = 0;
    do { buf[--i] = (char)('0' + v % 10u); v /= 10u; } while (v);
    puts(buf + i);
}

static u32 length(const char *s) { u32 n = 0; while (s[n]) n++; return n; }
static int prefix(const char *s, const char *p) { while (*p) if (*s++ != *p++) return 0; return 1; }
static u32 number(const char *s) { u32 v = 0; while (*s >= '0' && *s <= '9') v = v * 10u + (u32)(*s++ - '0'); return v; }

static u32 arg(const char *cmd, const char *key, u32 dflt) {
    /* value of " key=" in the command line, else dflt */
    const char *s = cmd;
    while (*s) {
        while (*s == ' ') s++;
        if (prefix(s, key)) return number(s + length(key));
        while (*s && *s != ' ') s++;
    }
    return dflt;
}

static void set_gate(int n, void (*fn)(void)) {
    u32 a = (u32)fn;
    idt[n].off_lo = (u16)a; idt[n].sel = 0x08; idt[n].zero = 0; idt[n].type = 0x8E; idt[n].off_hi = (u16)(a >> 16);
}

static void setup_interrupts(void) {
    for (int i = 0; i < 256; i++) set_gate(i, ignore_stub);
    set_gate(0x20, irq0_stub);
    idtr.limit = sizeof(idt) - 1; idtr.base = (u32)idt;
    __asm__ volatile("lidt %0" : : "m"(idtr));
    /* PIC: remap to 0x20/0x28, only IRQ0 unmasked */
    outb(0x20, 0x11); outb(0xA0, 0x11); outb(0x21, 0x20); outb(0xA1, 0x28);
    outb(0x21, 0x04); outb(0xA1, 0x02); outb(0x21, 0x01); outb(0xA1, 0x01);
    outb(0x21, 0xFE); outb(0xA1, 0xFF);
    /* PIT channel 0, rate generator at PIT_HZ */
    u32 div = 1193182u / PIT_HZ;
    outb(0x43, 0x34); outb(0x40, (u8)div); outb(0x40, (u8)(div >> 8));
}

static u32 pm_now(void) { return inl(pm_port) & 0xFFFFFFu; }   /* 24-bit counter */

static void fill_page(u32 page, u32 tag) {
    volatile u32 *w = (volatile u32 *)(BASE + page * PAGE);
    u32 v = (page + 1u) * 2654435761u ^ tag;
    for (u32 i = 0; i < PAGE / 4u; i += 16u) w[i] = v + i + 1u;   /* one word per 64 bytes */
}

void kmain(u32 magic, struct mbi *mbi) {
    const char *cmd = "";
    if (magic != 0x2BADB002u) { puts("ERROR not multiboot\n"); return; }
    if (mbi->flags & 4u) cmd = (const char *)mbi->cmdline;
    u32 top_pages = (mbi->flags & 1u) ? (mbi->mem_upper / 4u + 256u) : 0u;   /* pages below RAM top */
    u32 avail = top_pages > BASE / PAGE ? top_pages - BASE / PAGE : 0u;
    u32 fill = arg(cmd, "fill=", 0), ws = arg(cmd, "ws=", 0), wsoff = arg(cmd, "wsoff=", 0);
    u32 rate = arg(cmd, "rate=", 0), hot = arg(cmd, "hot=", 0), hotrate = arg(cmd, "hotrate=", 0);
    u32 hotoff = arg(cmd, "hotoff=", wsoff + ws);
    u32 rnd = 0;
    { const char *s = cmd; while (*s) { if (prefix(s, "pat=rand")) rnd = 1; s++; } }
    pm_port = (u16)arg(cmd, "pmport=", 0x608);
    if (fill > avail) fill = avail;   /* firmware reserves the top of RAM: fill what there is */
    if (wsoff + ws > avail || hotoff + hot > avail || (ws == 0 && rate) || (hot == 0 && hotrate)) {
        puts("ERROR parameters exceed the guest RAM: avail="); putu(avail); puts(" pages\n");
        for (;;) __asm__ volatile("cli; hlt");
    }
    for (u32 p = 0; p < fill; p++) fill_page(p, 0x5A5A0000u);
    for (u32 p = 0; p < ws; p++) fill_page(wsoff + p, 0x3C3C0000u);
    for (u32 p = 0; p < hot; p++) fill_page(hotoff + p, 0x69690000u);
    puts("READY fill="); putu(fill); puts(" ws="); putu(ws); puts(" wsoff="); putu(wsoff);
    puts(" rate="); putu(rate); puts(rnd ? " pat=rand" : " pat=seq"); puts(" hot="); putu(hot);
    puts(" hotoff="); putu(hotoff); puts(" hotrate="); putu(hotrate); puts(" avail="); putu(avail); puts("\n");

    setup_interrupts();
    volatile u32 *ws_base = (volatile u32 *)(BASE + wsoff * PAGE);
    volatile u32 *hot_base = (volatile u32 *)(BASE + hotoff * PAGE);
    u32 last = pm_now(), acc = 0, hacc = 0, next = 0, x = 2463534242u, hx = 88675123u, seq = 1;
    u32 sec_pm = 0, sec = 0, done = 0, hdone = 0;
    for (;;) {
        __asm__ volatile("sti; hlt; cli");
        u32 now = pm_now();
        u32 delta = (now - last) & 0xFFFFFFu;
        last = now;
        sec_pm += delta;
        if (delta > MAX_DEBT) delta = MAX_DEBT;   /* a throttled or descheduled vCPU loses the time */
        while (delta) {
            u32 step = delta > PM_CHUNK ? PM_CHUNK : delta;
            delta -= step;
            acc += step * rate;
            u32 n = acc / PM_HZ; acc -= n * PM_HZ;
            for (u32 k = 0; k < n; k++) {
                u32 page;
                if (rnd) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; page = x % ws; }
                else { page = next; if (++next == ws) next = 0; }
                ws_base[page * (PAGE / 4u)] = seq++ | 1u;
            }
            done += n;
            hacc += step * hotrate;
            u32 h = hacc / PM_HZ; hacc -= h * PM_HZ;
            for (u32 k = 0; k < h; k++) {
                hx ^= hx << 13; hx ^= hx >> 17; hx ^= hx << 5;
                hot_base[(hx % hot) * (PAGE / 4u)] = seq++ | 1u;
            }
            hdone += h;
        }
        if (sec_pm >= PM_HZ) {
            sec_pm -= PM_HZ;
            if (sec_pm >= PM_HZ) sec_pm = 0;      /* stopped far longer than a second: restart */
            puts("R "); putu(++sec); puts(" "); putu(done); puts(" "); putu(hdone); puts("\n");
            done = 0; hdone = 0;
        }
    }
}
