/* An outside coroutine program: a task runs one op and a sleep through the
 * installed caio::coro. Exit status 0 only if the task really ran both. */
#include <aio/aio.h>
#include <coro/coro.h>
#include <stdint.h>
#include <stdio.h>

static void *task(void *arg)
{
    int *result = arg;
    int a = coro_io_single(AIO_NOP());
    int b = coro_sleep(1000000);
    *result = a == 0 && b == 0 ? 0 : 1;
    return (void *)(intptr_t)42;
}

int main(void)
{
    struct coro_scheduler *sched;
    struct coro_task *t;
    int result = 1;
    void *ret = NULL;
    if (coro_scheduler_create(&sched, NULL) || coro_spawn(sched, task, &result, NULL, &t) || coro_run(sched)) return 1;
    int joined = coro_task_join(t, &ret);
    coro_scheduler_destroy(sched);
    printf("caio coro consumer: task result %d, joined %d, returned %d\n", result, joined, (int)(intptr_t)ret);
    return result == 0 && joined == 0 && ret == (void *)(intptr_t)42 ? 0 : 1;
}
