/*
 * The scheduler: tasks, the loop, switching, I/O from tasks, cancellation.
 *
 * One pass of the loop: start every task that was runnable when the pass
 * began (a suspending task hands the thread straight to the next one, without
 * a detour through the loop), then one aio_ring_complete: AIO_WAIT when
 * nothing is runnable, AIO_NOWAIT otherwise. Every op queued during the pass
 * therefore reaches the kernel in that one call, and the batch callbacks make
 * tasks runnable again for the next pass.
 *
 * A task's memory (struct coro_task) lives in the top area of its own stack
 * slot and is freed by reference count: one reference while it runs, one for
 * the handle (dropped by join or detach), one per wake-up posted by another
 * thread. A finished task cannot free the stack it runs on, so it leaves
 * itself in loop->dead and whoever runs next drops that reference.
 *
 * Several loops (coro_options.threads): loops[0] runs on the thread that
 * calls coro_run, the others on worker threads that live from create to
 * destroy and run tasks only while coro_run is active. Spawns go round-robin
 * over the loops. A loop with nothing to run spins briefly, then marks itself
 * hungry and sleeps in aio_ring_complete_timeout; a busy loop that sees a
 * hungry one at the end of a pass hands it half its run queue (donation
 * rather than stealing: a run queue is only ever touched by its own thread,
 * so the single-loop fast path takes no lock). Wake-ups across loops are
 * aio_ring_wake (IORING_OP_MSG_RING in the poster's next submission on
 * io_uring, an eventfd otherwise), sent only to a loop that is asleep.
 */
#include "internal.h"
#include "arch/arch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct coro_loop coro_no_loop_;
__thread struct coro_loop *coro_tl_loop_ __attribute__((tls_model("initial-exec"))) = &coro_no_loop_;

#define DEFAULT_STACK (64u << 10)
#define MIN_STACK (4u << 10)
#define DEFAULT_RING 4096u
#define DEFAULT_BLOCKING 4u
#define ALTSTACK_SIZE (64u << 10)
#define SMALL_BATCH 32u /* ids on the stack up to this batch size, malloc beyond */
#define PASS_WAKES_MAX 1024u
#define IDLE_PASS 256u /* starts in a pass begun with nothing in flight (pass_renew) */
/* Polls of the remote queue before an idle loop sleeps, a pause each: a
 * wake-up that arrives meanwhile costs no syscall (one later costs ~23 us
 * across vCPUs, NOTES). Kept short on purpose: measured with bench_echo on
 * the 2-vCPU machine, where the server shares the CPUs with its clients,
 * 2000 polls gave threads=2 139k msgs/s, 200 gave 158k, 1 gave 171k: a
 * spinning loop takes the CPU from whoever would send it work. */
#define IDLE_SPINS 16u

/* A task waiting for its batch: lives on the task's stack while it waits. */
struct coro_io_wait {
    struct coro_task *task;
    const struct aio_op *ops;
    aio_id *ids;
    size_t n, remaining, failed, first_fail_index;
    int first_fail;
    bool cancelling;            /* cancel ops were issued for this batch */
    bool saw_cancel;            /* some op reported -ECANCELED */
};

/* ---- stack overflow reports ---------------------------------------------- */

static void put_str(char *buf, size_t *n, size_t cap, const char *s)
{
    while (*s && *n < cap) buf[(*n)++] = *s++;
}

static void put_hex(char *buf, size_t *n, size_t cap, uintptr_t v)
{
    char tmp[2 + 2 * sizeof v];
    size_t k = 0;
    do { tmp[k++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    put_str(buf, n, cap, "0x");
    while (k && *n < cap) buf[(*n)++] = tmp[--k];
}

/* Async-signal-safe: called from the SIGSEGV handler too. */
static __attribute__((noreturn)) void overflow_report(const struct coro_task *t, uintptr_t addr)
{
    char buf[256];
    size_t n = 0;
    put_str(buf, &n, sizeof buf, "caio coro: stack overflow in task '");
    put_str(buf, &n, sizeof buf, t->name);
    put_str(buf, &n, sizeof buf, addr ? "' (fault at " : "' (bottom word overwritten; ");
    if (addr) put_hex(buf, &n, sizeof buf, addr);
    put_str(buf, &n, sizeof buf, addr ? ", stack " : "stack ");
    put_hex(buf, &n, sizeof buf, (uintptr_t)t->stack.lo);
    put_str(buf, &n, sizeof buf, "-");
    put_hex(buf, &n, sizeof buf, (uintptr_t)t);
    put_str(buf, &n, sizeof buf, t->stack.guarded ? ", guard page)\n" : ", no guard page)\n");
    ssize_t w = write(STDERR_FILENO, buf, n);
    (void)w;
    abort();
}

/* Stacks past the guard-page budget have none. For them, at a switch out:
 * the stack pointer must not be in the lowest 256 bytes, and, every 16th switch and
 * when the task ends, the lowest word must still read zero (fresh mappings do,
 * without the page being touched), else an overflow is reported. Not every
 * switch: that word sits on another page, and reading it costs a TLB miss per
 * switch when a million tasks take turns (measured: 140 ns instead of 66). */
#define BOTTOM_CHECK_EVERY 16
static __attribute__((noinline)) void check_unguarded(struct coro_task *t, bool always)
{
    char here; /* this frame sits just below the caller's: close enough */
    if (__builtin_expect((uintptr_t)&here < (uintptr_t)t->stack_lo + 256, 0)) overflow_report(t, (uintptr_t)&here);
    if (!always && --t->check_countdown) return;
    t->check_countdown = BOTTOM_CHECK_EVERY;
    if (__builtin_expect(*(const volatile uint64_t *)t->stack_lo != 0, 0)) overflow_report(t, 0);
}

/* Out of line: the address of a local would give every switch a frame. */
static inline void check_bottom(struct coro_task *t, bool always)
{
    if (__builtin_expect(!t->guarded, 0)) check_unguarded(t, always);
}

/* Signal dispositions are per process, so the previous ones are too. */
static struct sigaction old_segv, old_bus;
static pthread_once_t segv_once = PTHREAD_ONCE_INIT;

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
    struct coro_loop *L = coro_tl_loop_;
    struct coro_task *t = L ? L->current : NULL;
    if (t) {
        uintptr_t a = (uintptr_t)si->si_addr, slot = (uintptr_t)t->stack.slot;
        /* the guard page, or a frame big enough to have jumped it */
        if (a < (uintptr_t)t->stack.lo && a + (64u << 10) >= slot) overflow_report(t, a);
    }
    struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) { old->sa_sigaction(sig, si, uc); return; }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) { old->sa_handler(sig); return; }
    signal(sig, SIG_DFL); /* the fault repeats and takes the default action */
}

