/*
 * Parking a task on a synchronisation object: wait queues, timeouts and
 * cancellation, shared by every object in sync.c.
 *
 * The object's spinlock is held from the moment the task decides to wait
 * until it has switched away (the next context releases it, see
 * loop->post_unlock), so a waker on another thread can never resume a task
 * that is still running. A waiter removed from its queue has been claimed by
 * exactly one party — a waker, the timer or a cancel — which sets its result
 * and wakes it; the others find it gone.
 *
 * A timed wait puts an AIO_TIMEOUT op on the loop's ring whose completion
 * points at the waiter on the task's stack. So that no completion ever lands
 * in a finished wait, a task woken before its timer fired cancels the timer
 * and waits for that completion before returning.
 */
#include "internal.h"

#include <errno.h>

void coro_waitq_push_(struct coro_waitq_ *q, struct coro_waiter *w)
{
    struct coro_waiter *tail = q->tail_;
    w->q = q;
    w->next = NULL;
    w->prev = tail;
    if (tail) tail->next = w;
    else q->head_ = w;
    q->tail_ = w;
}

void coro_waitq_remove_(struct coro_waitq_ *q, struct coro_waiter *w)
{
    if (w->prev) w->prev->next = w->next;
    else q->head_ = w->next;
    if (w->next) w->next->prev = w->prev;
    else q->tail_ = w->prev;
    w->next = w->prev = NULL;
    w->q = NULL;
}

bool coro_waitq_wake_one_(struct coro_waitq_ *q, int result)
{
    struct coro_waiter *w = q->head_;
    if (!w) return false;
    coro_waitq_remove_(q, w);
    w->result = result;
    coro_wake_(w->task);
    return true;
}

struct coro_task *coro_wait_begin_(int *err)
{
    struct coro_task *t = coro_self_();
    if (!t) { *err = -EPERM; return NULL; }
    if (t->cancel_pending) {
        t->cancel_pending = false;
        *err = -ECANCELED;
        return NULL;
    }
    return t;
}

static void ignore_result(void *ctx, size_t index, int result)
{
    (void)ctx;
    (void)index;
    (void)result;
}

static void timer_done(void *ctx, size_t index, int result)
{
    (void)index;
    (void)result;
    struct coro_waiter *w = ctx;
    w->timer_live = false;
    coro_spin_lock(w->lock);
    if (w->q) {
        coro_waitq_remove_(w->q, w);
        w->result = -ETIMEDOUT;
        coro_wake_(w->task);
        coro_spin_unlock(w->lock);
        return;
    }
    coro_spin_unlock(w->lock);
    if (w->reaping) {
        w->reaping = false;
        coro_wake_(w->task);
    }
}

int coro_park_(struct coro_waiter *w, struct coro_waitq_ *q, int *lock, uint64_t timeout_ns)
{
    struct coro_task *t = w->task;
    struct coro_loop *L = t->loop;
    w->lock = lock;
    w->result = 0;
    w->timer_live = w->reaping = false;
    if (timeout_ns != CORO_NO_TIMEOUT) {
        struct aio_op op = AIO_TIMEOUT(.ns = timeout_ns);
        int rc = coro_loop_queue_(L, &op, 1, timer_done, w, &w->timer_id);
        if (rc) {
            coro_spin_unlock(lock);
            return rc;
        }
        w->timer_live = true;
        t->pinned = true; /* the timer's completion and cancel belong to L's ring */
    }
    coro_waitq_push_(q, w);
    t->parked = w->interruptible ? w : NULL;
    t->state = CORO_T_PARKED;
    L->post_unlock = lock;
    coro_suspend_(t);

    L = coro_tl_loop_; /* == t->loop: a pinned task does not move */
    t->parked = NULL;
    if (w->timer_live) {
        /* Woken first: stop the timer and wait for its completion, which
         * names this waiter. If the cancel does not fit in the ring, the
         * timer still ends by itself. */
        struct aio_op c = AIO_CANCEL(.id = w->timer_id);
        (void)coro_loop_queue_(L, &c, 1, ignore_result, NULL, NULL);
        w->reaping = true;
        t->state = CORO_T_IO;
        coro_suspend_(t);
    }
    t->pinned = false;
    return w->result;
}

bool coro_park_cancel_(struct coro_task *t)
{
    struct coro_waiter *w = t->parked;
    if (!w) return false;
    coro_spin_lock(w->lock);
    bool hit = w->q != NULL;
    if (hit) {
        coro_waitq_remove_(w->q, w);
        w->result = -ECANCELED;
        coro_wake_(t);
    }
    coro_spin_unlock(w->lock);
    return hit;
}
