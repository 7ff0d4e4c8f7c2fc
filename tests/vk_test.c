#include "vk_test.h"

#include <stdio.h>

#include "rng.h"
#include "src/half.h"

unsigned vk_test_messages;

void vk_test_on_message(void *user, const char *message)
{
    (void)user;
    ++vk_test_messages;
    fprintf(stderr, "validation: %s\n", message);
}

vkattn_context vk_test_context(void)
{
    vkattn_context ctx = NULL;
    vkattn_context_desc desc = {.validation = true, .on_message = vk_test_on_message};
    if (vkattn_context_create(&desc, &ctx) != VKATTN_SUCCESS || vkattn_context_is_cpu(ctx)) {
        fprintf(stderr, "no Vulkan device: skipped\n");
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

vkattn_context_desc vk_test_borrowed_desc(vkattn_context owner)
{
    /* No ck_assert: this may run outside a test (then a failure shows as the context's). */
    vkattn_vulkan_handles h = {0};
    vkattn_context_vulkan(owner, &h);
    vkattn_device_info info = {0};
    vkattn_context_device_info(owner, &info);
    return (vkattn_context_desc){
        .kind = VKATTN_DEVICE_BORROWED,
        .on_message = vk_test_on_message,
        .instance = h.instance,
        .physical_device = h.physical_device,
        .device = h.device,
        .queue_family = h.queue_family,
        .queue = h.queue,
        .get_instance_proc_addr = h.get_instance_proc_addr,
        .push_descriptors_enabled = info.push_descriptors,
        .storage_16bit_enabled = info.fp16_storage,
    };
}

void vk_test_fill_qkv(vkattn_dtype dtype, uint64_t seed, void *q, size_t nq, void *k, void *v,
                      size_t nk)
{
    rng g;
    rng_seed(&g, seed);
    void *bufs[3] = {q, k, v};
    const size_t ns[3] = {nq, nk, nk};
    for (int t = 0; t < 3; ++t)
        for (size_t i = 0; i < ns[t]; ++i) {
            const float x = (float)rng_normal(&g);
            if (dtype == VKATTN_DTYPE_F16)
                ((uint16_t *)bufs[t])[i] = float_to_half(x);
            else
                ((float *)bufs[t])[i] = x;
        }
}
