/*
 * coro internals shared by the scheduler (sched.c), the wait machinery used by
 * the synchronisation objects (park.c, sync.c), stacks (stack.c) and the
 * blocking pool (blocking.c).
 *
 * Shape, chosen so several loops (one per thread, issue 5) fit later:
 *  - struct coro_loop is everything a scheduler thread owns: the ring, the run
 *    queue, the loop's own context, the current task. Only its thread touches
 *    it, except `remote`, the queue other threads post wake-ups into.
 *  - struct coro_scheduler holds what loops share: the loops, the task count,
 *    the stack pool, the blocking pool, the worker threads.
 *  - A task is woken with coro_wake_(), which pushes onto the run queue when
 *    called on the task's loop thread and posts to the loop's remote queue
 *    otherwise; synchronisation objects take a spinlock and use only that.
 *  - A task belongs to one loop at a time (task->loop). Only that loop's
 *    thread changes it, and only while the task sits on its run queue with
 *    nothing in flight on its ring (no I/O, no timer: task->pinned, no posted
 *    request, no cancel retry): it then hands the task to a hungry loop
 *    through that loop's remote queue. Everything else about a task is
 *    touched by its current loop's thread only, so a task that waits for I/O
 *    or a timer is always on the loop whose ring holds the op.
 */
#ifndef CAIO_SRC_CORO_INTERNAL_H
#define CAIO_SRC_CORO_INTERNAL_H

#include <coro/coro.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "arch/arch.h"
#include "asm_offsets.h"
#include "sanitizer.h"

/* ---- small atomics (GCC/Clang builtins: TSan understands them) ----------- */

