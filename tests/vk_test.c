#include "vk_test.h"

#include <stdio.h>

unsigned vk_test_messages;

void vk_test_on_message(void *user, const char *message)
{
    (void)user;
    ++vk_test_messages;
    fprintf(stderr, "validation: %s\n", message);
}

vkattn_context vk_test_context(bool need_f16)
{
    vkattn_context ctx = NULL;
    vkattn_context_desc desc = {.validation = true, .on_message = vk_test_on_message};
    if (vkattn_context_create(&desc, &ctx) != VKATTN_SUCCESS || vkattn_context_is_cpu(ctx)) {
        fprintf(stderr, "no Vulkan device: skipped\n");
        vkattn_context_destroy(ctx);
        return NULL;
    }
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    if (need_f16 && !info.fp16_storage) {
        fprintf(stderr, "no 16-bit storage: skipped\n");
        vkattn_context_destroy(ctx);
        return NULL;
    }
    return ctx;
}

int vk_test_run(Suite *s, vkattn_context ctx)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    vkattn_context_destroy(ctx);
    return failed == 0 && vk_test_messages == 0 ? 0 : 1;
}
