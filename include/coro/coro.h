/*
 * caio coro — stackful coroutines ("tasks") on top of caio's rings.
 *
 * A scheduler owns a run queue and an aio ring. Tasks run until they wait:
 * on I/O (coro_io_*), on time (coro_sleep), on another task (coro_task_join)
 * or on one of the synchronisation objects below. All the ops that all tasks
 * queue during one pass over the runnable tasks reach the kernel in one
 * submit-and-wait, and each task resumes when its own batch has completed.
 *
 * Conventions (those of <aio/aio.h>): calls return 0 or a negative errno.
 *
 * Cancellation (coro_task_cancel) is an interrupt, not a kill: it ends the
 * task's current wait, or, if the task is not waiting, its next one, and that
 * wait reports -ECANCELED (for an I/O batch: its ops in flight are cancelled
 * and report -ECANCELED in their out_error; the call returns as usual, so
 * coro_io_multi returns the first failure in array order). One cancel
 * interrupts one wait; later waits run normally, so a cancelled task can still
 * close its sockets on the way out. coro_cancelled() tells whether the current
 * task was ever cancelled. coro_blocking cannot be interrupted: a cancel that
 * arrives while it runs is kept for the next wait.
 *
 * Waits that need a task (every *_wait, *_lock, *_send, *_recv, join) return
 * -EPERM when called outside a task and they would have to suspend; the calls
 * that never suspend (set, post, unlock, signal, try_*, close, add) work from
 * any thread. Every synchronisation object may be used from tasks of any
 * scheduler and any thread.
 */
#ifndef CAIO_CORO_CORO_H
#define CAIO_CORO_CORO_H

#include <aio/aio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define CORO_API
#elif defined(__GNUC__)
#  define CORO_API __attribute__((visibility("default")))
#else
#  define CORO_API
#endif

/* ------------------------------------------------------------------------- */
/* Scheduler and tasks                                                        */
/* ------------------------------------------------------------------------- */

/* A set of tasks and the loop(s) that run them. */
struct coro_scheduler;
/* One task: a function running on its own stack. */
struct coro_task;

/* A task's body: receives coro_spawn's `arg`, its return value is what
 * coro_task_join reports. */
typedef void *(*coro_fn)(void *arg);

/* Scheduler settings; fields left 0 take the default. */
struct coro_options {
    unsigned threads;           /* scheduler loops, each on its own thread with
                                   its own ring; 0 = one per CPU the process may
                                   use (affinity, cgroup CPU quota rounded up).
                                   Loop 0 runs on the coro_run caller, the others
                                   on threads that live until destroy and sleep
                                   in the kernel when idle. Spawns are spread
                                   round-robin; idle loops take runnable tasks
                                   from busy ones, so a task may resume on
                                   another thread after any suspension (keep
                                   no thread-local state across one). Order
                                   between tasks holds only with threads = 1. */
    uint32_t ring_entries;      /* ops in flight at once on a loop's ring (4096) */
    size_t stack_size;          /* default usable stack per task (64 KiB) */
    unsigned blocking_threads;  /* most worker threads for coro_blocking (4) */
    size_t max_guarded_stacks;  /* 0 (default): every stack gets a guard page
                                   where the kernel can mark one without a
                                   mapping of its own (Linux 6.13+), else as
                                   many as vm.max_map_count leaves room for;
                                   N: exactly the first N stacks get one. The
                                   others are checked for overflow at switches
                                   only (see src/coro/stack.c) */
    enum aio_backend backend;   /* backend of the scheduler's ring (AUTO; the
                                   environment variable AIO_BACKEND applies) */
};

/* Per-task settings for coro_spawn; NULL = all defaults. */
struct coro_spawn_options {
    size_t stack_size;          /* usable bytes, rounded up to pages; 0 = scheduler default */
    const char *name;           /* copied (first 31 bytes); shown in overflow reports */
    bool detached;              /* no handle: the task frees itself when it ends */
};

/* Creates a scheduler. opts may be NULL. The rings are created here; loop 0's
 * belongs to the thread that calls coro_run, each other loop's to the worker
 * thread started here for it (workers run tasks only while coro_run runs). */
CORO_API int coro_scheduler_create(struct coro_scheduler **sched, const struct coro_options *opts);
/* Stops and joins the worker threads, then frees the scheduler and every task
 * handle. Call it when coro_run has returned; tasks that never finished are discarded without running further
 * (their ops are cancelled, their stacks unmapped), so the objects such tasks
 * wait on with a timeout must still exist here. */