#define CORO_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define CORO_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static inline void coro_spin_lock(int *l)
{
    for (;;) {
        if (!__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) return;
        while (__atomic_load_n(l, __ATOMIC_RELAXED)) __builtin_ia32_pause();
    }
}
static inline void coro_spin_unlock(int *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

/* ---- contexts and stacks ------------------------------------------------- */

/* A place a thread of control can be resumed. */
struct coro_ctx {
    struct coro_arch_ctx regs;  /* first: what arch/arch.h switches */
#if CORO_ASAN
    const void *stack_lo;       /* bounds told to ASan when switching in */
    size_t stack_size;
    void *asan_fake;
#endif
#if CORO_TSAN
    void *tsan_fiber;
#endif
};

/* A stack slot from the pool: [guard page][usable ...][task struct]. */
struct coro_stack {
    char *slot;                 /* lowest address of the slot (the guard page) */
    char *lo;                   /* lowest usable address (must read 0 when unguarded) */
    char *hi;                   /* one past the slot's end */
    uint32_t cls;               /* size class in the pool */
    bool guarded;               /* the page below `lo` is PROT_NONE */
    unsigned vg_id;             /* Valgrind's stack id */
};

#define CORO_MAX_CLASSES 16

struct coro_stack_class {
    size_t slot_size;           /* guard + usable + top area, page multiple */
    char *carve, *carve_end;    /* unused part of the newest chunk */
    char *marked_end;           /* its slots below this have a guard marker */
    size_t next_chunk_slots;
    struct coro_stack_hdr *free;
};

struct coro_stack_pool {
    int lock;
    size_t page;
    size_t guarded, max_guarded;   /* guard pages made by mprotect (a mapping each) */
    int markers;                   /* guard markers: 1 try, 0 unavailable (stack.c) */
    int pidfd;                     /* this process, for process_madvise; -1 until needed */
    pid_t pidfd_pid;               /* the process it names (a fork inherits the fd) */
    struct iovec *iov;             /* process_madvise's ranges, MARKERS_PER_CALL of them */
    struct coro_stack_class cls[CORO_MAX_CLASSES];
    uint32_t ncls;
    struct { void *addr; size_t len; } *chunks;
    size_t nchunks, chunks_cap;
};

void coro_stack_pool_init(struct coro_stack_pool *p, size_t max_guarded);
void coro_stack_pool_fini(struct coro_stack_pool *p);
/* A stack with at least `usable` bytes below a `top` bytes area: 0 or -errno.
 * The slot's top `top` bytes are the caller's (the task struct lives there). */
int coro_stack_get(struct coro_stack_pool *p, size_t usable, size_t top, struct coro_stack *out);
void coro_stack_put(struct coro_stack_pool *p, const struct coro_stack *s);

/* ---- tasks --------------------------------------------------------------- */

enum coro_task_state {
    CORO_T_READY,               /* on a run queue or running: nothing tells the
                                 * two apart, so a switch between ready tasks
                                 * writes no state */
    CORO_T_IO,                  /* waiting for its I/O batch */
    CORO_T_PARKED,              /* waiting on a sync object, a join, the blocking pool */
    CORO_T_DONE
};

/* Remote requests posted to a task's loop by other threads. */
enum { CORO_REMOTE_WAKE = 1, CORO_REMOTE_CANCEL = 2 };

struct coro_loop;
struct coro_io_wait;
struct coro_waiter;

struct coro_task {
    /* first: what every switch touches, in one cache line (1M tasks round-robin
     * miss the cache on each); the first three at offsets that coro_yield's
     * assembly knows (asm_offsets.h) */
    struct coro_task *next;         /* run queue link */
    bool fast_yield;                /* coro_yield may switch from it in assembly: its stack is
                                     * guarded and no sanitizer needs telling of switches */
    uint8_t state;                  /* enum coro_task_state, loop thread only */
    bool guarded;                   /* == stack.guarded */
    uint8_t check_countdown;        /* switches until the next bottom-word check */
    bool cancel_pending;            /* a cancel waits for the next wait */
    bool takes_pass;                /* suspended where the switch returns into scheduler code, which
                                     * does what the switcher passes (else: by coro_yield) */
    struct coro_ctx ctx;
    struct coro_loop *loop;
    char *stack_lo;                 /* == stack.lo */
    struct coro_task *remote_next;  /* remote queue link */
    struct coro_task *retry_next;   /* loop's cancel-retry / space-wait lists */
    unsigned remote_flags;          /* atomic: CORO_REMOTE_* pending */
    unsigned refs;                  /* atomic: running + handle + remote posts */
    coro_fn fn;
    void *arg;
    void *result;
    bool cancelled;                 /* ever cancelled (coro_cancelled) */
    bool in_retry;                  /* on the loop's cancel-retry list */
    bool pinned;                    /* a timer of its own is in flight: stays on its loop */
    struct coro_io_wait *io;        /* the batch it waits for (CORO_T_IO) */
    struct coro_waiter *parked;     /* the interruptible wait it is in, or NULL */
    struct coro_event done;         /* set when fn has returned (join) */
    struct coro_stack stack;
    char name[32];
};

/* ---- loops and the scheduler --------------------------------------------- */

struct coro_loop {
    /* first, at offsets that coro_yield's assembly knows (asm_offsets.h) */
    struct coro_task *current;
    struct coro_task *runq_tail;    /* the ring of ready tasks (sched.c); its head is runq_tail->next */
    int fast_yields;                /* atomic: 1 while nothing is in flight or posted, so a yield
                                     * needs no pass accounting (sched.c, pass_renew) */
    struct coro_scheduler *sched;
    struct aio_ring *ring;
    struct coro_ctx ctx;            /* the loop's own context (the thread's stack) */
    size_t runq_len;                /* tasks in the ring, the running one included */
    size_t budget;                  /* tasks this pass may still start */
    size_t pass_wakes;              /* tasks woken by tasks during this pass */
    int *post_unlock;               /* released by whoever runs after a switch */
    struct coro_task *dead;         /* finished; its running ref is dropped after the switch */
    struct coro_task *retry_head;   /* tasks whose cancel ops did not fit in the ring */
    struct coro_task *space_head, *space_tail; /* tasks waiting for ring space */
    unsigned index;                 /* in sched->loops */
    int sleeping;                   /* atomic: blocked (or about to) in the ring's wait */
    int hungry;                     /* atomic: idle, wants runnable tasks from a busy loop */
    int asked;                      /* atomic: some loop was hungry; look between passes */
    bool destroying;                /* the ring is being torn down */
    bool ring_busy;                 /* ops may be in flight (set on queue, refreshed after complete) */
    /* Remote wake-ups: other threads post here and poke the event source. */
    pthread_mutex_t remote_lock;
    struct coro_task *remote_head, *remote_tail;
    int remote_notified;            /* atomic */
    int wake_ready;                 /* atomic: wake_src initialised */
    bool wake_armed;                /* an EVENT_WAIT on wake_src is in flight */
    struct aio_event_source wake_src;
    uint32_t ring_entries;
    void *altstack;
};

_Static_assert(offsetof(struct coro_task, next) == CORO_TASK_NEXT, "asm_offsets.h");
_Static_assert(offsetof(struct coro_task, fast_yield) == CORO_TASK_FAST_YIELD, "asm_offsets.h");
_Static_assert(offsetof(struct coro_task, ctx.regs) == CORO_TASK_CTX, "asm_offsets.h");
_Static_assert(offsetof(struct coro_loop, current) == CORO_LOOP_CURRENT, "asm_offsets.h");
_Static_assert(offsetof(struct coro_loop, runq_tail) == CORO_LOOP_RUNQ_TAIL, "asm_offsets.h");
_Static_assert(offsetof(struct coro_loop, fast_yields) == CORO_LOOP_FAST_YIELDS, "asm_offsets.h");

struct coro_blocking_pool {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    struct coro_blocking_job *head, *tail;
    unsigned threads, idle, max;
    bool stop;
    pthread_t *tids;
};

struct coro_scheduler {
    struct coro_loop *loops;        /* loops[0] runs on the coro_run caller */
    unsigned nloops;                /* loops[1..] each run on a worker thread */
    pthread_t *workers;
    int running;                    /* atomic: coro_run is active (workers run tasks) */
    int stop;                       /* atomic: workers exit (destroy) */
    pthread_barrier_t stopped;      /* workers and destroy: no more pokes, rings may go */
    int hungry;                     /* atomic: loops with `hungry` set */
    unsigned spawn_next;            /* atomic: round-robin spawn target */
    size_t live;                    /* atomic: spawned and not finished */
    size_t default_stack;
    struct coro_stack_pool stacks;
    struct coro_blocking_pool blocking;
};

/* The loop run by this thread (set inside coro_run), the one thread-local;
 * outside a scheduler thread it points to coro_no_loop_, an empty loop whose
 * `current` is NULL, so coro_yield needs one test, not two, to find itself
 * outside a task. A task may resume on another thread, so this is read
 * afresh after every switch; on x86_64 each access is an %fs-relative load,
 * which no compiler caches across the (opaque) switch. A port where the
 * thread pointer is a register the compiler may keep (aarch64's tpidr_el0
 * read) needs the read behind a noinline function. */
extern __thread struct coro_loop *coro_tl_loop_ __attribute__((tls_model("initial-exec")));
extern struct coro_loop coro_no_loop_;

/* This thread's loop, or NULL outside a scheduler thread. */
static inline struct coro_loop *coro_this_loop_(void)
{
    struct coro_loop *L = coro_tl_loop_;
    return L == &coro_no_loop_ ? NULL : L;
}

static inline struct coro_task *coro_self_(void)
{
    return coro_tl_loop_->current;
}

/* Every op coro puts on a loop's ring goes through here. The first op of a
 * pass that began with nothing in flight ends that pass once the tasks now
 * runnable have had their turn, so it reaches the kernel without waiting
 * for a long idle budget (sched.c, pass_renew). */
static inline int coro_loop_queue_(struct coro_loop *L, const struct aio_op *ops, size_t n, aio_batch_fn fn, void *ctx,
                                   aio_id *ids)
{
    if (!L->ring_busy) {
        L->ring_busy = true;
        __atomic_store_n(&L->fast_yields, 0, __ATOMIC_RELAXED);
        size_t waiting = L->runq_len - (L->current != NULL); /* the running task is in the ring */
        if (L->budget > waiting) L->budget = waiting;
    }
    return aio_ring_queue_batch(L->ring, ops, n, fn, ctx, ids);
}

/* Makes a parked task runnable, from any thread. */
void coro_wake_(struct coro_task *t);
/* Suspends the current task (its state already set); resumes when woken. */
void coro_suspend_(struct coro_task *t);
/* coro_yield beyond its assembly fast path (sched.c), for the current task t;
 * called by coro_yield_entry_. */
void coro_yield_slow_(struct coro_task *t);
/* Drops one reference; the last one frees the task and its stack. */
void coro_task_unref_(struct coro_task *t);

/* ---- waiting on synchronisation objects (park.c) -------------------------- */

#define CORO_NO_TIMEOUT UINT64_MAX

/* One task waiting on one object; lives on the waiting task's stack. */
struct coro_waiter {
    struct coro_waiter *next, *prev;
    struct coro_task *task;
    struct coro_waitq_ *q;          /* the queue it is on; NULL once removed */
    int *lock;                      /* the object's spinlock */
    int result;                     /* what the wait reports */
    bool interruptible;             /* a cancel may end it */
    bool timer_live;                /* its TIMEOUT op is in flight */
    bool reaping;                   /* the task waits for that op to end */
    aio_id timer_id;
    void *item;                     /* channels: the item to copy */
};

void coro_waitq_push_(struct coro_waitq_ *q, struct coro_waiter *w);
void coro_waitq_remove_(struct coro_waitq_ *q, struct coro_waiter *w);
/* Removes the oldest waiter, sets its result and wakes it; false when empty.
 * Called with the object's lock held. */
bool coro_waitq_wake_one_(struct coro_waitq_ *q, int result);
static inline struct coro_waiter *coro_waitq_head_(struct coro_waitq_ *q) { return q->head_; }

/* Starts a wait: the current task, or NULL with *err = -EPERM (no task) or
 * -ECANCELED (a pending cancel, now consumed). */
struct coro_task *coro_wait_begin_(int *err);
/* With *lock held: queues w on q, suspends, releases *lock once switched away.
 * Returns the waiter's result (0, -ETIMEDOUT, -ECANCELED, or what the waker
 * set). -EBUSY without waiting when the timer does not fit in the ring. */
int coro_park_(struct coro_waiter *w, struct coro_waitq_ *q, int *lock, uint64_t timeout_ns);
/* Ends the task's interruptible wait with -ECANCELED if it is in one (loop thread). */
bool coro_park_cancel_(struct coro_task *t);

/* ---- CPU count (cpus.c) ------------------------------------------------ */

/* CPUs this process may use: affinity mask, capped by a cgroup CPU quota
 * (v2 cpu.max or v1 cfs quota, rounded up); at least 1. */
unsigned coro_usable_cpus_(void);

/* ---- blocking pool (blocking.c) ------------------------------------------ */

int coro_blocking_pool_init(struct coro_blocking_pool *p, unsigned max);
void coro_blocking_pool_fini(struct coro_blocking_pool *p);

#endif
