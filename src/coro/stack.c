/*
 * Task stacks: carved from large shared mappings and pooled.
 *
 * Why not one mmap per stack: a guard page (mprotect PROT_NONE) splits a
 * mapping in two, so a guarded stack costs two entries of vm.max_map_count
 * (65,530 by default) and guarded stacks alone would stop near 32k tasks. Here
 * a size class maps chunks of many slots at once (16 slots first, doubling up
 * to 64 MiB per chunk), with MAP_NORESERVE so only touched pages cost memory.
 * Slot layout, low to high: [guard page][usable stack ...][top area]; the top
 * area holds the task struct, so a task that stays shallow touches one page.
 *
 * Guard pages without mappings: since Linux 6.13, MADV_GUARD_INSTALL puts a
 * guard marker in a page table entry, which faults like PROT_NONE but splits
 * nothing. With the default budget (max_guarded 0) every new chunk gets one
 * on each of its slots, up to 1024 slots per process_madvise call, so a
 * million tasks cost about a thousand system calls and no map entries, and
 * every stack is guarded. Where the kernel refuses (older kernels, Valgrind),
 * or when coro_options sets a budget, the scheme below applies.
 *
 * The trade-off: the first `max_guarded` slots get their guard page (two map
 * entries each); past that budget slots are carved without one and rely on a
 * check of their lowest usable word, which must still read zero (as fresh
 * memory does, without the page being touched) at every switch out of the
 * task: an overflow there is still reported with the task's name, but
 * after the fact, when the neighbouring slot (another task's top area) may
 * already be damaged. The default budget is what the system limit leaves room
 * for after reserving 8192 entries for the rest of the process; a process
 * with several schedulers should share it out through coro_options.
 *
 * Slots go back to their class's free list and keep their guard; nothing is
 * unmapped before the pool is destroyed.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif
#define MARKERS_PER_CALL 1024u /* UIO_MAXIOV */

#define CHUNK_MAX (64u << 20)
#define FIRST_CHUNK_SLOTS 16u

/* What a free slot keeps in its top area. */
struct coro_stack_hdr {
    struct coro_stack_hdr *next;
    struct coro_stack s;
};

static size_t default_max_guarded(void)
{
    long maps = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &maps) != 1) maps = 65530;
        fclose(f);
    }
    return maps > 16384 ? (size_t)(maps - 8192) / 2 : (size_t)maps / 4;
}

void coro_stack_pool_init(struct coro_stack_pool *p, size_t max_guarded)
{
    memset(p, 0, sizeof *p);
    p->page = (size_t)sysconf(_SC_PAGESIZE);
    p->max_guarded = max_guarded ? max_guarded : default_max_guarded();
    p->markers = max_guarded == 0; /* a budget asked for is kept exactly */
    p->pidfd = -1;
}

void coro_stack_pool_fini(struct coro_stack_pool *p)
{
#ifdef CORO_HAVE_VALGRIND
    /* deregister what the free lists know; live slots die with their chunk */
    for (uint32_t c = 0; c < p->ncls; c++)
        for (struct coro_stack_hdr *h = p->cls[c].free; h; h = h->next) CORO_VG_STACK_DEREGISTER(h->s.vg_id);
#endif
    for (size_t i = 0; i < p->nchunks; i++) munmap(p->chunks[i].addr, p->chunks[i].len);
    free(p->chunks);
    if (p->pidfd >= 0) close(p->pidfd);
    free(p->iov);
    memset(p, 0, sizeof *p);
    p->pidfd = -1;
}

/* Puts a guard marker on the first page of each of `slots` slots from `m`;
 * returns the end of the slots that got one (m when none did). */
static char *mark_guards(struct coro_stack_pool *p, char *m, size_t slots, size_t slot_size)
{
    if (!p->markers) return m;
    /* a forked child holds its parent's pidfd: advise itself, not the parent */
    pid_t self = getpid();
    if (p->pidfd >= 0 && p->pidfd_pid != self) {
        close(p->pidfd);
        p->pidfd = -1;
    }
    if (p->pidfd < 0) {
        p->pidfd = (int)syscall(SYS_pidfd_open, self, 0);
        p->pidfd_pid = self;
    }
    /* on the heap: a task with a small stack may be the one spawning */
    if (!p->iov) p->iov = malloc(MARKERS_PER_CALL * sizeof *p->iov);
    if (p->pidfd < 0 || !p->iov) { p->markers = 0; return m; }
    struct iovec *iov = p->iov;
    size_t done = 0;
    while (done < slots) {
        size_t n = slots - done < MARKERS_PER_CALL ? slots - done : MARKERS_PER_CALL;
        for (size_t i = 0; i < n; i++) {
            iov[i].iov_base = m + (done + i) * slot_size;
            iov[i].iov_len = p->page;
        }
        long r = syscall(SYS_process_madvise, p->pidfd, iov, n, MADV_GUARD_INSTALL, 0);
        if (r < 0) {
            p->markers = 0; /* not on this kernel (or not under this tool): budgeted guards */
            break;
        }
        done += (size_t)r / p->page; /* whole pages; a short call stops there */
        if ((size_t)r != n * p->page) break;
    }
    return m + done * slot_size;
}

