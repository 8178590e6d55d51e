/*
 * A stand-in for the part of Criterion's API that caio's tests use, for the
 * ThreadSanitizer build only: Criterion's runner cannot start under TSan
 * (Snaipe/Criterion#274, "Could not initialize inheritable arena"). Tests run
 * in one process, one after another, each under alarm() when it sets
 * .timeout; the first failed assertion ends the process with status 1.
 */
#ifndef CAIO_TSAN_SHIM_CRITERION_H
#define CAIO_TSAN_SHIM_CRITERION_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct shim_test {
    const char *suite_name, *test_name;
    void (*fn)(void);
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    int signal, exit_code;
    bool disabled;
    const char *description;
    struct shim_test *next;
};
struct shim_suite {
    const char *suite_name;
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    bool disabled;
    const char *description;
    struct shim_suite *next;
};

void shim_register_test(struct shim_test *t);
void shim_register_suite(struct shim_suite *s);
/* Without a message, assertions pass "" as the format: keep printf checking
 * of real messages, but not gcc's complaint about an empty format. */
#pragma GCC diagnostic ignored "-Wformat-zero-length"
_Noreturn void shim_fail(const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define Test(suite, name, ...)                                                             \
    static void shim_fn_##suite##_##name(void);                                            \
    static struct shim_test shim_t_##suite##_##name = {                                    \
        .suite_name = #suite, .test_name = #name, .fn = shim_fn_##suite##_##name, __VA_ARGS__ };     \
    __attribute__((constructor)) static void shim_reg_##suite##_##name(void)               \
    { shim_register_test(&shim_t_##suite##_##name); }                                      \
    static void shim_fn_##suite##_##name(void)

#define TestSuite(suite, ...)                                                              \
    static struct shim_suite shim_s_##suite = { .suite_name = #suite, __VA_ARGS__ };       \
    __attribute__((constructor)) static void shim_sreg_##suite(void)                       \
    { shim_register_suite(&shim_s_##suite); }

#define SHIM_CHECK(cond, expr, ...) \
    do { if (!(cond)) shim_fail(__FILE__, __LINE__, expr, "" __VA_ARGS__); } while (0)

#define cr_assert(c, ...) SHIM_CHECK((c), #c, __VA_ARGS__)
#define cr_assert_not(c, ...) SHIM_CHECK(!(c), "!(" #c ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...) SHIM_CHECK((a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) SHIM_CHECK((a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) SHIM_CHECK((a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) SHIM_CHECK((a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) SHIM_CHECK((a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) SHIM_CHECK((a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...) SHIM_CHECK((p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) SHIM_CHECK((p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) SHIM_CHECK(strcmp((a), (b)) == 0, #a " eq " #b, __VA_ARGS__)
#define cr_assert_arr_eq(a, b, n, ...) SHIM_CHECK(memcmp((a), (b), (n)) == 0, #a " eq " #b, __VA_ARGS__)
#define cr_fail(...) shim_fail(__FILE__, __LINE__, "cr_fail", "" __VA_ARGS__)
#define cr_log_info(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))

#endif