static void segv_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
}

static void loop_poke(struct coro_loop *L, struct coro_loop *from);

/* ---- switching ----------------------------------------------------------- */

/* Switches from one context to another; returns, once something switches
 * back, the `pass` that switcher gave: NULL, or the loop when it left work
 * for whoever runs next (after_switch). */
static inline void *ctx_switch(struct coro_ctx *from, struct coro_ctx *to, bool dying, void *pass)
{
#if CORO_ASAN
    __sanitizer_start_switch_fiber(dying ? NULL : &from->asan_fake, to->stack_lo, to->stack_size);
#endif
#if CORO_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    (void)dying;
    pass = coro_arch_enter(&from->regs, &to->regs, pass);
#if CORO_ASAN
    __sanitizer_finish_switch_fiber(from->asan_fake, NULL, NULL);
#endif
    return pass;
}

/* Work left by the context that just switched away: a lock to release, a
 * finished task to drop. */
static __attribute__((noinline)) void after_switch_work(struct coro_loop *L)
{
    if (L->post_unlock) {
        int *l = L->post_unlock;
        L->post_unlock = NULL;
        coro_spin_unlock(l);
    }
    if (L->dead) {
        struct coro_task *d = L->dead;
        L->dead = NULL;
        coro_task_unref_(d);
    }
}

/* What a switcher passes: the loop if it left work behind, else NULL, so the
 * common resume tests a register instead of loading from the loop. */
static inline void *pass_work(struct coro_loop *L)
{
    return L->post_unlock || L->dead ? L : NULL;
}

static inline void after_switch(void *pass)
{
    if (__builtin_expect(pass != NULL, 0)) after_switch_work(pass);
}

/*
 * The run queue is a ring: the ready tasks in a circle through `next`,
 * runq_tail its last, runq_tail->next its head, the next to start. A task
 * that runs stays in the ring, as its head, until it suspends: then it
 * leaves (it waits for something), or, still ready (it yields, or was woken
 * before it could wait), becomes the tail. So a yield from one ready task to
 * the next moves no task at all, it advances runq_tail by one.
 */

/* Makes t ready to run after every task now in the ring. The running task is
 * in it already (woken before it could wait: it stays, and goes on, or to the
 * back, when it suspends). */
static inline void runq_push(struct coro_loop *L, struct coro_task *t)
{
    t->state = CORO_T_READY;
    if (t == L->current) return;
    struct coro_task *tail = L->runq_tail;
    if (tail) {
        t->next = tail->next;
        tail->next = t;
    } else {
        t->next = t;
    }
    L->runq_tail = t;
    L->runq_len++;
}

/* Takes the head, the running task, out of the ring. */
static inline void runq_remove_head(struct coro_loop *L)
{
    struct coro_task *tail = L->runq_tail, *head = tail->next;
    if (head == tail) L->runq_tail = NULL;
    else tail->next = head->next;
    L->runq_len--;
}

static inline bool remote_peek(struct coro_loop *L)
{
    return __atomic_load_n(&L->remote_head, __ATOMIC_ACQUIRE) != NULL;
}

/* The pass's budget is spent and tasks are runnable. When nothing is in
 * flight and nothing else waits for the loop, a new pass starts right here
 * (the loop would only make a complete(NOWAIT) that does nothing) and returns
 * true. Such a pass gets at least IDLE_PASS starts, and yields stop counting
 * (fast_yields) until something needs the loop: an op queued (which also cuts
 * the budget down to the tasks then runnable, coro_loop_queue_), a post from
 * another thread, a hungry loop. Those clear fast_yields after making their
 * request visible, and this sets it before looking for requests, all
 * sequentially consistent: either it sees the request, or the request's
 * clear comes after its set. */
static __attribute__((noinline)) bool pass_renew(struct coro_loop *L)
{
    if (L->ring_busy || L->retry_head || L->space_head) return false;
    __atomic_store_n(&L->fast_yields, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&L->remote_head, __ATOMIC_SEQ_CST) || __atomic_load_n(&L->asked, __ATOMIC_SEQ_CST)) {
        __atomic_store_n(&L->fast_yields, 0, __ATOMIC_RELAXED);
        return false;
    }
    L->budget = L->runq_len > IDLE_PASS ? L->runq_len : IDLE_PASS;
    L->pass_wakes = 0;
    return true;
}

/* After a request that the loop must see between passes is visible. */
static inline void stop_fast_yields(struct coro_loop *L)
{
    __atomic_store_n(&L->fast_yields, 0, __ATOMIC_SEQ_CST);
}

/* The task to run after the current one has left the head (suspended),
 * or NULL for the loop. It becomes the head by staying where it is. */
static inline struct coro_task *next_task(struct coro_loop *L)
{
    if (!L->runq_tail) return NULL;
    if (!L->budget && !pass_renew(L)) return NULL;
    L->budget--;
    return L->runq_tail->next;
}

