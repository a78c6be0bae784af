/* Unit tests for src/skill/skill.c outside HTTP: the skill file-path check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "skill/skill.h"

/* ---- skill file paths ----------------------------------------------------------------- */

static void skill_relpaths(void **state)
{
    assert_true(cg_skill_safe_relpath("SKILL.md"));
    assert_true(cg_skill_safe_relpath("docs/guide.md"));
    assert_true(cg_skill_safe_relpath("a-b_c/d.e/f"));
    const char *bad[] = {NULL,           "",        "/etc/passwd", "..",      "../x",
                         "docs/../../x", "docs//x", "docs/",       ".hidden", "docs/.git/config",
                         "a\\b",         "a\nb",    "./x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(cg_skill_safe_relpath(bad[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(skill_relpaths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
