/*
 * Synchronisation between tasks: event, semaphore, mutex, condition
 * variable, channel, wait group. Each is a spinlock, some state and FIFO wait
 * queues; waiting is park.c's job, waking is coro_wake_(), so every object
 * works between tasks of any loop and from plain threads.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOCK(o) coro_spin_lock(&(o)->lock_)
#define UNLOCK(o) coro_spin_unlock(&(o)->lock_)

/* The common tail of a wait that has to suspend; called with the lock held. */
static int wait_here(int *lock, struct coro_waitq_ *q, void *item, uint64_t ns)
{
    int err;
    struct coro_task *t = coro_wait_begin_(&err);
    if (!t) {
        coro_spin_unlock(lock);
        return err;
    }
    struct coro_waiter w = { .task = t, .interruptible = true, .item = item };
    return coro_park_(&w, q, lock, ns);
}

/* ---- event ---------------------------------------------------------------- */

int coro_event_init(struct coro_event *ev)
{
    if (!ev) return -EINVAL;
    memset(ev, 0, sizeof *ev);
    return 0;
}

void coro_event_destroy(struct coro_event *ev) { (void)ev; }

void coro_event_set(struct coro_event *ev)
{
    LOCK(ev);
    __atomic_store_n(&ev->set_, 1, __ATOMIC_RELEASE);
    while (coro_waitq_wake_one_(&ev->q_, 0)) {}
    UNLOCK(ev);
}

void coro_event_reset(struct coro_event *ev)
{
    LOCK(ev);
    __atomic_store_n(&ev->set_, 0, __ATOMIC_RELEASE);
    UNLOCK(ev);
}

bool coro_event_is_set(struct coro_event *ev) { return __atomic_load_n(&ev->set_, __ATOMIC_ACQUIRE) != 0; }

int coro_event_wait_timeout(struct coro_event *ev, uint64_t ns)
{
    LOCK(ev);
    if (ev->set_) { UNLOCK(ev); return 0; }
    return wait_here(&ev->lock_, &ev->q_, NULL, ns);
}

int coro_event_wait(struct coro_event *ev) { return coro_event_wait_timeout(ev, CORO_NO_TIMEOUT); }

/* ---- semaphore ------------------------------------------------------------ */

int coro_sem_init(struct coro_sem *sem, unsigned value)
{
    if (!sem) return -EINVAL;
    memset(sem, 0, sizeof *sem);
    sem->count_ = value;
    return 0;
}

void coro_sem_destroy(struct coro_sem *sem) { (void)sem; }

void coro_sem_post(struct coro_sem *sem)
{
    LOCK(sem);
    if (!coro_waitq_wake_one_(&sem->q_, 0)) sem->count_++;
    UNLOCK(sem);
}

int coro_sem_trywait(struct coro_sem *sem)
{
    LOCK(sem);
    int rc = sem->count_ ? (sem->count_--, 0) : -EAGAIN;
    UNLOCK(sem);
    return rc;
}

int coro_sem_wait_timeout(struct coro_sem *sem, uint64_t ns)
{
    LOCK(sem);
    if (sem->count_) { sem->count_--; UNLOCK(sem); return 0; }
    return wait_here(&sem->lock_, &sem->q_, NULL, ns);
}

int coro_sem_wait(struct coro_sem *sem) { return coro_sem_wait_timeout(sem, CORO_NO_TIMEOUT); }

unsigned coro_sem_value(struct coro_sem *sem)
{
    LOCK(sem);
    unsigned v = sem->count_;
    UNLOCK(sem);
    return v;
}

/* ---- mutex ------------------------------------------------------------------ */

int coro_mutex_init(struct coro_mutex *m)
{
    if (!m) return -EINVAL;
    memset(m, 0, sizeof *m);
    return 0;
}

void coro_mutex_destroy(struct coro_mutex *m) { (void)m; }

int coro_mutex_trylock(struct coro_mutex *m)
{
    LOCK(m);
    int rc = -EBUSY;
    if (!m->locked_) { m->locked_ = 1; m->owner_ = coro_self_(); rc = 0; }
    UNLOCK(m);
    return rc;
}