/* next, unless a switch to it would lose work: only a task suspended where
 * the switch returns into scheduler code (takes_pass) looks at what the
 * switcher passes; a task that coro_yield suspended resumes straight in
 * its caller.
 * Then the loop gets the switch instead, does the work and starts next (still
 * the head) first thing. Rare: it takes a yielding task next to a task that
 * parks or ends. */
static inline struct coro_task *next_for_pass(struct coro_task *next, void *pass)
{
    if (__builtin_expect(next && pass && !next->takes_pass, 0)) return NULL;
    return next;
}

/* What a suspending task t leaves to: NULL when it runs on (alone and
 * ready), else the context to switch to, with L->current set and *pass what
 * the switch carries. */
static inline struct coro_ctx *suspend_pick(struct coro_task *t, void **pass)
{
    struct coro_loop *L = t->loop;
    check_bottom(t, false);
    if (t->state == CORO_T_READY) L->runq_tail = t; /* yields, or was woken meanwhile: to the back */
    else runq_remove_head(L);
    struct coro_task *next = next_task(L);
    if (next == t) return NULL; /* alone and ready: runs on */
    *pass = pass_work(L);
    next = next_for_pass(next, *pass);
    L->current = next;
    return next ? &next->ctx : &L->ctx;
}

void coro_suspend_(struct coro_task *t)
{
    void *pass = NULL;
    struct coro_ctx *to = suspend_pick(t, &pass);
    if (!to) return;
    t->takes_pass = true;
    pass = ctx_switch(&t->ctx, to, false, pass);
    t->takes_pass = false;
    after_switch(pass);
}

static void task_entry(void *arg, void *pass)
{
    struct coro_task *t = arg;
#if CORO_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    t->takes_pass = false;
    after_switch(pass);
    t->result = t->fn(t->arg);

    struct coro_loop *L = coro_tl_loop_;
    check_bottom(t, true);
    coro_event_set(&t->done);
    t->state = CORO_T_DONE;
    struct coro_scheduler *s = L->sched;
    if (__atomic_fetch_sub(&s->live, 1, __ATOMIC_ACQ_REL) == 1 && L != &s->loops[0])
        loop_poke(&s->loops[0], L); /* coro_run may return now */
    L->dead = t;
    runq_remove_head(L);
    struct coro_task *next = next_for_pass(next_task(L), L);
    if (next) {
        L->current = next;
        ctx_switch(&t->ctx, &next->ctx, true, L);
    } else {
        L->current = NULL;
        ctx_switch(&t->ctx, &L->ctx, true, L);
    }
    __builtin_unreachable();
}

