/*
 * coro_blocking: a small pool of worker threads per scheduler, started on
 * demand up to a maximum, for code that must block (a library call, a DNS
 * lookup, CPU work) without stopping the loop. The job lives on the waiting
 * task's stack; the worker wakes the task through the loop's remote queue.
 *
 * (The readiness backend has a file-work pool of its own inside caio::aio;
 * it is internal to that library, so coro keeps this one.)
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct coro_blocking_job {
    struct coro_blocking_job *next;
    void *(*fn)(void *);
    void *arg;
    void *result;
    struct coro_task *task;
    int lock;                   /* held until the task has switched away */
};

static void *worker_main(void *arg)
{
    struct coro_blocking_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stop) {
            p->idle++;
            pthread_cond_wait(&p->cv, &p->lock);
            p->idle--;
        }
        struct coro_blocking_job *j = p->head;
        if (!j) break;
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        pthread_mutex_unlock(&p->lock);

        j->result = j->fn(j->arg);
        coro_spin_lock(&j->lock);
        struct coro_task *t = j->task;
        coro_spin_unlock(&j->lock);
        coro_wake_(t); /* j may be gone once t runs: read before */

        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int coro_blocking_pool_init(struct coro_blocking_pool *p, unsigned max)
{
    memset(p, 0, sizeof *p);
    p->max = max;
    p->tids = calloc(max, sizeof *p->tids);
    if (!p->tids) return -ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cv, NULL);
    return 0;
}

void coro_blocking_pool_fini(struct coro_blocking_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->threads; i++) pthread_join(p->tids[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->lock);
    free(p->tids);
}

/* Queues j, starting a worker if none is idle; 0 or -errno. */
static int submit(struct coro_blocking_pool *p, struct coro_blocking_job *j)
{
    pthread_mutex_lock(&p->lock);
    if (p->idle == 0 && p->threads < p->max) {
        /* workers take no signals: those belong to the application's threads */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int rc = pthread_create(&p->tids[p->threads], NULL, worker_main, p);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc == 0) p->threads++;
        else if (p->threads == 0) { pthread_mutex_unlock(&p->lock); return -rc; }
    }
    j->next = NULL;
    if (p->tail) p->tail->next = j;
    else p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

int coro_blocking(void *(*fn)(void *), void *arg, void **result)
{
    if (!fn) return -EINVAL;
    struct coro_task *t = coro_self_();
    if (!t) {
        void *r = fn(arg);
        if (result) *result = r;
        return 0;
    }
    struct coro_loop *L = t->loop;
    struct coro_blocking_job j = { .fn = fn, .arg = arg, .task = t, .lock = 1 };
    int rc = submit(&L->sched->blocking, &j);
    if (rc) return rc;
    t->parked = NULL; /* not interruptible: the function runs to its end */
    t->state = CORO_T_PARKED;
    L->post_unlock = &j.lock;
    coro_suspend_(t);
    if (result) *result = j.result;
    return 0;
}
