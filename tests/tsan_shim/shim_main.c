/* The runner of the TSan stand-in for Criterion (see criterion/criterion.h). */
#include "criterion/criterion.h"

#include <signal.h>
#include <stdarg.h>
#include <unistd.h>

static struct shim_test *tests;
static struct shim_suite *suites;
static const struct shim_test *running;

void shim_register_test(struct shim_test *t) { t->next = tests; tests = t; }
void shim_register_suite(struct shim_suite *s) { s->next = suites; suites = s; }

void shim_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
    fprintf(stderr, "[FAIL] %s::%s: %s:%d: assertion failed: %s", running ? running->suite_name : "?",
            running ? running->test_name : "?", file, line, expr);
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs(": ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    exit(1);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "[FAIL] a test ran past its .timeout\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(1);
}

static const struct shim_suite *suite_of(const struct shim_test *t)
{
    for (const struct shim_suite *s = suites; s; s = s->next)
        if (strcmp(s->suite_name, t->suite_name) == 0) return s;
    return NULL;
}

int main(void)
{
    /* registration ran in reverse: restore source order */
    struct shim_test *ordered = NULL;
    while (tests) { struct shim_test *t = tests; tests = t->next; t->next = ordered; ordered = t; }
    signal(SIGALRM, on_alarm);
    int ran = 0;
    for (struct shim_test *t = ordered; t; t = t->next) {
        const struct shim_suite *s = suite_of(t);
        if (t->disabled || (s && s->disabled)) continue;
        running = t;
        double timeout = t->timeout ? t->timeout : s && s->timeout ? s->timeout : 60;
        alarm((unsigned)timeout + 1);
        if (s && s->init) s->init();
        if (t->init) t->init();
        t->fn();
        if (t->fini) t->fini();
        if (s && s->fini) s->fini();
        alarm(0);
        fprintf(stderr, "[PASS] %s::%s\n", t->suite_name, t->test_name);
        ran++;
    }
    fprintf(stderr, "%d passed, 0 failed\n", ran);
    return 0;
}