void coro_task_unref_(struct coro_task *t)
{
    if (__atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
#if CORO_TSAN
    __tsan_destroy_fiber(t->ctx.tsan_fiber);
#endif
    coro_stack_put(&t->loop->sched->stacks, &t->stack);
}

/* ---- wake-ups across threads --------------------------------------------- */

/* Several loops. A loop decides to sleep under its remote_lock: it sets
 * `sleeping` only if its remote queue is empty and nothing it must see
 * (tasks all done, stop, coro_run started) has changed. Whoever posts work or
 * changes such state looks at `sleeping` under that lock afterwards, so either
 * the loop saw the change before sleeping or the poster sees it asleep and
 * wakes it. (A lock rather than a pair of SEQ_CST accesses around a fence:
 * gcc's TSan supports no fences, and the loop takes it once per sleep.) */
static bool loop_asleep(struct coro_loop *L)
{
    pthread_mutex_lock(&L->remote_lock);
    bool asleep = __atomic_load_n(&L->sleeping, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&L->remote_lock);
    return asleep;
}

/* Ends L's sleep, now or (io_uring) through from's next submission. */
static void loop_wake(struct coro_loop *L, struct coro_loop *from)
{
    /* A MSG_RING rides in from's next submission, which comes at the end of
     * this pass only if from's ring has ops in flight: a loop with nothing
     * in flight may run task after task without entering the kernel (or
     * leave coro_run), and the wake-up would wait with it. */
    bool carried = from && aio_ring_in_flight(from->ring) != 0;
    (void)aio_ring_wake(L->ring, carried ? from->ring : NULL);
}

/* After a change L must notice (not a post: remote_enqueue covers those). */
static void loop_poke(struct coro_loop *L, struct coro_loop *from)
{
    if (loop_asleep(L)) loop_wake(L, from);
}

/* Returns whether L sleeps (see loop_asleep). */
static bool remote_enqueue(struct coro_loop *L, struct coro_task *t)
{
    __atomic_fetch_add(&t->refs, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&L->remote_lock);
    t->remote_next = NULL;
    if (L->remote_tail) L->remote_tail->remote_next = t;
    else __atomic_store_n(&L->remote_head, t, __ATOMIC_SEQ_CST); /* see pass_renew */
    L->remote_tail = t;
    bool asleep = __atomic_load_n(&L->sleeping, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&L->remote_lock);
    stop_fast_yields(L);
    return asleep;
}

static void remote_post(struct coro_loop *L, struct coro_task *t, unsigned flag)
{
    if (__atomic_fetch_or(&t->remote_flags, flag, __ATOMIC_ACQ_REL) != 0) return; /* queued already */
    bool asleep = remote_enqueue(L, t);
    if (L->sched->nloops > 1) {
        if (asleep) loop_wake(L, coro_this_loop_());
        return;
    }
    /* At most one notification until the loop's EVENT_WAIT consumes it
     * (wake_done clears the flag); none before the loop has an event source:
     * it then looks at this queue before it blocks (coro_run). */
    if (__atomic_load_n(&L->wake_ready, __ATOMIC_SEQ_CST) &&
        __atomic_exchange_n(&L->remote_notified, 1, __ATOMIC_SEQ_CST) == 0)
        (void)aio_single(AIO_EVENT_NOTIFY(.source = &L->wake_src));
}

void coro_wake_(struct coro_task *t)
{
    struct coro_loop *L = __atomic_load_n(&t->loop, __ATOMIC_ACQUIRE);
    if (coro_tl_loop_ != L) {
        remote_post(L, t, CORO_REMOTE_WAKE);
        return;
    }
    runq_push(L, t);
    /* Woken by another task during a pass: it runs in this pass too, so its
     * ops join this pass's submission. Bounded, so tasks that keep waking
     * each other cannot hold the ring's completions back for long. */
    if (L->current && L->pass_wakes < PASS_WAKES_MAX) {
        L->pass_wakes++;
        L->budget++;
    }
}

static void cancel_local(struct coro_loop *L, struct coro_task *t);

static void drain_remote(struct coro_loop *L)
{
    if (!remote_peek(L)) return;
    pthread_mutex_lock(&L->remote_lock);
    struct coro_task *t = L->remote_head;
    __atomic_store_n(&L->remote_head, NULL, __ATOMIC_RELAXED);
    L->remote_tail = NULL;
    pthread_mutex_unlock(&L->remote_lock);
    while (t) {
        struct coro_task *nx = t->remote_next;
        unsigned flags = __atomic_exchange_n(&t->remote_flags, 0, __ATOMIC_ACQ_REL);
        struct coro_loop *owner = __atomic_load_n(&t->loop, __ATOMIC_ACQUIRE);
        if (owner != L) {
            /* posted by someone who saw the task before it was handed to
             * another loop (only a cancel can be): send it after the task */
            remote_post(owner, t, flags);
            coro_task_unref_(t);
            t = nx;
            continue;
        }
        if (flags & CORO_REMOTE_CANCEL) cancel_local(L, t);
        if ((flags & CORO_REMOTE_WAKE) && t->state != CORO_T_DONE) runq_push(L, t);
        coro_task_unref_(t);
        t = nx;
    }
}

static void wake_done(void *ctx, size_t index, int result)
{
    (void)index;
    (void)result;
    struct coro_loop *L = ctx;
    L->wake_armed = false;
    /* the notification is consumed: the next post must send another (what
     * it posted is drained at the top of the next pass) */
    __atomic_store_n(&L->remote_notified, 0, __ATOMIC_SEQ_CST);
}

/* Keeps an EVENT_WAIT on the loop's event source in flight whenever the loop
 * blocks, so another thread (a blocking-pool worker, a task of another loop,
 * coro_task_cancel or coro_spawn from elsewhere) can end the loop's AIO_WAIT.
 * Armed lazily, the first time the loop blocks; it stays armed until a
 * notification consumes it, so it costs no submission per pass. The price is
 * one more op for aio_ring_destroy to cancel. */
static void arm_wake(struct coro_loop *L)
{
    if (L->wake_armed) return;
    if (!__atomic_load_n(&L->wake_ready, __ATOMIC_RELAXED)) {
        if (aio_event_source_init(&L->wake_src) != 0) return;
        __atomic_store_n(&L->wake_ready, 1, __ATOMIC_SEQ_CST);
    }
    struct aio_op op = AIO_EVENT_WAIT(.source = &L->wake_src);
    if (coro_loop_queue_(L, &op, 1, wake_done, L, NULL) == 0) L->wake_armed = true;
}

/* ---- cancellation -------------------------------------------------------- */

static void ignore_result(void *ctx, size_t index, int result)
{
    (void)ctx;
    (void)index;
    (void)result;
}

static void retry_later(struct coro_loop *L, struct coro_task *t)
{
    if (t->in_retry) return;
    t->in_retry = true;
    __atomic_fetch_add(&t->refs, 1, __ATOMIC_RELAXED);
    t->retry_next = L->retry_head;
    L->retry_head = t;
}

/* Queues a CANCEL for every op of the batch; ops that already completed answer
 * -ENOENT (their ids went stale), which is harmless. */
static void issue_cancels(struct coro_loop *L, struct coro_io_wait *w)
{
    struct aio_op c[16];
    for (size_t i = 0; i < w->n;) {
        size_t k = 0;
        for (; k < 16 && i + k < w->n; k++) c[k] = AIO_CANCEL(.id = w->ids[i + k]);
        if (coro_loop_queue_(L, c, k, ignore_result, NULL, NULL) != 0) {
            retry_later(L, w->task);
            return;
        }
        i += k;
    }
}

static void retry_cancels(struct coro_loop *L)
{
    struct coro_task *t = L->retry_head;
    L->retry_head = NULL;
    while (t) {
        struct coro_task *nx = t->retry_next;
        t->in_retry = false;
        if (t->state == CORO_T_IO && t->io) issue_cancels(L, t->io);
        coro_task_unref_(t);
        t = nx;
    }
}

static void cancel_local(struct coro_loop *L, struct coro_task *t)
{
    if (t->state == CORO_T_DONE) return;
    t->cancelled = true;
    if (t->state == CORO_T_IO && t->io) {
        if (!t->io->cancelling) {
            t->io->cancelling = true;
            issue_cancels(L, t->io);
        }
        return;
    }
    if (t->state == CORO_T_PARKED && coro_park_cancel_(t)) return;
    t->cancel_pending = true;
}

/* ---- I/O ------------------------------------------------------------------ */

static void io_done(void *ctx, size_t index, int result)
{
    struct coro_io_wait *w = ctx;
    if (result < 0) {
        w->failed++;
        if (index < w->first_fail_index) { w->first_fail_index = index; w->first_fail = result; }
        if (result == -ECANCELED) w->saw_cancel = true;
    }
    struct coro_task *t = w->task;
    if (--w->remaining == 0) {
        /* a cancel that stopped nothing (everything had finished) still
         * interrupts the task's next wait */
        if (w->cancelling && !w->saw_cancel) t->cancel_pending = true;
        runq_push(t->loop, t);
    } else if (w->cancelling && w->ops[index].common.link == AIO_LINK_HARD && !t->loop->destroying) {
        /* a hard link starts the next op even after a cancel: stop it too */
        issue_cancels(t->loop, w);
    }
}

static int cancelled_batch(const struct aio_op *ops, size_t n, bool multi)
{
    for (size_t i = 0; i < n; i++)
        if (ops[i].common.out_error) *ops[i].common.out_error = -ECANCELED;
    return multi ? -ECANCELED : (int)n;
}

static int io_batch(const struct aio_op *ops, size_t n, bool multi)
{
    struct coro_task *t = coro_self_();
    if (!t) return multi ? aio_multi(ops, n) : aio_complete(ops, n);
    if (!ops || n == 0) return -EINVAL;
    struct coro_loop *L = t->loop;
    if (n > L->ring_entries) return -EBUSY;
    /* L is re-read after every suspension below: a runnable task may move */
    if (t->cancel_pending) {
        t->cancel_pending = false;
        return cancelled_batch(ops, n, multi);
    }
    aio_id small[SMALL_BATCH];
    aio_id *ids = n <= SMALL_BATCH ? small : malloc(n * sizeof *ids);
    if (!ids) return -ENOMEM;
    struct coro_io_wait w = { .task = t, .ops = ops, .ids = ids, .n = n, .remaining = n, .first_fail_index = n };
    int rc;
    while ((rc = coro_loop_queue_(L, ops, n, io_done, &w, ids)) == -EBUSY) {
        /* the ring is full: wait until the loop has reaped something */
        t->state = CORO_T_IO;
        t->io = NULL;
        t->retry_next = NULL;
        if (L->space_tail) L->space_tail->retry_next = t;
        else L->space_head = t;
        L->space_tail = t;
        coro_suspend_(t);
        L = t->loop;
        if (t->cancel_pending) {
            t->cancel_pending = false;
            rc = cancelled_batch(ops, n, multi);
            goto out;
        }
    }
    if (rc) goto out;
    t->io = &w;
    t->state = CORO_T_IO;
    coro_suspend_(t);
    t->io = NULL;
    rc = multi ? w.first_fail : (int)w.failed;
out:
    if (ids != small) free(ids);
    return rc;
}

int coro_io_single(struct aio_op op) { return io_batch(&op, 1, true); }
int coro_io_multi(const struct aio_op *ops, size_t n) { return io_batch(ops, n, true); }
int coro_io_complete(const struct aio_op *ops, size_t n) { return io_batch(ops, n, false); }

int coro_sleep(uint64_t ns) { return coro_io_single(AIO_TIMEOUT(.ns = ns)); }

/*
 * coro_yield. Its common case is assembly, coro_yield_entry_ (arch/), which
 * coro.h's inline coro_yield jumps to and this exported one too: a switch
 * straight from the yielding task to the next, saving only what the caller's
 * compiler keeps live. The entry calls this for the rest, a task that must
 * not take that path (an unguarded stack, whose bottom word is checked; a
 * sanitizer build, which must tell of switches) or a loop that wants its pass
 * accounting (fast_yields clear), having already stored the caller's resume
 * point in t->ctx.regs: without sanitizers the task leaves by a jump that
 * never comes back here, and resumes directly in its caller, as after the
 * fast path. Returns when t runs on.
 */
void coro_yield_slow_(struct coro_task *t)
{
#if CORO_ASAN || CORO_TSAN
    struct coro_loop *L = t->loop;
    struct coro_task *next = t->next;
    if (next != t && __atomic_load_n(&L->fast_yields, __ATOMIC_RELAXED) && t->guarded) {
        /* what the fast path would do, with a switch the sanitizers hear of */
        L->runq_tail = t;
        L->current = next;
        t->takes_pass = true;
        void *pass = ctx_switch(&t->ctx, &next->ctx, false, NULL);
        t->takes_pass = false;
        after_switch(pass);
        return;
    }
    coro_suspend_(t);
#else
    void *pass = NULL;
    struct coro_ctx *to = suspend_pick(t, &pass);
    if (to) coro_arch_jump(&t->ctx.regs, &to->regs, pass); /* takes_pass stays false */
#endif
}

#ifdef CORO_YIELD_ENTRY_
void coro_yield(void) { CORO_YIELD_JUMP_(); }
#else
void coro_yield(void) /* an ABI without the assembly entry: always the general way */
{
    struct coro_task *t = coro_tl_loop_->current;
    if (t) coro_suspend_(t);
}
#endif

struct coro_task *coro_current(void) { return coro_self_(); }

bool coro_cancelled(void)
{
    struct coro_task *t = coro_self_();
    return t && t->cancelled;
}

const char *coro_task_name(const struct coro_task *t) { return t ? t->name : ""; }

/* ---- tasks ---------------------------------------------------------------- */

int coro_spawn(struct coro_scheduler *s, coro_fn fn, void *arg, const struct coro_spawn_options *opts,
               struct coro_task **out)
{
    if (out) *out = NULL;
    if (!s || !fn) return -EINVAL;
    struct coro_spawn_options o = opts ? *opts : (struct coro_spawn_options){ 0 };
    bool detached = o.detached || !out;
    size_t usable = o.stack_size ? o.stack_size : s->default_stack;
    if (usable < MIN_STACK) usable = MIN_STACK;
    const size_t top = (sizeof(struct coro_task) + 63) & ~(size_t)63;
    struct coro_stack st;
    int rc = coro_stack_get(&s->stacks, usable, top + 64, &st);
    if (rc) return rc;

    struct coro_task *t = (struct coro_task *)(((uintptr_t)st.hi - top - 64) & ~(uintptr_t)63);
    memset(t, 0, sizeof *t);
    t->stack = st;
    t->stack_lo = st.lo;
    t->guarded = st.guarded;
    t->check_countdown = BOTTOM_CHECK_EVERY;
    struct coro_loop *L = &s->loops[0];
    if (s->nloops > 1) L = &s->loops[__atomic_fetch_add(&s->spawn_next, 1, __ATOMIC_RELAXED) % s->nloops];
    t->loop = L;
    t->fn = fn;
    t->arg = arg;
    t->refs = detached ? 1 : 2;
    coro_event_init(&t->done);
    if (o.name) {
        strncpy(t->name, o.name, sizeof t->name - 1);
        t->name[sizeof t->name - 1] = 0;
    }
    coro_arch_make(&t->ctx.regs, t, task_entry, t);
    t->fast_yield = t->guarded && !CORO_ASAN && !CORO_TSAN;
    t->takes_pass = true; /* task_entry does the work a first switch passes */
#if CORO_ASAN
    t->ctx.stack_lo = st.lo;
    t->ctx.stack_size = (size_t)((char *)t - st.lo);
#endif
#if CORO_TSAN
    t->ctx.tsan_fiber = __tsan_create_fiber(0);
    if (t->name[0]) __tsan_set_fiber_name(t->ctx.tsan_fiber, t->name);
#endif
    __atomic_fetch_add(&s->live, 1, __ATOMIC_ACQ_REL);
    if (!detached) *out = t;
    t->state = CORO_T_READY;
    /* One loop and no coro_run active: nobody drives its run queue. With
     * several, the workers do, so only the remote queue is safe. */
    if (coro_tl_loop_ == L || (s->nloops == 1 && !__atomic_load_n(&s->running, __ATOMIC_ACQUIRE)))
        runq_push(L, t);
    else remote_post(L, t, CORO_REMOTE_WAKE);
    return 0;
}

int coro_task_join(struct coro_task *t, void **result)
{
    if (!t) return -EINVAL;
    struct coro_task *self = coro_self_();
    if (self == t) return -EDEADLK;
    if (!coro_event_is_set(&t->done)) {
        if (!self) return -EAGAIN;
        int rc = coro_event_wait(&t->done);
        if (rc) return rc;
    }
    if (result) *result = t->result;
    coro_task_unref_(t);
    return 0;
}

int coro_task_detach(struct coro_task *t)
{
    if (!t) return -EINVAL;
    coro_task_unref_(t);
    return 0;
}

int coro_task_cancel(struct coro_task *t)
{
    if (!t) return -EINVAL;
    /* only the owning loop's thread moves a task: if it is this thread's
     * loop, it stays; otherwise drain_remote forwards a stale post */
    struct coro_loop *L = __atomic_load_n(&t->loop, __ATOMIC_ACQUIRE);
    if (coro_tl_loop_ == L) cancel_local(L, t);
    else remote_post(L, t, CORO_REMOTE_CANCEL);
    return 0;
}

/* ---- the loop --------------------------------------------------------------- */

static void wake_space_waiters(struct coro_loop *L)
{
    struct coro_task *t = L->space_head;
    L->space_head = L->space_tail = NULL;
    while (t) {
        struct coro_task *nx = t->retry_next;
        runq_push(L, t);
        t = nx;
    }
}

/* Several loops, at the end of a pass: hands the back half of L's run queue
 * to a hungry loop. Only tasks free to move go: no timer of their own in
 * flight (pinned), no cancel retry due on this ring, no request posted to
 * them (claiming remote_flags keeps a racing coro_task_cancel's post single:
 * it merges into this one and the new loop handles it). */
static void donate(struct coro_loop *L)
{
    struct coro_scheduler *s = L->sched;
    struct coro_loop *H = NULL;
    for (unsigned i = 1; i < s->nloops && !H; i++) {
        struct coro_loop *c = &s->loops[(L->index + i) % s->nloops];
        if (__atomic_load_n(&c->hungry, __ATOMIC_RELAXED) && __atomic_exchange_n(&c->hungry, 0, __ATOMIC_ACQ_REL)) {
            __atomic_fetch_sub(&s->hungry, 1, __ATOMIC_ACQ_REL);
            H = c;
        }
    }
    if (!H) return;
    size_t n = L->runq_len, keep_first = n - n / 2, i = 0, given = 0;
    struct coro_task *t = L->runq_tail->next, *give_head = NULL, *give_tail = NULL;
    L->runq_tail = NULL;
    L->runq_len = 0;
    for (size_t k = 0; k < n; k++) { /* the ring has no end: count */
        struct coro_task *nx = t->next;
        unsigned zero = 0;
        if (i++ >= keep_first && !t->pinned && !t->in_retry &&
            __atomic_compare_exchange_n(&t->remote_flags, &zero, CORO_REMOTE_WAKE, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            __atomic_store_n(&t->loop, H, __ATOMIC_RELEASE);
            __atomic_fetch_add(&t->refs, 1, __ATOMIC_RELAXED);
            t->remote_next = NULL;
            if (give_tail) give_tail->remote_next = t;
            else give_head = t;
            give_tail = t;
            given++;
        } else {
            runq_push(L, t);
        }
        t = nx;
    }
    if (!given) return;
    pthread_mutex_lock(&H->remote_lock);
    if (H->remote_tail) H->remote_tail->remote_next = give_head;
    else __atomic_store_n(&H->remote_head, give_head, __ATOMIC_SEQ_CST);
    H->remote_tail = give_tail;
    bool asleep = __atomic_load_n(&H->sleeping, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&H->remote_lock);
    stop_fast_yields(H);
    if (asleep) loop_wake(H, L);
}

/* Several loops, nothing runnable here: spin a little on the remote queue,
 * then sleep in the ring until a completion or a wake-up, unless the loop
 * must go on (work posted, tasks all done, stop, coro_run started or ended). */
static int loop_idle(struct coro_loop *L, bool main_loop, bool active, struct aio_result *r)
{
    struct coro_scheduler *s = L->sched;
    int rc = 0;
    if (active && !__atomic_load_n(&L->hungry, __ATOMIC_RELAXED)) {
        __atomic_store_n(&L->hungry, 1, __ATOMIC_RELEASE);
        __atomic_fetch_add(&s->hungry, 1, __ATOMIC_ACQ_REL);
        /* busy loops look at their own `asked` between passes, not at
         * shared state: nothing for the single-loop hot path to load */
        for (unsigned i = 0; i < s->nloops; i++)
            if (&s->loops[i] != L) {
                __atomic_store_n(&s->loops[i].asked, 1, __ATOMIC_SEQ_CST);
                stop_fast_yields(&s->loops[i]);
            }
    }
    for (unsigned i = 0; i < IDLE_SPINS; i++) {
        if (remote_peek(L)) goto awake;
        __builtin_ia32_pause();
    }
    pthread_mutex_lock(&L->remote_lock); /* see loop_asleep */
    bool stay = !L->remote_head &&
                (main_loop ? __atomic_load_n(&s->live, __ATOMIC_ACQUIRE) != 0
                           : !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE) &&
                                 (__atomic_load_n(&s->running, __ATOMIC_ACQUIRE) != 0) == active);
    if (stay) __atomic_store_n(&L->sleeping, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&L->remote_lock);
    if (stay) {
        rc = aio_ring_complete_timeout(L->ring, AIO_NO_TIMEOUT, r);
        __atomic_store_n(&L->sleeping, 0, __ATOMIC_RELAXED); /* a stale 1 costs a spurious wake only */
    }
awake:
    if (__atomic_exchange_n(&L->hungry, 0, __ATOMIC_ACQ_REL)) __atomic_fetch_sub(&s->hungry, 1, __ATOMIC_ACQ_REL);
    return rc;
}

/* One loop's life on its thread: passes until the scheduler's tasks are all
 * done (loops[0], in coro_run) or the scheduler stops (workers). */
static int loop_run(struct coro_loop *L, bool main_loop)
{
    struct coro_scheduler *s = L->sched;
    bool multi = s->nloops > 1;
    int rc = 0;
    for (;;) {
        drain_remote(L);
        if (L->retry_head) retry_cancels(L);
        if (main_loop) {
            if (__atomic_load_n(&s->live, __ATOMIC_ACQUIRE) == 0) break;
        } else if (__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
            break;
        }
        /* workers run tasks only while coro_run is active */
        bool active = main_loop || __atomic_load_n(&s->running, __ATOMIC_ACQUIRE);
        if (active && L->runq_len) {
            L->budget = L->runq_len - 1;
            L->pass_wakes = 0;
            __atomic_store_n(&L->fast_yields, 0, __ATOMIC_RELAXED); /* yields count again */
            struct coro_task *t = L->runq_tail->next; /* the head: it stays in the ring while it runs */
            L->current = t;
            after_switch(ctx_switch(&L->ctx, &t->ctx, false, NULL));
            if (main_loop && __atomic_load_n(&s->live, __ATOMIC_ACQUIRE) == 0) break;
        }
        struct aio_result r = { 0, 0 };
        bool block = L->runq_len == 0 || !active;
        if (!multi) {
            if (block) arm_wake(L);
            /* No lock: a post after this look finds the wake-up armed
             * (remote_post notifies unless a notification is pending, and
             * a pending one ends the wait too). */
            if (block && remote_peek(L)) block = false;
            if (block && aio_ring_in_flight(L->ring) == 0) {
                /* nothing can ever wake the remaining tasks */
                rc = -EDEADLK;
                break;
            }
            rc = aio_ring_complete(L->ring, block ? AIO_WAIT : AIO_NOWAIT, &r);
        } else {
            if (__atomic_load_n(&L->asked, __ATOMIC_RELAXED)) {
                if (!__atomic_load_n(&s->hungry, __ATOMIC_ACQUIRE)) __atomic_store_n(&L->asked, 0, __ATOMIC_RELAXED);
                else if (L->runq_len >= 2) donate(L);
            }
            rc = block ? loop_idle(L, main_loop, active, &r) : aio_ring_complete(L->ring, AIO_NOWAIT, &r);
        }
        L->ring_busy = aio_ring_in_flight(L->ring) != 0;
        if (rc < 0 && rc != -EINTR) break;
        rc = 0;
        if (L->space_head && (r.completed || !block)) wake_space_waiters(L);
    }
    return rc;
}

/* What a thread sets up to run a loop, undone by loop_leave. */
struct loop_thread {
    stack_t old_ss;
    bool alt;
};

static void loop_enter(struct coro_loop *L, struct loop_thread *lt)
{
    coro_tl_loop_ = L;
    /* stack overflows are reported from an alternate stack */
    pthread_once(&segv_once, segv_install);
    stack_t ss = { .ss_sp = L->altstack, .ss_size = ALTSTACK_SIZE, .ss_flags = 0 };
    lt->alt = sigaltstack(&ss, &lt->old_ss) == 0;
#if CORO_ASAN
    {
        pthread_attr_t a;
        void *lo = NULL;
        size_t sz = 0;
        if (pthread_getattr_np(pthread_self(), &a) == 0) {
            pthread_attr_getstack(&a, &lo, &sz);
            pthread_attr_destroy(&a);
        }
        L->ctx.stack_lo = lo;
        L->ctx.stack_size = sz;
    }
#endif
#if CORO_TSAN
    L->ctx.tsan_fiber = __tsan_get_current_fiber();
#endif
}

static void loop_leave(struct loop_thread *lt)
{
    if (lt->alt) sigaltstack(&lt->old_ss, NULL);
    coro_tl_loop_ = &coro_no_loop_;
}

static void *worker_main(void *arg)
{
    struct coro_loop *L = arg;
    struct loop_thread lt;
    loop_enter(L, &lt);
    (void)loop_run(L, false);
    /* not before destroy has stopped poking this loop's ring */
    pthread_barrier_wait(&L->sched->stopped);
    /* The ring belongs to this thread (io_uring: SINGLE_ISSUER), so it is
     * torn down here; callbacks of what it cancels find every task's memory,
     * since stacks are unmapped only after the workers are joined. */
    L->destroying = true;
    aio_ring_destroy(L->ring);
    L->ring = NULL;
    loop_leave(&lt);
    return NULL;
}

int coro_run(struct coro_scheduler *s)
{
    if (!s) return -EINVAL;
    if (coro_this_loop_()) return -EBUSY;
    if (__atomic_exchange_n(&s->running, 1, __ATOMIC_ACQ_REL)) return -EBUSY;
    struct coro_loop *L = &s->loops[0];
    struct loop_thread lt;
    loop_enter(L, &lt);
    for (unsigned i = 1; i < s->nloops; i++) loop_poke(&s->loops[i], NULL); /* may hold spawned tasks */
    int rc = loop_run(L, true);
    loop_leave(&lt);
    __atomic_store_n(&s->running, 0, __ATOMIC_RELEASE);
    return rc;
}

static void loops_free(struct coro_scheduler *s)
{
    for (unsigned i = 0; i < s->nloops; i++) {
        struct coro_loop *L = &s->loops[i];
        if (L->ring) {
            L->destroying = true;
            aio_ring_destroy(L->ring);
        }
        if (L->wake_ready) aio_event_source_destroy(&L->wake_src);
        pthread_mutex_destroy(&L->remote_lock);
        free(L->altstack);
    }
    free(s->loops);
    free(s->workers);
}

/* Stops and joins the first `n` workers. */
static void workers_stop(struct coro_scheduler *s, unsigned n)
{
    __atomic_store_n(&s->stop, 1, __ATOMIC_SEQ_CST);
    for (unsigned i = 1; i <= n; i++) loop_poke(&s->loops[i], NULL);
    pthread_barrier_wait(&s->stopped);
    for (unsigned i = 1; i <= n; i++) pthread_join(s->workers[i - 1], NULL);
}

#define MAX_LOOPS 1024u

int coro_scheduler_create(struct coro_scheduler **out, const struct coro_options *opts)
{
    if (!out) return -EINVAL;
    *out = NULL;
    struct coro_options o = opts ? *opts : (struct coro_options){ 0 };
    unsigned nloops = o.threads ? o.threads : coro_usable_cpus_();
    if (nloops > MAX_LOOPS) return -EINVAL;
    struct coro_scheduler *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->default_stack = o.stack_size ? o.stack_size : DEFAULT_STACK;
    s->loops = calloc(nloops, sizeof *s->loops);
    s->workers = nloops > 1 ? calloc(nloops - 1, sizeof *s->workers) : NULL;
    int rc = -ENOMEM;
    if (!s->loops || (nloops > 1 && !s->workers)) goto fail;
    for (unsigned i = 0; i < nloops; i++) {
        struct coro_loop *L = &s->loops[i];
        L->sched = s;
        L->index = i;
        L->ring_entries = o.ring_entries ? o.ring_entries : DEFAULT_RING;
        pthread_mutex_init(&L->remote_lock, NULL);
        s->nloops = i + 1;
        L->altstack = malloc(ALTSTACK_SIZE);
        if (!L->altstack) { rc = -ENOMEM; goto fail; }
        /* one entry more than asked for: the loop's own wake-up op (arm_wake).
         * Created here, bound to the thread that first drives it (aio.h).
         * Eager chains: the loop runs tasks between AIO_NOWAIT polls (aio.h). */
        rc = aio_ring_create(&L->ring, &(struct aio_ring_options){ .entries = L->ring_entries + 1,
                                                                  .flags = AIO_RING_EAGER_CHAINS,
                                                                  .backend = o.backend });
        if (rc) { L->ring = NULL; goto fail; }
    }
    rc = coro_blocking_pool_init(&s->blocking, o.blocking_threads ? o.blocking_threads : DEFAULT_BLOCKING);
    if (rc) goto fail;
    coro_stack_pool_init(&s->stacks, o.max_guarded_stacks);
    pthread_barrier_init(&s->stopped, NULL, nloops);
    for (unsigned i = 1; i < nloops; i++) {
        rc = -pthread_create(&s->workers[i - 1], NULL, worker_main, &s->loops[i]);
        if (rc) {
            /* the barrier counts the workers that exist and this thread (none
             * waits on it before stop is set) */
            pthread_barrier_destroy(&s->stopped);
            pthread_barrier_init(&s->stopped, NULL, i);
            workers_stop(s, i - 1);
            pthread_barrier_destroy(&s->stopped);
            coro_blocking_pool_fini(&s->blocking);
            coro_stack_pool_fini(&s->stacks);
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    if (s->loops) loops_free(s);
    else free(s->workers);
    free(s);
    return rc;
}

void coro_scheduler_destroy(struct coro_scheduler *s)
{
    if (!s) return;
    coro_blocking_pool_fini(&s->blocking);
    /* Workers tear their rings down themselves; loops_free does loops[0]'s.
     * Rings cancel what is still in flight; the callbacks still find every
     * task's memory, since stacks are unmapped only below. */
    if (s->nloops > 1) workers_stop(s, s->nloops - 1);
    pthread_barrier_destroy(&s->stopped);
    loops_free(s);
    coro_stack_pool_fini(&s->stacks);
    free(s);
}
