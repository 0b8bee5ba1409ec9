/* Minimal unit-test harness: ASSERT_* macros that report file:line and the
 * values, TEST() registration by listing, and a closing line that ctest and
 * CI both read ("N passed, N failed"). One executable per module. */
#ifndef CALLBUS_TEST_H
#define CALLBUS_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define ASSERT_TRUE(cond)                                                                          \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);           \
            test_failures++;                                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)
#define ASSERT_EQ_INT(a, b)                                                                        \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        test_checks++;                                                                             \
        if (va_ != vb_) {                                                                          \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    va_, vb_);                                                                     \
            test_failures++;                                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)
#define ASSERT_EQ_STR(a, b)                                                                        \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        test_checks++;                                                                             \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                               \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a,  \
                    #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                               \
            test_failures++;                                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

typedef void (*test_fn)(void);
typedef struct {
    const char *name;
    test_fn fn;
} test_case_t;
#define TEST_CASE(fn)                                                                              \
    {                                                                                              \
#fn, fn                                                                                    \
    }

/* Runs every case; a case fails when it left a failed assertion. */
static inline int test_run_all(const char *suite, const test_case_t *cases, size_t n)
{
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        int before = test_failures;
        cases[i].fn();
        if (test_failures > before) {
            failed++;
            fprintf(stderr, "FAIL %s.%s\n", suite, cases[i].name);
        } else {
            passed++;
            printf("ok   %s.%s\n", suite, cases[i].name);
        }
    }
    printf("%s: %d passed, %d failed\n", suite, passed, failed);
    return failed ? 1 : 0;
}
#define TEST_MAIN(suite, ...)                                                                      \
    int main(void)                                                                                 \
    {                                                                                              \
        static const test_case_t cases_[] = {__VA_ARGS__};                                         \
        return test_run_all(suite, cases_, sizeof cases_ / sizeof cases_[0]);                      \
    }

#endif