/* On success the unlocker has made this task the owner before waking it. */
static int mutex_lock(struct coro_mutex *m, uint64_t ns, bool interruptible)
{
    LOCK(m);
    if (!m->locked_) {
        m->locked_ = 1;
        m->owner_ = coro_self_();
        UNLOCK(m);
        return 0;
    }
    if (interruptible) return wait_here(&m->lock_, &m->q_, NULL, ns);
    struct coro_task *t = coro_self_();
    if (!t) { UNLOCK(m); return -EPERM; }
    struct coro_waiter w = { .task = t, .interruptible = false };
    return coro_park_(&w, &m->q_, &m->lock_, ns);
}

int coro_mutex_lock(struct coro_mutex *m) { return mutex_lock(m, CORO_NO_TIMEOUT, true); }
int coro_mutex_lock_timeout(struct coro_mutex *m, uint64_t ns) { return mutex_lock(m, ns, true); }

int coro_mutex_unlock(struct coro_mutex *m)
{
    LOCK(m);
    if (!m->locked_ || m->owner_ != (void *)coro_self_()) { UNLOCK(m); return -EPERM; }
    struct coro_waiter *w = coro_waitq_head_(&m->q_);
    if (w) {
        m->owner_ = w->task; /* hand-off: stays locked */
        coro_waitq_wake_one_(&m->q_, 0);
    } else {
        m->locked_ = 0;
        m->owner_ = NULL;
    }
    UNLOCK(m);
    return 0;
}

/* ---- condition variable -------------------------------------------------- */

int coro_cond_init(struct coro_cond *c)
{
    if (!c) return -EINVAL;
    memset(c, 0, sizeof *c);
    return 0;
}

void coro_cond_destroy(struct coro_cond *c) { (void)c; }

int coro_cond_wait_timeout(struct coro_cond *c, struct coro_mutex *m, uint64_t ns)
{
    struct coro_task *t = coro_self_();
    if (!t) return -EPERM;
    LOCK(m);
    bool owner = m->locked_ && m->owner_ == (void *)t;
    UNLOCK(m);
    if (!owner) return -EPERM;
    /* the cond's lock is taken before m is released, so a signal sent by the
     * next owner of m cannot be missed (lock order: cond, then mutex) */
    LOCK(c);
    int err;
    if (!coro_wait_begin_(&err)) { UNLOCK(c); return err; }
    coro_mutex_unlock(m);
    struct coro_waiter w = { .task = t, .interruptible = true };
    int rc = coro_park_(&w, &c->q_, &c->lock_, ns);
    mutex_lock(m, CORO_NO_TIMEOUT, false);
    return rc;
}

int coro_cond_wait(struct coro_cond *c, struct coro_mutex *m) { return coro_cond_wait_timeout(c, m, CORO_NO_TIMEOUT); }

void coro_cond_signal(struct coro_cond *c)
{
    LOCK(c);
    coro_waitq_wake_one_(&c->q_, 0);
    UNLOCK(c);
}

void coro_cond_broadcast(struct coro_cond *c)
{
    LOCK(c);
    while (coro_waitq_wake_one_(&c->q_, 0)) {}
    UNLOCK(c);
}

/* ---- channel ---------------------------------------------------------------- */

int coro_chan_init(struct coro_chan *ch, size_t item_size, size_t capacity)
{
    if (!ch || item_size == 0 || capacity == 0 || capacity > SIZE_MAX / item_size) return -EINVAL;
    memset(ch, 0, sizeof *ch);
    ch->buf_ = malloc(item_size * capacity);
    if (!ch->buf_) return -ENOMEM;
    ch->item_size_ = item_size;
    ch->cap_ = capacity;
    return 0;
}

void coro_chan_destroy(struct coro_chan *ch)
{
    if (!ch) return;
    free(ch->buf_);
    ch->buf_ = NULL;
}

static unsigned char *chan_slot(struct coro_chan *ch, size_t i)
{
    return ch->buf_ + ((ch->head_ + i) % ch->cap_) * ch->item_size_;
}

/* Sends without waiting: 0, -EPIPE or -EAGAIN (full). Lock held. */
static int chan_put(struct coro_chan *ch, const void *item)
{
    if (ch->closed_) return -EPIPE;
    struct coro_waiter *r = coro_waitq_head_(&ch->receivers_);
    if (r) { /* a receiver waits: the buffer is empty, give it the item */
        memcpy(r->item, item, ch->item_size_);
        coro_waitq_wake_one_(&ch->receivers_, 0);
        return 0;
    }
    if (ch->count_ == ch->cap_) return -EAGAIN;
    memcpy(chan_slot(ch, ch->count_), item, ch->item_size_);
    ch->count_++;
    return 0;
}