CORO_API void coro_scheduler_destroy(struct coro_scheduler *sched);

/* Creates a task that will run fn(arg) on `sched`, from any thread or task.
 * *task receives the handle, which must later be joined or detached; with
 * opts->detached, or task == NULL, the task is detached and gives no handle
 * (*task = NULL). -EINVAL for a NULL scheduler or fn, -ENOMEM when no stack
 * can be mapped. */
CORO_API int coro_spawn(struct coro_scheduler *sched, coro_fn fn, void *arg,
                        const struct coro_spawn_options *opts, struct coro_task **task);
/* Runs the scheduler (loop 0 on the calling thread, the others on their
 * workers) until every task on every loop has finished. Returns 0, -EBUSY when called from a task or while the scheduler already
 * runs, or the ring's error if it fails. */
CORO_API int coro_run(struct coro_scheduler *sched);

/* The task running on this thread, or NULL outside tasks. */
CORO_API struct coro_task *coro_current(void);
/* Whether the current task has ever been cancelled (false outside tasks). */
CORO_API bool coro_cancelled(void);
/* The task's name as given at spawn ("" when none). */
CORO_API const char *coro_task_name(const struct coro_task *task);

/* Lets every other runnable task run once, then continues. No-op outside tasks.
 *
 * On x86-64 ELF systems (Linux, BSD) with a GNU C compiler, coro_yield is
 * this header's inline function (define CORO_NO_INLINE_YIELD for a plain
 * call): a jump into the library, telling the compiler that every register
 * but the stack and frame pointers is clobbered, so that a switch to the next
 * task saves only what the caller has live rather than the whole callee-saved
 * set. The library exports coro_yield as a function as well, for other
 * languages and function pointers. */
#if defined(__x86_64__) && defined(__ELF__) && defined(__GNUC__)
/* Not API: the library has coro_yield_entry_, what the inline coro_yield
 * below jumps to (resume address in rcx). */
#  define CORO_YIELD_ENTRY_ 1
CORO_API void coro_yield_entry_(void);
/* Every x86-64 register but rax, rdi, rsi, rsp and rbp, as inline assembly
 * clobbers; AVX-512's extra registers when the code may use them. */
#  ifdef __AVX512F__
#    define CORO_AVX512_CLOBBERS_ , "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", \
        "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "k1", "k2", \
        "k3", "k4", "k5", "k6", "k7"
#  else
#    define CORO_AVX512_CLOBBERS_
#  endif
#  define CORO_CLOBBERS_BUT_ARGS_                                                                 \
    "rbx", "rcx", "rdx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "memory", "cc",     \
        "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",    \
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "st", "st(1)", "st(2)", "st(3)", "st(4)",     \
        "st(5)", "st(6)", "st(7)" CORO_AVX512_CLOBBERS_
/* endbr64 where the resume address must be a valid indirect-branch target */
#  if defined(__CET__) && (__CET__ & 1)
#    define CORO_RESUME_MARK_ "endbr64\n\t"
#  else
#    define CORO_RESUME_MARK_
#  endif
#  define CORO_YIELD_JUMP_()                                                                      \
    __asm__ volatile("leaq 1f(%%rip), %%rcx\n\t"                                                 \
                     "jmp *coro_yield_entry_@GOTPCREL(%%rip)\n"                                   \
                     "1:\t" CORO_RESUME_MARK_                                                     \
                     :                                                                            \
                     :                                                                            \
                     : "rax", "rdi", "rsi", CORO_CLOBBERS_BUT_ARGS_)
#endif
#if defined(CORO_YIELD_ENTRY_) && !defined(CORO_NO_INLINE_YIELD) && !defined(CAIO_BUILDING)
static inline void coro_yield(void) { CORO_YIELD_JUMP_(); }
#else
CORO_API void coro_yield(void);
#endif
/* Suspends the task for `ns` nanoseconds (an AIO_TIMEOUT op on the ring): 0,
 * or -ECANCELED. Outside a task it blocks the thread, as aio_single would. */
CORO_API int coro_sleep(uint64_t ns);

/* Waits until `task` has finished, stores its return value in *result (may be
 * NULL) and frees the handle: 0. -EINVAL (NULL), -EDEADLK (a task joining
 * itself), -ECANCELED (the joining task was cancelled; the handle stays valid),
 * -EAGAIN (outside a task while `task` has not finished yet; run the scheduler
 * first). */
