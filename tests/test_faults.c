/* Vulkan failures the library cannot provoke on a healthy device: device loss and out-of-memory.
 *
 * A borrowed context is given a get_instance_proc_addr that hands out the real Vulkan entry points
 * except for a few device functions, which are wrapped so that a test can make the next call fail
 * with a chosen VkResult. Every test checks that the failure comes back as the matching vkattn code
 * with a message naming the Vulkan call, that the context works again (same results as the CPU
 * reference) once Vulkan does, and that destroying a context right after a failure is clean. The
 * validation layer is on and any message fails. Exits 77 (SKIP) without a Vulkan device.
 *
 * A "lost" wait first really waits and then reports the loss, so the fence is not left pending
 * (which a real lost device would not care about, but the validation layer would). A failed
 * creation writes a garbage handle to its output, as the spec allows. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_test.h"
#include "vkattn/vkattn.h"

typedef enum fault_site {
    SITE_NONE,
    SITE_SUBMIT,   /* vkQueueSubmit returns the fault without submitting */
    SITE_WAIT,     /* vkWaitForFences waits, then returns the fault */
    SITE_ALLOC,    /* vkAllocateMemory */
    SITE_BUFFER,   /* vkCreateBuffer */
    SITE_PIPELINE, /* vkCreateComputePipelines */
} fault_site;

static struct {
    fault_site site;
    VkResult result;
    unsigned hits; /* how often the fault was delivered */
    PFN_vkGetInstanceProcAddr gipa;
    PFN_vkGetDeviceProcAddr gdpa;
    PFN_vkQueueSubmit submit;
    PFN_vkWaitForFences wait;
    PFN_vkAllocateMemory alloc;
    PFN_vkCreateBuffer create_buffer;
    PFN_vkCreateComputePipelines create_pipelines;
} fault;

/* What a failed creation leaves in its output: undefined by the spec (pipelines aside), so a
 * library that keeps it would later destroy a handle that does not exist. */
#define GARBAGE UINT64_C(0xdeadbeef0000)

static vkattn_context owner; /* owns the instance and device the faulty contexts borrow */
static unsigned messages;

static void on_message(void *user, const char *message)
{
    (void)user;
    ++messages;
    fprintf(stderr, "validation: %s\n", message);
}

/* Whether the wrapped call at site should fail now (one failure per arming). */
static bool take(fault_site site)
{
    if (fault.site != site)
        return false;
    fault.site = SITE_NONE;
    ++fault.hits;
    return true;
}

static VKAPI_ATTR VkResult VKAPI_CALL faulty_submit(VkQueue q, uint32_t n, const VkSubmitInfo *si,
                                                    VkFence f)
{
    return take(SITE_SUBMIT) ? fault.result : fault.submit(q, n, si, f);
}

static VKAPI_ATTR VkResult VKAPI_CALL faulty_wait(VkDevice d, uint32_t n, const VkFence *f,
                                                  VkBool32 all, uint64_t timeout)
{
    VkResult vr = fault.wait(d, n, f, all, timeout);
    return vr == VK_SUCCESS && take(SITE_WAIT) ? fault.result : vr;
}

static VKAPI_ATTR VkResult VKAPI_CALL faulty_alloc(VkDevice d, const VkMemoryAllocateInfo *ai,
                                                   const VkAllocationCallbacks *cb,
                                                   VkDeviceMemory *m)
{
    if (!take(SITE_ALLOC))
        return fault.alloc(d, ai, cb, m);
    *m = (VkDeviceMemory)(uintptr_t)GARBAGE;
    return fault.result;
}

static VKAPI_ATTR VkResult VKAPI_CALL faulty_buffer(VkDevice d, const VkBufferCreateInfo *ci,
                                                    const VkAllocationCallbacks *cb, VkBuffer *b)
{
    if (!take(SITE_BUFFER))
        return fault.create_buffer(d, ci, cb, b);
    *b = (VkBuffer)(uintptr_t)GARBAGE;
    return fault.result;
}

static VKAPI_ATTR VkResult VKAPI_CALL faulty_pipelines(VkDevice d, VkPipelineCache cache,
                                                       uint32_t n,
                                                       const VkComputePipelineCreateInfo *ci,
                                                       const VkAllocationCallbacks *cb,
                                                       VkPipeline *out)
{
    if (!take(SITE_PIPELINE))
        return fault.create_pipelines(d, cache, n, ci, cb, out);
    for (uint32_t i = 0; i < n; ++i)
        out[i] = VK_NULL_HANDLE; /* what the spec asks of a failed creation */
    return fault.result;
}

static VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL faulty_gdpa(VkDevice d, const char *name)
{
    if (strcmp(name, "vkQueueSubmit") == 0)
        return (PFN_vkVoidFunction)faulty_submit;
    if (strcmp(name, "vkWaitForFences") == 0)
        return (PFN_vkVoidFunction)faulty_wait;
    if (strcmp(name, "vkAllocateMemory") == 0)
        return (PFN_vkVoidFunction)faulty_alloc;
    if (strcmp(name, "vkCreateBuffer") == 0)
        return (PFN_vkVoidFunction)faulty_buffer;
    if (strcmp(name, "vkCreateComputePipelines") == 0)
        return (PFN_vkVoidFunction)faulty_pipelines;
    return fault.gdpa(d, name);
}

static VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL faulty_gipa(VkInstance inst, const char *name)
{
    if (strcmp(name, "vkGetDeviceProcAddr") == 0)
        return (PFN_vkVoidFunction)faulty_gdpa;
    return fault.gipa(inst, name);
}

/* A context on the owner's device that reaches Vulkan through the wrappers. */
static vkattn_context faulty_context(void)
{
    vkattn_context_desc d = vk_test_borrowed_desc(owner);
    d.get_instance_proc_addr = faulty_gipa;
    d.on_message = NULL;
    vkattn_context c = NULL;
    ck_assert_int_eq(vkattn_context_create(&d, &c), VKATTN_SUCCESS);
    return c;
}

/* One small problem with its inputs, the CPU reference's answer and a buffer for the GPU's. */
typedef struct sample {
    vkattn_problem p;
    float q[2 * 9 * 32], k[2 * 40 * 32], v[2 * 40 * 32], want[2 * 9 * 32], out[2 * 9 * 32];
    vkattn_host_tensors t;
} sample;

static void sample_init(sample *s)
{
    memset(s, 0, sizeof *s);
    s->p.batch = 1;
    s->p.heads_q = 2;
    s->p.seq_q = 9;
    s->p.seq_kv = 40;
    s->p.head_dim = 32;
    s->p.causal = true;
    for (size_t i = 0; i < sizeof s->k / sizeof s->k[0]; ++i) {
        s->k[i] = (float)((i * 37u) % 17u) / 17.0f - 0.5f;
        s->v[i] = (float)((i * 11u) % 23u) / 23.0f - 0.5f;
    }
    for (size_t i = 0; i < sizeof s->q / sizeof s->q[0]; ++i)
        s->q[i] = (float)((i * 5u) % 13u) / 13.0f - 0.5f;
    vkattn_host_tensors want = {.q = s->q, .k = s->k, .v = s->v, .out = s->want};
    ck_assert_int_eq(vkattn_reference(&s->p, &want, NULL, 0), VKATTN_SUCCESS);
    s->t = (vkattn_host_tensors){.q = s->q, .k = s->k, .v = s->v, .out = s->out};
}

/* Runs the sample on c and checks the result against the reference (f32 bound of SPEC). */
static void expect_works(vkattn_context c, sample *s)
{
    for (size_t i = 0; i < sizeof s->out / sizeof s->out[0]; ++i)
        s->out[i] = NAN;
    ck_assert_msg(vkattn_attention(c, &s->p, &s->t) == VKATTN_SUCCESS, "%s",
                  vkattn_context_message(c));
    for (size_t i = 0; i < sizeof s->out / sizeof s->out[0]; ++i)
        ck_assert_msg(fabsf(s->out[i] - s->want[i]) <= 1e-5f, "out[%zu] = %g, want %g", i,
                      (double)s->out[i], (double)s->want[i]);
}

/* Arms site with vr, runs the sample on c and checks the code and the message. */
static void expect_fault(vkattn_context c, sample *s, fault_site site, VkResult vr,
                         vkattn_result code, const char *call)
{
    unsigned hits = fault.hits;
    fault.site = site;
    fault.result = vr;
    vkattn_result res = vkattn_attention(c, &s->p, &s->t);
    fault.site = SITE_NONE;
    ck_assert_msg(fault.hits == hits + 1, "the %s fault was never reached", call);
    ck_assert_int_eq(res, code);
    ck_assert_msg(strstr(vkattn_context_message(c), call) != NULL, "message \"%s\" names no %s",
                  vkattn_context_message(c), call);
}

static void setup(void)
{
    messages = 0;
    fault.site = SITE_NONE;
}

static void teardown(void)
{
    ck_assert_msg(messages == 0, "%u validation message(s)", messages);
}

START_TEST(device_lost_at_wait_is_returned_and_context_recovers)
{
    vkattn_context c = faulty_context();
    sample s;
    sample_init(&s);
    expect_works(c, &s); /* pipelines and buffers exist before the loss */
    expect_fault(c, &s, SITE_WAIT, VK_ERROR_DEVICE_LOST, VKATTN_ERROR_DEVICE_LOST,
                 "vkWaitForFences");
    expect_works(c, &s);
    vkattn_context_destroy(c);
}
END_TEST

