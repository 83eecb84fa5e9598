/* test_params.c - "key=value" hyperparameters (parsing, typed getters, choices, unknown keys,
 * printing back) and the estimator registry. */
#include <limits.h>

#include "check.h"
#include "models/estimator.h"

static void test_parse(void) {
    assay_params p;
    assay_error err;
    CHECK_OK(assay_params_parse("  C = 0.5 , penalty=l1,max_iter=20 ", &p, &err), &err);
    CHECK(p.n == 3);
    CHECK_STR(assay_params_get(&p, "C"), "0.5");
    CHECK_STR(assay_params_get(&p, "penalty"), "l1");
    CHECK_STR(assay_params_get(&p, "max_iter"), "20");
    CHECK(assay_params_get(&p, "tol") == NULL);
    char *s = assay_params_to_string(&p);
    CHECK_STR(s, "C=0.5,penalty=l1,max_iter=20");
    assay_free(s);
    CHECK_OK(assay_params_set(&p, "C", "2", &err), &err);
    CHECK_OK(assay_params_set(&p, "tol", "1e-4", &err), &err);
    s = assay_params_to_string(&p);
    CHECK_STR(s, "C=2,penalty=l1,max_iter=20,tol=1e-4");
    assay_free(s);
    CHECK(assay_params_set(&p, "", "1", &err) == ASSAY_EINVAL);
    assay_params_deinit(&p);
    assay_params_deinit(&p); /* idempotent */

    CHECK_OK(assay_params_parse(NULL, &p, &err), &err);
    CHECK(p.n == 0);
    s = assay_params_to_string(&p);
    CHECK_STR(s, "");
    assay_free(s);
    CHECK_OK(assay_params_parse("   ", &p, &err), &err);
    CHECK(p.n == 0);
    CHECK_OK(assay_params_parse("k=", &p, &err), &err); /* empty value: the getters judge it */
    CHECK(p.n == 1 && strcmp(assay_params_get(&p, "k"), "") == 0);
    assay_params_deinit(&p);

    struct {
        const char *spec, *msg;
    } bad[] = {
        {"=1", "empty key"},
        {" =1", "empty key"},
        {"a=1,=2", "empty key"},
        {"C", "has no '='"},
        {"a=1,b", "'b' has no '='"},
        {"a=1,,b=2", "empty item"},
        {"a=1,", "empty item"},
        {"a=1,a=2", "'a' given twice"},
        {"a=1, a =2", "'a' given twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p.n = 99;
        int rc = assay_params_parse(bad[i].spec, &p, &err);
        CHECK_MSG(rc == ASSAY_EINVAL, "'%s' accepted", bad[i].spec);
        CHECK_MSG(strstr(err.msg, bad[i].msg) != NULL, "'%s': %s", bad[i].spec, err.msg);
        CHECK(p.n == 0 && p.keys == NULL); /* nothing left to free */
    }
}

static void test_getters(void) {
    assay_params p;
    assay_error err;
    CHECK_OK(assay_params_parse("x=2.5,i=7,bad=abc,big=1e999,neg=-3,frac=1.5,pen=l1", &p, &err), &err);
    double d;
    long l;
    int c;
    CHECK_OK(assay_params_double(&p, "x", 1, 0, 10, &d, &err), &err);
    CHECK(d == 2.5);
    CHECK_OK(assay_params_double(&p, "absent", 1.25, 0, 10, &d, &err), &err);
    CHECK(d == 1.25);
    CHECK(assay_params_double(&p, "x", 1, 3, 10, &d, &err) == ASSAY_EINVAL);
    CHECK_STR(err.msg, "x must be a number in [3, 10], got '2.5'");
    CHECK(assay_params_double(&p, "bad", 1, 0, INFINITY, &d, &err) == ASSAY_EINVAL);
    CHECK_STR(err.msg, "bad must be a number >= 0, got 'abc'");
    CHECK(assay_params_double(&p, "big", 1, -INFINITY, INFINITY, &d, &err) == ASSAY_EINVAL);
    CHECK_OK(assay_params_int(&p, "i", 1, 0, 10, &l, &err), &err);
    CHECK(l == 7);
    CHECK(assay_params_int(&p, "frac", 1, 0, 10, &l, &err) == ASSAY_EINVAL);
    CHECK_STR(err.msg, "frac must be an integer in [0, 10], got '1.5'");
    CHECK(assay_params_int(&p, "neg", 1, 0, LONG_MAX, &l, &err) == ASSAY_EINVAL);
    CHECK_STR(err.msg, "neg must be an integer >= 0, got '-3'");
    CHECK_OK(assay_params_int(&p, "absent", 42, 0, 10, &l, &err), &err);
    CHECK(l == 42);
    const char *const pens[] = {"l2", "l1", "none", NULL};
    CHECK_OK(assay_params_choice(&p, "pen", pens, 0, &c, &err), &err);
    CHECK(c == 1);
    CHECK_OK(assay_params_choice(&p, "absent", pens, 2, &c, &err), &err);
    CHECK(c == 2);
    CHECK(assay_params_choice(&p, "bad", pens, 0, &c, &err) == ASSAY_EINVAL);
    CHECK_STR(err.msg, "bad must be one of l2|l1|none, got 'abc'");
    const char *const known[] = {"x", "i", "bad", "big", "neg", "frac", "pen", NULL};
    CHECK_OK(assay_params_check_known(&p, known, "m", &err), &err);
    const char *const fewer[] = {"x", "i", NULL};
    CHECK(assay_params_check_known(&p, fewer, "logreg", &err) == ASSAY_EINVAL);
    CHECK_MSG(strstr(err.msg, "model 'logreg' has no parameter 'bad'") != NULL, "%s", err.msg);
    assay_params_deinit(&p);
}

static void test_registry(void) {
    int n = assay_model_kind_count();
    CHECK(n >= 3);
    int seen = 0;
    for (int i = 0; i < n; i++) {
        const char *name = assay_model_kind_name(i);
        CHECK(name && assay_model_kind_summary(i) && *assay_model_kind_summary(i));
        CHECK(assay__estimator_find(name) != NULL);
        seen += !strcmp(name, "logreg") + !strcmp(name, "linear") + !strcmp(name, "ridge");
    }
    CHECK(seen == 3);
    CHECK(assay_model_kind_name(n) == NULL && assay_model_kind_name(-1) == NULL);
    CHECK(assay__estimator_find("nope") == NULL && assay__estimator_find(NULL) == NULL);
    CHECK(assay_model_kind_supports("logreg", ASSAY_TASK_BINARY) == 1);
    CHECK(assay_model_kind_supports("logreg", ASSAY_TASK_MULTICLASS) == 1);
    CHECK(assay_model_kind_supports("logreg", ASSAY_TASK_REGRESSION) == 0);
    CHECK(assay_model_kind_supports("ridge", ASSAY_TASK_REGRESSION) == 1);
    CHECK(assay_model_kind_supports("linear", ASSAY_TASK_BINARY) == 0);
    CHECK(assay_model_kind_supports("nope", ASSAY_TASK_BINARY) == -1);
}

/* Every allocation of a parse fails in turn: clean error, nothing leaked (ASan checks). */
static void test_alloc_failures(void) {
    assay_error err;
    for (uint64_t k = 1; k < 40; k++) {
        assay_params p;
        assay_alloc_fail_after(k);
        int rc = assay_params_parse("a=1,b=2,c=3", &p, &err);
        assay_alloc_fail_after(0);
        if (rc == ASSAY_OK) {
            CHECK(p.n == 3);
            assay_params_deinit(&p);
            break;
        }
        CHECK(rc == ASSAY_ENOMEM && p.n == 0);
    }
}

int main(void) {
    RUN(test_parse);
    RUN(test_getters);
    RUN(test_registry);
    RUN(test_alloc_failures);
    return check_summary();
}