CORO_API int coro_task_join(struct coro_task *task, void **result);
/* Interrupts the task's current or next wait with -ECANCELED (see the top of
 * this file); its in-flight ops are cancelled. Any thread. The handle stays
 * valid and must still be joined or detached. 0, or -EINVAL for NULL. */
CORO_API int coro_task_cancel(struct coro_task *task);
/* Gives the handle up: the task frees itself when it finishes (at once if it
 * already has). 0, or -EINVAL for NULL. */
CORO_API int coro_task_detach(struct coro_task *task);

/* ------------------------------------------------------------------------- */
/* I/O from tasks                                                             */
/* ------------------------------------------------------------------------- */

/* aio_single, but only the task waits: the op joins this pass's submission. */
CORO_API int coro_io_single(struct aio_op op);
/* aio_multi from a task: 0, or the result of the first op (array order) that
 * failed; every op's result in its out_error. -EBUSY when n exceeds the ring's
 * entries (coro_options.ring_entries). Outside a task: aio_multi. */
CORO_API int coro_io_multi(const struct aio_op *ops, size_t n);
/* aio_complete from a task: how many ops failed, or -errno when the batch
 * could not be queued. Outside a task: aio_complete. */
CORO_API int coro_io_complete(const struct aio_op *ops, size_t n);

/* coro_io_multi / coro_io_complete over a literal list of ops. */
#define CORO_IO_MULTI(...) \
    coro_io_multi((const struct aio_op[]){ __VA_ARGS__ }, \
                  sizeof((const struct aio_op[]){ __VA_ARGS__ }) / sizeof(struct aio_op))
#define CORO_IO_COMPLETE(...) \
    coro_io_complete((const struct aio_op[]){ __VA_ARGS__ }, \
                     sizeof((const struct aio_op[]){ __VA_ARGS__ }) / sizeof(struct aio_op))

/* Runs fn(arg) on a worker thread while the calling task is suspended; its
 * return value goes to *result (may be NULL). 0, or -errno when no worker
 * could be started. Not interruptible (see the top of this file). Outside a
 * task, fn runs on the calling thread. */
CORO_API int coro_blocking(void *(*fn)(void *), void *arg, void **result);

/* ------------------------------------------------------------------------- */
/* Synchronisation between tasks                                              */
/* ------------------------------------------------------------------------- */
/*
 * Each object is a plain struct the user owns; its fields are private. Every
 * wait has a _timeout variant taking nanoseconds that reports -ETIMEDOUT when
 * they elapse first. Waits report -ECANCELED when the task is cancelled. An
 * object must outlive every wait on it; _destroy needs no task waiting.
 */

/* Private: the tasks waiting on an object, in arrival order. */
struct coro_waitq_ { void *head_, *tail_; };

/* A manual-reset event: set wakes every waiter and stays set until reset. */
struct coro_event { int lock_; int set_; struct coro_waitq_ q_; };
/* Initialises an unset event: 0. */
CORO_API int coro_event_init(struct coro_event *ev);
CORO_API void coro_event_destroy(struct coro_event *ev);
/* Sets the event and wakes every waiting task. */
CORO_API void coro_event_set(struct coro_event *ev);
/* Clears the event. */
CORO_API void coro_event_reset(struct coro_event *ev);
CORO_API bool coro_event_is_set(struct coro_event *ev);
/* Waits until the event is set: 0, -ECANCELED, -EPERM. */
CORO_API int coro_event_wait(struct coro_event *ev);
CORO_API int coro_event_wait_timeout(struct coro_event *ev, uint64_t ns);

/* A counting semaphore; post hands a unit straight to the oldest waiter. */
struct coro_sem { int lock_; unsigned count_; struct coro_waitq_ q_; };
CORO_API int coro_sem_init(struct coro_sem *sem, unsigned value);
CORO_API void coro_sem_destroy(struct coro_sem *sem);
/* Adds one unit (or wakes one waiter). */
CORO_API void coro_sem_post(struct coro_sem *sem);
/* Takes one unit, waiting while there is none: 0, -ECANCELED, -EPERM. */
CORO_API int coro_sem_wait(struct coro_sem *sem);
CORO_API int coro_sem_wait_timeout(struct coro_sem *sem, uint64_t ns);
/* Takes one unit if there is one: 0 or -EAGAIN. */
CORO_API int coro_sem_trywait(struct coro_sem *sem);
/* Units available now. */
CORO_API unsigned coro_sem_value(struct coro_sem *sem);