START_TEST(device_lost_at_submit_is_returned_and_context_recovers)
{
    vkattn_context c = faulty_context();
    sample s;
    sample_init(&s);
    expect_fault(c, &s, SITE_SUBMIT, VK_ERROR_DEVICE_LOST, VKATTN_ERROR_DEVICE_LOST,
                 "vkQueueSubmit");
    expect_works(c, &s);
    expect_fault(c, &s, SITE_SUBMIT, VK_ERROR_OUT_OF_DEVICE_MEMORY,
                 VKATTN_ERROR_OUT_OF_DEVICE_MEMORY, "vkQueueSubmit");
    expect_works(c, &s);
    vkattn_context_destroy(c);
}
END_TEST

START_TEST(out_of_device_memory_at_allocation_is_returned)
{
    vkattn_context c = faulty_context();
    sample s;
    sample_init(&s);
    expect_fault(c, &s, SITE_ALLOC, VK_ERROR_OUT_OF_DEVICE_MEMORY,
                 VKATTN_ERROR_OUT_OF_DEVICE_MEMORY, "vkAllocateMemory");
    expect_works(c, &s);
    vkattn_context_destroy(c);
}
END_TEST

START_TEST(out_of_host_memory_at_buffer_creation_is_returned)
{
    vkattn_context c = faulty_context();
    sample s;
    sample_init(&s);
    expect_fault(c, &s, SITE_BUFFER, VK_ERROR_OUT_OF_HOST_MEMORY, VKATTN_ERROR_OUT_OF_HOST_MEMORY,
                 "vkCreateBuffer");
    expect_works(c, &s);
    vkattn_context_destroy(c);
}
END_TEST

START_TEST(pipeline_creation_failure_is_returned_and_retried)
{
    vkattn_context c = faulty_context();
    sample s;
    sample_init(&s);
    expect_fault(c, &s, SITE_PIPELINE, VK_ERROR_OUT_OF_DEVICE_MEMORY,
                 VKATTN_ERROR_OUT_OF_DEVICE_MEMORY, "vkCreateComputePipelines");
    expect_works(c, &s); /* the failed pipeline is created on the next call */
    vkattn_context_destroy(c);
}
END_TEST

START_TEST(destroy_right_after_a_loss_is_clean)
{
    vkattn_context c = faulty_context();
    sample s;
    sample_init(&s);
    expect_fault(c, &s, SITE_WAIT, VK_ERROR_DEVICE_LOST, VKATTN_ERROR_DEVICE_LOST,
                 "vkWaitForFences");
    vkattn_context_destroy(c); /* the sanitizer builds check that nothing leaks */
}
END_TEST

int main(void)
{
    vkattn_context_desc desc = {0};
    desc.validation = true;
    desc.on_message = on_message;
    if (vkattn_context_create(&desc, &owner) != VKATTN_SUCCESS || vkattn_context_is_cpu(owner)) {
        fprintf(stderr, "no Vulkan device: skipped\n");
        vkattn_context_destroy(owner);
        return 77;
    }
    vkattn_vulkan_handles h;
    if (vkattn_context_vulkan(owner, &h) != VKATTN_SUCCESS)
        return 1;
    fault.gipa = h.get_instance_proc_addr;
    fault.gdpa = (PFN_vkGetDeviceProcAddr)fault.gipa(h.instance, "vkGetDeviceProcAddr");
    fault.submit = (PFN_vkQueueSubmit)fault.gdpa(h.device, "vkQueueSubmit");
    fault.wait = (PFN_vkWaitForFences)fault.gdpa(h.device, "vkWaitForFences");
    fault.alloc = (PFN_vkAllocateMemory)fault.gdpa(h.device, "vkAllocateMemory");
    fault.create_buffer = (PFN_vkCreateBuffer)fault.gdpa(h.device, "vkCreateBuffer");
    fault.create_pipelines =
        (PFN_vkCreateComputePipelines)fault.gdpa(h.device, "vkCreateComputePipelines");

    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("vulkan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, device_lost_at_wait_is_returned_and_context_recovers);
    tcase_add_test(tc, device_lost_at_submit_is_returned_and_context_recovers);
    tcase_add_test(tc, out_of_device_memory_at_allocation_is_returned);
    tcase_add_test(tc, out_of_host_memory_at_buffer_creation_is_returned);
    tcase_add_test(tc, pipeline_creation_failure_is_returned_and_retried);
    tcase_add_test(tc, destroy_right_after_a_loss_is_clean);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK); /* one owner context for all tests */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    vkattn_context_destroy(owner);
    return failed ? 1 : 0;
}