/* Receives without waiting: 0, -EPIPE (closed and drained) or -EAGAIN. */
static int chan_get(struct coro_chan *ch, void *item)
{
    if (ch->count_ == 0) return ch->closed_ ? -EPIPE : -EAGAIN;
    memcpy(item, chan_slot(ch, 0), ch->item_size_);
    ch->head_ = (ch->head_ + 1) % ch->cap_;
    ch->count_--;
    struct coro_waiter *s = coro_waitq_head_(&ch->senders_);
    if (s) { /* room again: take the oldest waiting sender's item */
        memcpy(chan_slot(ch, ch->count_), s->item, ch->item_size_);
        ch->count_++;
        coro_waitq_wake_one_(&ch->senders_, 0);
    }
    return 0;
}

int coro_chan_try_send(struct coro_chan *ch, const void *item)
{
    LOCK(ch);
    int rc = chan_put(ch, item);
    UNLOCK(ch);
    return rc;
}

int coro_chan_try_recv(struct coro_chan *ch, void *item)
{
    LOCK(ch);
    int rc = chan_get(ch, item);
    UNLOCK(ch);
    return rc;
}

int coro_chan_send_timeout(struct coro_chan *ch, const void *item, uint64_t ns)
{
    LOCK(ch);
    int rc = chan_put(ch, item);
    if (rc != -EAGAIN) { UNLOCK(ch); return rc; }
    return wait_here(&ch->lock_, &ch->senders_, (void *)item, ns);
}

int coro_chan_send(struct coro_chan *ch, const void *item) { return coro_chan_send_timeout(ch, item, CORO_NO_TIMEOUT); }

int coro_chan_recv_timeout(struct coro_chan *ch, void *item, uint64_t ns)
{
    LOCK(ch);
    int rc = chan_get(ch, item);
    if (rc != -EAGAIN) { UNLOCK(ch); return rc; }
    return wait_here(&ch->lock_, &ch->receivers_, item, ns);
}

int coro_chan_recv(struct coro_chan *ch, void *item) { return coro_chan_recv_timeout(ch, item, CORO_NO_TIMEOUT); }

int coro_chan_close(struct coro_chan *ch)
{
    LOCK(ch);
    if (ch->closed_) { UNLOCK(ch); return -EPIPE; }
    ch->closed_ = 1;
    while (coro_waitq_wake_one_(&ch->senders_, -EPIPE)) {}
    while (coro_waitq_wake_one_(&ch->receivers_, -EPIPE)) {}
    UNLOCK(ch);
    return 0;
}

size_t coro_chan_len(struct coro_chan *ch)
{
    LOCK(ch);
    size_t n = ch->count_;
    UNLOCK(ch);
    return n;
}

/* ---- wait group --------------------------------------------------------------- */

int coro_wait_group_init(struct coro_wait_group *wg)
{
    if (!wg) return -EINVAL;
    memset(wg, 0, sizeof *wg);
    return 0;
}

void coro_wait_group_destroy(struct coro_wait_group *wg) { (void)wg; }

int coro_wait_group_add(struct coro_wait_group *wg, long delta)
{
    LOCK(wg);
    long n = wg->count_ + delta;
    if (n < 0) { UNLOCK(wg); return -EINVAL; }
    wg->count_ = n;
    if (n == 0) while (coro_waitq_wake_one_(&wg->q_, 0)) {}
    UNLOCK(wg);
    return 0;
}

int coro_wait_group_done(struct coro_wait_group *wg) { return coro_wait_group_add(wg, -1); }

int coro_wait_group_wait_timeout(struct coro_wait_group *wg, uint64_t ns)
{
    LOCK(wg);
    if (wg->count_ == 0) { UNLOCK(wg); return 0; }
    return wait_here(&wg->lock_, &wg->q_, NULL, ns);
}

int coro_wait_group_wait(struct coro_wait_group *wg) { return coro_wait_group_wait_timeout(wg, CORO_NO_TIMEOUT); }