/* A fair mutex: unlock hands it to the oldest waiter. Owned by a task (or by
 * "no task" when taken outside tasks). */
struct coro_mutex { int lock_; int locked_; void *owner_; struct coro_waitq_ q_; };
CORO_API int coro_mutex_init(struct coro_mutex *m);
CORO_API void coro_mutex_destroy(struct coro_mutex *m);
/* 0 once held; -ECANCELED (not held), -EPERM. */
CORO_API int coro_mutex_lock(struct coro_mutex *m);
CORO_API int coro_mutex_lock_timeout(struct coro_mutex *m, uint64_t ns);
/* 0 when taken, -EBUSY when held. */
CORO_API int coro_mutex_trylock(struct coro_mutex *m);
/* 0, or -EPERM when the caller does not hold it. */
CORO_API int coro_mutex_unlock(struct coro_mutex *m);

/* A condition variable used with a coro_mutex. */
struct coro_cond { int lock_; struct coro_waitq_ q_; };
CORO_API int coro_cond_init(struct coro_cond *c);
CORO_API void coro_cond_destroy(struct coro_cond *c);
/* Releases m, waits for a signal, takes m again. Returns with m held in every
 * case, even -ECANCELED and -ETIMEDOUT (re-taking m is not interruptible).
 * -EPERM when the caller does not hold m (m untouched). */
CORO_API int coro_cond_wait(struct coro_cond *c, struct coro_mutex *m);
CORO_API int coro_cond_wait_timeout(struct coro_cond *c, struct coro_mutex *m, uint64_t ns);
/* Wakes the oldest waiter / every waiter. */
CORO_API void coro_cond_signal(struct coro_cond *c);
CORO_API void coro_cond_broadcast(struct coro_cond *c);

/* A bounded FIFO channel of fixed-size items, copied in and out. */
struct coro_chan {
    int lock_; int closed_;
    size_t item_size_, cap_, head_, count_;
    unsigned char *buf_;
    struct coro_waitq_ senders_, receivers_;
};
/* capacity >= 1 items of item_size >= 1 bytes: 0, -EINVAL, -ENOMEM. */
CORO_API int coro_chan_init(struct coro_chan *ch, size_t item_size, size_t capacity);
CORO_API void coro_chan_destroy(struct coro_chan *ch);
/* Copies *item in, waiting while the channel is full: 0; -EPIPE when closed
 * (before or while waiting: the item was not sent), -ECANCELED, -EPERM. */
CORO_API int coro_chan_send(struct coro_chan *ch, const void *item);
CORO_API int coro_chan_send_timeout(struct coro_chan *ch, const void *item, uint64_t ns);
/* Copies the oldest item out, waiting while the channel is empty: 0; -EPIPE
 * when it is closed and drained, -ECANCELED, -EPERM. */
CORO_API int coro_chan_recv(struct coro_chan *ch, void *item);
CORO_API int coro_chan_recv_timeout(struct coro_chan *ch, void *item, uint64_t ns);
/* Never wait: -EAGAIN where send/recv would. */
CORO_API int coro_chan_try_send(struct coro_chan *ch, const void *item);
CORO_API int coro_chan_try_recv(struct coro_chan *ch, void *item);
/* Closes: waiting senders get -EPIPE, items already in stay receivable, then
 * receivers get -EPIPE. 0, or -EPIPE when already closed. */
CORO_API int coro_chan_close(struct coro_chan *ch);
/* Items in the channel now. */
CORO_API size_t coro_chan_len(struct coro_chan *ch);

/* Counts outstanding work; waiters wake when the count drops to zero. */
struct coro_wait_group { int lock_; long count_; struct coro_waitq_ q_; };
CORO_API int coro_wait_group_init(struct coro_wait_group *wg);
CORO_API void coro_wait_group_destroy(struct coro_wait_group *wg);
/* Adds delta (may be negative): 0, or -EINVAL if the count would go below 0. */
CORO_API int coro_wait_group_add(struct coro_wait_group *wg, long delta);
/* coro_wait_group_add(wg, -1). */
CORO_API int coro_wait_group_done(struct coro_wait_group *wg);
/* Waits until the count is 0: 0, -ECANCELED, -EPERM. */
CORO_API int coro_wait_group_wait(struct coro_wait_group *wg);
CORO_API int coro_wait_group_wait_timeout(struct coro_wait_group *wg, uint64_t ns);

#ifdef __cplusplus
}
#endif

#endif /* CAIO_CORO_CORO_H */