static int add_chunk(struct coro_stack_pool *p, struct coro_stack_class *c)
{
    size_t slots = c->next_chunk_slots ? c->next_chunk_slots : FIRST_CHUNK_SLOTS;
    if (slots * c->slot_size > CHUNK_MAX) slots = CHUNK_MAX / c->slot_size;
    if (slots == 0) slots = 1;
    size_t len = slots * c->slot_size;
    if (p->nchunks == p->chunks_cap) {
        size_t cap = p->chunks_cap ? p->chunks_cap * 2 : 16;
        void *n = realloc(p->chunks, cap * sizeof *p->chunks);
        if (!n) return -ENOMEM;
        p->chunks = n;
        p->chunks_cap = cap;
    }
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) return -errno;
    /* a huge page would turn each task's one touched page into 2 MiB */
    (void)madvise(m, len, MADV_NOHUGEPAGE);
    p->chunks[p->nchunks].addr = m;
    p->chunks[p->nchunks].len = len;
    p->nchunks++;
    c->carve = m;
    c->carve_end = (char *)m + len;
    c->marked_end = mark_guards(p, m, slots, c->slot_size);
    c->next_chunk_slots = slots * 2;
    return 0;
}

int coro_stack_get(struct coro_stack_pool *p, size_t usable, size_t top, struct coro_stack *out)
{
    const size_t pg = p->page;
    if (usable > ((size_t)1 << 40)) return -EINVAL;
    size_t want = (usable + top + pg - 1) / pg * pg + pg; /* + guard page */

    coro_spin_lock(&p->lock);
    uint32_t ci = 0;
    while (ci < p->ncls && p->cls[ci].slot_size != want) ci++;
    if (ci == p->ncls) {
        if (p->ncls == CORO_MAX_CLASSES) { coro_spin_unlock(&p->lock); return -ENOMEM; }
        p->cls[ci] = (struct coro_stack_class){ .slot_size = want };
        p->ncls++;
    }
    struct coro_stack_class *c = &p->cls[ci];
    struct coro_stack_hdr *h = c->free;
    if (h) {
        c->free = h->next;
        *out = h->s;
        coro_spin_unlock(&p->lock);
        /* the overflow check wants a zero bottom word; reading it first keeps
         * an untouched page untouched */
        if (*(volatile uint64_t *)out->lo) *(volatile uint64_t *)out->lo = 0;
        return 0;
    }
    if (c->carve == c->carve_end) {
        int rc = add_chunk(p, c);
        if (rc) { coro_spin_unlock(&p->lock); return rc; }
    }
    char *slot = c->carve;
    c->carve += want;
    bool marked = slot < c->marked_end;
    bool guard = marked || p->guarded < p->max_guarded;
    if (guard && !marked) p->guarded++;
    coro_spin_unlock(&p->lock);

    if (guard && !marked && mprotect(slot, pg, PROT_NONE) != 0) guard = false;
    *out = (struct coro_stack){ .slot = slot, .lo = slot + pg, .hi = slot + want, .cls = ci, .guarded = guard };
    out->vg_id = CORO_VG_STACK_REGISTER(out->lo, out->hi);
    return 0;
}

void coro_stack_put(struct coro_stack_pool *p, const struct coro_stack *s)
{
    const struct coro_stack copy = *s; /* *s may live in the area reused below */
    struct coro_stack_hdr *h = (struct coro_stack_hdr *)(copy.hi - sizeof *h);
#if CORO_ASAN
    /* the finished task's frames never returned: clear their redzones */
    __asan_unpoison_memory_region(copy.lo, (size_t)(copy.hi - copy.lo));
#endif
    h->s = copy;
    coro_spin_lock(&p->lock);
    h->next = p->cls[copy.cls].free;
    p->cls[copy.cls].free = h;
    coro_spin_unlock(&p->lock);
}
