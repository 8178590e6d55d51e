/*
 * The emulation core's timers: a binary min-heap of slot numbers ordered by
 * their CLOCK_MONOTONIC deadline. Preallocated with one place per slot, so
 * arming a TIMEOUT or LINK_TIMEOUT never allocates; each slot remembers its
 * heap position so a cancelled timer leaves in O(log n).
 */
#include "emul.h"

#include <time.h>

uint64_t aio_emul_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool earlier(const struct aio_emul *em, uint32_t a, uint32_t b)
{
    return em->es[a].deadline < em->es[b].deadline;
}

static void place(struct aio_emul *em, uint32_t pos, uint32_t slot)
{
    em->heap[pos] = slot;
    em->es[slot].heap_pos = pos;
}

static void sift_up(struct aio_emul *em, uint32_t pos)
{
    uint32_t slot = em->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!earlier(em, slot, em->heap[parent])) break;
        place(em, pos, em->heap[parent]);
        pos = parent;
    }
    place(em, pos, slot);
}

static void sift_down(struct aio_emul *em, uint32_t pos)
{
    uint32_t slot = em->heap[pos];
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= em->heap_len) break;
        if (child + 1 < em->heap_len && earlier(em, em->heap[child + 1], em->heap[child])) child++;
        if (!earlier(em, em->heap[child], slot)) break;
        place(em, pos, em->heap[child]);
        pos = child;
    }
    place(em, pos, slot);
}

void aio_timer_add(struct aio_emul *em, uint32_t slot)
{
    uint32_t pos = em->heap_len++;
    place(em, pos, slot);
    sift_up(em, pos);
}

void aio_timer_remove(struct aio_emul *em, uint32_t slot)
{
    uint32_t pos = em->es[slot].heap_pos;
    uint32_t last = em->heap[--em->heap_len];
    em->es[slot].heap_pos = AIO_NO_SLOT;
    if (pos == em->heap_len) return;
    place(em, pos, last);
    sift_up(em, pos);
    sift_down(em, em->es[last].heap_pos);
}

uint32_t aio_timer_first(const struct aio_emul *em)
{
    return em->heap_len ? em->heap[0] : AIO_NO_SLOT;
}
