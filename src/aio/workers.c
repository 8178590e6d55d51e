/*
 * The worker pool of a readiness ring: runs the ops that may block (regular
 * file I/O, fsync, path operations, close) so the loop thread never does.
 *
 * One pool per ring, no global state. Threads start lazily, when work arrives
 * and no thread is idle, up to AIO_WORKERS_MAX; a thread idle for
 * AIO_WORKER_IDLE_NS exits. Queued and finished ops are intrusive lists
 * through the slots' `wnext`, so handing work over never allocates. A worker
 * that finishes an op puts it on the finished list and, when that list was
 * empty, wakes the loop through the ring's wake-up descriptor, all under the
 * mutex: once the loop has collected an op, no worker touches the ring for it
 * again, so the ring may be destroyed as soon as nothing is in flight.
 */
#include "emul.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#define AIO_WORKER_IDLE_NS 2000000000ull

static void list_push(struct aio_emul *em, uint32_t *head, uint32_t *tail, uint32_t slot)
{
    em->es[slot].wnext = AIO_NO_SLOT;
    if (*tail == AIO_NO_SLOT) *head = slot;
    else em->es[*tail].wnext = slot;
    *tail = slot;
}

int aio_workers_init(struct aio_workers *w, struct aio_emul *em)
{
    memset(w, 0, sizeof *w);
    w->em = em;
    for (unsigned i = 0; i < AIO_WORKERS_MAX; i++) w->thread[i].pool = w;
    w->q_head = w->q_tail = w->fin_head = w->fin_tail = AIO_NO_SLOT;
    if (pthread_mutex_init(&w->mu, NULL) != 0) return -ENOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        pthread_mutex_destroy(&w->mu);
        return -ENOMEM;
    }
    w->started = true;
    return 0;
}

static void *worker_main(void *p)
{
    struct aio_worker_thread *me = p;
    struct aio_workers *w = me->pool;
    struct aio_emul *em = w->em;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->q_head == AIO_NO_SLOT && !w->stop) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            uint64_t ns = (uint64_t)until.tv_nsec + AIO_WORKER_IDLE_NS;
            until.tv_sec += (time_t)(ns / 1000000000u);
            until.tv_nsec = (long)(ns % 1000000000u);
            w->idle++;
            int rc = pthread_cond_timedwait(&w->cv, &w->mu, &until);
            w->idle--;
            if (rc == ETIMEDOUT && w->q_head == AIO_NO_SLOT) goto out;
        }
        if (w->q_head == AIO_NO_SLOT) break; /* stopping, nothing left */
        uint32_t s = w->q_head;
        w->q_head = em->es[s].wnext;
        if (w->q_head == AIO_NO_SLOT) w->q_tail = AIO_NO_SLOT;
        em->es[s].wstate = WK_RUNNING;
        pthread_mutex_unlock(&w->mu);

        int res = aio_emul_run_blocking(em, s);

        pthread_mutex_lock(&w->mu);
        em->es[s].wresult = res;
        em->es[s].wstate = WK_FINISHED;
        bool was_empty = w->fin_head == AIO_NO_SLOT;
        list_push(em, &w->fin_head, &w->fin_tail, s);
        if (was_empty) aio_emul_wake_loop(em);
    }
out:
    me->state = 2; /* exited: the next start or fini joins it */
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Starts a thread in a free place; called with the mutex held. */
static int start_thread(struct aio_workers *w)
{
    for (unsigned i = 0; i < AIO_WORKERS_MAX; i++) {
        if (w->thread[i].state == 1) continue;
        if (w->thread[i].state == 2) {
            /* it has left its loop; join returns as soon as it has returned */
            pthread_join(w->thread[i].tid, NULL);
            w->thread[i].state = 0;
        }
        /* Workers take no signals: those are for the application's threads. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int rc = pthread_create(&w->thread[i].tid, NULL, worker_main, &w->thread[i]);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc != 0) return -rc;
        w->thread[i].state = 1;
        return 0;
    }
    return -EAGAIN; /* all places busy: the work waits for a running thread */
}

int aio_workers_push(struct aio_workers *w, uint32_t slot)
{
    struct aio_emul *em = w->em;
    pthread_mutex_lock(&w->mu);
    unsigned running = 0;
    for (unsigned i = 0; i < AIO_WORKERS_MAX; i++) running += w->thread[i].state == 1;
    em->es[slot].wstate = WK_QUEUED;
    list_push(em, &w->q_head, &w->q_tail, slot);
    int rc = 0;
    if (w->idle > 0) pthread_cond_signal(&w->cv);
    else if (running < AIO_WORKERS_MAX) {
        rc = start_thread(w);
        if (rc != 0 && running > 0) rc = 0; /* a running thread will get to it */
        if (rc != 0) {
            /* Nobody can run it: take it back. With no thread running the
             * queue held nothing else (threads leave only when it is empty). */
            w->q_head = w->q_tail = AIO_NO_SLOT;
            em->es[slot].wstate = 0;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

bool aio_workers_unqueue(struct aio_workers *w, uint32_t slot)
{
    struct aio_emul *em = w->em;
    bool removed = false;
    pthread_mutex_lock(&w->mu);
    if (em->es[slot].wstate == WK_QUEUED) {
        uint32_t prev = AIO_NO_SLOT;
        for (uint32_t s = w->q_head; s != AIO_NO_SLOT; prev = s, s = em->es[s].wnext) {
            if (s != slot) continue;
            uint32_t next = em->es[s].wnext;
            if (prev == AIO_NO_SLOT) w->q_head = next;
            else em->es[prev].wnext = next;
            if (w->q_tail == s) w->q_tail = prev;
            em->es[s].wstate = 0;
            removed = true;
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return removed;
}

void aio_workers_collect(struct aio_workers *w, void (*fn)(struct aio_emul *, uint32_t, int))
{
    struct aio_emul *em = w->em;
    pthread_mutex_lock(&w->mu);
    uint32_t s = w->fin_head;
    w->fin_head = w->fin_tail = AIO_NO_SLOT;
    /* copy the results out while the lock is held: the slots are the loop's again */
    for (uint32_t t = s; t != AIO_NO_SLOT; t = em->es[t].wnext) {
        em->es[t].wstate = 0;
        em->es[t].result = em->es[t].wresult;
    }
    pthread_mutex_unlock(&w->mu);
    while (s != AIO_NO_SLOT) {
        uint32_t next = em->es[s].wnext;
        fn(em, s, em->es[s].result);
        s = next;
    }
}

void aio_workers_fini(struct aio_workers *w)
{
    if (!w->started) return;
    bool join[AIO_WORKERS_MAX];
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    for (unsigned i = 0; i < AIO_WORKERS_MAX; i++) join[i] = w->thread[i].state != 0;
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < AIO_WORKERS_MAX; i++) {
        if (join[i]) pthread_join(w->thread[i].tid, NULL);
        w->thread[i].state = 0; /* after join: the thread is gone */
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    w->started = false;
}
