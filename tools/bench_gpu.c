/* The Vulkan side of vkattn bench (see bench_gpu.h). Each run is one submission of a command
 * buffer recorded once: [barrier, timestamp, the work, timestamp], waited for with a fence, so
 * runs never overlap and the timed part holds the work alone. The work is vkattn_cmd_attention,
 * or one dispatch of a kernel of the tool's own (the peak micro-kernels). */
#include "bench_gpu.h"
#include "src/vk_table.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bench_gpu {
    vkattn_vulkan_handles h;
    VkPhysicalDeviceMemoryProperties mem;
    double ns_per_tick;
    uint64_t ts_mask;              /* valid timestamp bits; 0 = the queue has no timestamps */
    vk_table vk;                   /* loaded on h (vk_tool.h) */
    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkQueryPool queries;           /* 2 timestamps: before and after the attention */
    VkFence fence;
};

typedef struct gbuf {
    VkBuffer buffer;
    VkDeviceMemory memory;
    void *mapped;                  /* host-visible buffers only */
} gbuf;

static int vk_fail(char *err, size_t err_size, const char *what, VkResult vr)
{
    snprintf(err, err_size, "%s failed: %s (%d)", what, vkattn__vk_result_name(vr), (int)vr);
    return -1;
}

static void release(bench_gpu *g)
{
    VkDevice dev = g->h.device;
    const VkAllocationCallbacks *a = g->h.allocator;
    if (g->fence)
        g->vk.vkDestroyFence(dev, g->fence, a);
    if (g->queries)
        g->vk.vkDestroyQueryPool(dev, g->queries, a);
    if (g->pool) /* frees g->cmd with it */
        g->vk.vkDestroyCommandPool(dev, g->pool, a);
}

/* Fills a zeroed g on the handles in g->h; on failure, what was made is left for release(). */
static int open_objects(bench_gpu *g, char *err, size_t err_size)
{
    VkDevice dev = g->h.device;
    const VkAllocationCallbacks *a = g->h.allocator;
    const char *missing = vkattn__vk_table_load(&g->vk, g->h.get_instance_proc_addr,
                                                g->h.instance, g->h.device);
    if (missing) {
        snprintf(err, err_size, "the Vulkan loader gives no %s", missing);
        return -1;
    }
    VkPhysicalDeviceProperties props;
    g->vk.vkGetPhysicalDeviceProperties(g->h.physical_device, &props);
    g->vk.vkGetPhysicalDeviceMemoryProperties(g->h.physical_device, &g->mem);
    g->ns_per_tick = props.limits.timestampPeriod;
    uint32_t nq = 0;
    g->vk.vkGetPhysicalDeviceQueueFamilyProperties(g->h.physical_device, &nq, NULL);
    VkQueueFamilyProperties *qf = calloc(nq ? nq : 1, sizeof *qf);
    if (!qf) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    g->vk.vkGetPhysicalDeviceQueueFamilyProperties(g->h.physical_device, &nq, qf);
    uint32_t bits = g->h.queue_family < nq ? qf[g->h.queue_family].timestampValidBits : 0;
    free(qf);
    g->ts_mask = bits >= 64 ? ~0ull : bits ? (1ull << bits) - 1 : 0;
    if (g->ns_per_tick <= 0.0)
        g->ts_mask = 0;

    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .queueFamilyIndex = g->h.queue_family};
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
    VkQueryPoolCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                 .queryType = VK_QUERY_TYPE_TIMESTAMP, .queryCount = 2};
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    const char *what = "vkCreateCommandPool";
    VkResult vr = g->vk.vkCreateCommandPool(dev, &pci, a, &g->pool);
    if (vr == VK_SUCCESS) {
        cai.commandPool = g->pool;
        what = "vkAllocateCommandBuffers";
        vr = g->vk.vkAllocateCommandBuffers(dev, &cai, &g->cmd);
    }
    if (vr == VK_SUCCESS && g->ts_mask)
        what = "vkCreateQueryPool", vr = g->vk.vkCreateQueryPool(dev, &qci, a, &g->queries);
    if (vr == VK_SUCCESS)
        what = "vkCreateFence", vr = g->vk.vkCreateFence(dev, &fci, a, &g->fence);
    if (vr != VK_SUCCESS) {
        return vk_fail(err, err_size, what, vr);
    }
    return 0;
}


static void gbuf_destroy(bench_gpu *g, gbuf *b)
{
    if (b->mapped)
        g->vk.vkUnmapMemory(g->h.device, b->memory);
    if (b->buffer)
        g->vk.vkDestroyBuffer(g->h.device, b->buffer, g->h.allocator);
    if (b->memory)
        g->vk.vkFreeMemory(g->h.device, b->memory, g->h.allocator);
    memset(b, 0, sizeof *b);
}

/* A buffer in device-local memory (else any type it allows), or host-visible coherent and mapped
 * (every device has such a type for buffers). */
static int gbuf_create(bench_gpu *g, VkDeviceSize size, VkBufferUsageFlags usage, bool host,
                       gbuf *b, char *err, size_t err_size)
{
    VkDevice dev = g->h.device;
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                              .size = size ? size : 4, .usage = usage,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    memset(b, 0, sizeof *b);
    VkResult vr = g->vk.vkCreateBuffer(dev, &bci, g->h.allocator, &b->buffer);
    if (vr != VK_SUCCESS)
        return vk_fail(err, err_size, "vkCreateBuffer", vr);
    VkMemoryRequirements req;
    g->vk.vkGetBufferMemoryRequirements(dev, b->buffer, &req);
    int type = host ? vkattn__memory_type(&g->mem, req.memoryTypeBits,
                                  VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                      VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)
                    : vkattn__memory_type(&g->mem, req.memoryTypeBits,
                                  VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type < 0 && !host)
        type = vkattn__memory_type(&g->mem, req.memoryTypeBits, 0);
    if (type < 0) {
        gbuf_destroy(g, b);
        snprintf(err, err_size, "no %smemory type for a buffer", host ? "host-visible " : "");
        return -1;
    }
    VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                .allocationSize = req.size, .memoryTypeIndex = (uint32_t)type};
    const char *what = "vkAllocateMemory";
    vr = g->vk.vkAllocateMemory(dev, &mai, g->h.allocator, &b->memory);
    if (vr == VK_SUCCESS)
        what = "vkBindBufferMemory", vr = g->vk.vkBindBufferMemory(dev, b->buffer, b->memory, 0);
    if (vr == VK_SUCCESS && host)
        what = "vkMapMemory", vr = g->vk.vkMapMemory(dev, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
    if (vr != VK_SUCCESS) {
        gbuf_destroy(g, b);
        char buf[96];
        snprintf(buf, sizeof buf, "%s (%.1f MiB)", what, (double)req.size / (1 << 20));
        return vk_fail(err, err_size, buf, vr);
    }
    return 0;
}

/* Submits g->cmd and waits for it. After a failed wait the queue is drained (best effort), so
 * that the caller may destroy what the submission used. */
static int gpu_submit(bench_gpu *g, char *err, size_t err_size)
{
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                       .pCommandBuffers = &g->cmd};
    VkResult vr = g->vk.vkQueueSubmit(g->h.queue, 1, &si, g->fence);
    if (vr != VK_SUCCESS)
        return vk_fail(err, err_size, "vkQueueSubmit", vr);
    vr = g->vk.vkWaitForFences(g->h.device, 1, &g->fence, VK_TRUE, UINT64_MAX);
    if (vr != VK_SUCCESS) {
        g->vk.vkQueueWaitIdle(g->h.queue);
        return vk_fail(err, err_size, "vkWaitForFences", vr);
    }
    vr = g->vk.vkResetFences(g->h.device, 1, &g->fence);
    if (vr != VK_SUCCESS)
        return vk_fail(err, err_size, "vkResetFences", vr);
    return 0;
}

static void barrier(bench_gpu *g, VkPipelineStageFlags src_stage, VkAccessFlags src,
                    VkPipelineStageFlags dst_stage, VkAccessFlags dst)
{
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src,
                          .dstAccessMask = dst};
    g->vk.vkCmdPipelineBarrier(g->cmd, src_stage, dst_stage, 0, 1, &mb, 0, NULL, 0, NULL);
}

static double clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Resets the pool and begins g->cmd for a one-time upload (flags) or for timed runs (0). */
static int begin(bench_gpu *g, VkCommandBufferUsageFlags flags, char *err, size_t err_size)
{
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = flags};
    VkResult vr = g->vk.vkResetCommandPool(g->h.device, g->pool, 0);
    if (vr == VK_SUCCESS)
        vr = g->vk.vkBeginCommandBuffer(g->cmd, &bi);
    return vr == VK_SUCCESS ? 0 : vk_fail(err, err_size, "vkBeginCommandBuffer", vr);
}

static int end(bench_gpu *g, char *err, size_t err_size)
{
    VkResult vr = g->vk.vkEndCommandBuffer(g->cmd);
    return vr == VK_SUCCESS ? 0 : vk_fail(err, err_size, "vkEndCommandBuffer", vr);
}

/* Begins the command buffer of the timed runs, up to the first timestamp. One command buffer is
 * submitted once per run; the barrier orders this run's shader writes after the previous run's
 * (vkattn_cmd_attention asks for it). It sits before the first timestamp, and as the previous
 * run has finished it costs nothing inside the timed part. */
static int begin_timed(bench_gpu *g, char *err, size_t err_size)
{
    if (begin(g, 0, err, err_size))
        return -1;
    barrier(g, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    if (g->ts_mask) {
        g->vk.vkCmdResetQueryPool(g->cmd, g->queries, 0, 2);
        g->vk.vkCmdWriteTimestamp(g->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, g->queries, 0);
    }
    return 0;
}

static int end_timed(bench_gpu *g, char *err, size_t err_size)
{
    /* BOTTOM_OF_PIPE: written once every earlier command, the dispatch included, has finished. */
    if (g->ts_mask)
        g->vk.vkCmdWriteTimestamp(g->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, g->queries, 1);
    return end(g, err, err_size);
}

/* Submits the recorded g->cmd warmup + n times, waiting for each; ms[0..n) receives the timed
 * runs: the timestamps' difference, or the wall clock around submit and wait without them. */
static int timed_runs(bench_gpu *g, int warmup, int n, double *ms, char *err, size_t err_size)
{
    for (int r = 0; r < warmup + n; ++r) {
        double t0 = clock_ms();
        if (gpu_submit(g, err, err_size))
            return -1;
        double elapsed = clock_ms() - t0;
        if (g->ts_mask) {
            uint64_t ts[2];
            VkResult vr = g->vk.vkGetQueryPoolResults(g->h.device, g->queries, 0, 2, sizeof ts, ts,
                                                   sizeof ts[0],
                                                   VK_QUERY_RESULT_64_BIT |
                                                       VK_QUERY_RESULT_WAIT_BIT);
            if (vr != VK_SUCCESS)
                return vk_fail(err, err_size, "vkGetQueryPoolResults", vr);
            elapsed = (double)((ts[1] - ts[0]) & g->ts_mask) * g->ns_per_tick * 1e-6;
        }
        if (r >= warmup)
            ms[r - warmup] = elapsed;
    }
    return 0;
}

enum { BUF_Q, BUF_K, BUF_V, BUF_O, BUF_QLENS, BUF_KVLENS, BUF_PAGES, BUF_SCRATCH, BUF_QSTART,
       BUF_KVSTART, BUF_SINKS, BUF_ALIBI, BUF_CUQ, BUF_CUKV, BUF_COUNT };

struct bench_work {
    vkattn_context ctx;
    vkattn_problem p;
    gbuf b[BUF_COUNT];
    vkattn_device_tensors dt;
};

void bench_gpu_release(bench_gpu *g, bench_work *w)
{
    if (!w)
        return;
    for (int i = 0; i < BUF_COUNT; ++i) {
        if (w->b[i].buffer) /* the context's views and sets of it */
            vkattn_release_buffer(w->ctx, w->b[i].buffer);
        gbuf_destroy(g, &w->b[i]);
    }
    free(w);
}

int bench_gpu_prepare(bench_gpu *g, vkattn_context ctx, const vkattn_problem *p,
                      const vkattn_host_tensors *t, bench_work **out, char *err, size_t err_size)
{
    *out = NULL;
    bench_work *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    w->ctx = ctx;
    w->p = *p;
    gbuf *b = w->b, staging = {0};
    const void *src[BUF_COUNT] = {t->q, t->k, t->v, NULL, p->has_q_lens ? t->q_lens : NULL,
                                  p->has_kv_lens ? t->kv_lens : NULL,
                                  p->page_size ? t->page_table : NULL, NULL,
                                  p->has_q_start ? t->q_start : NULL,
                                  p->has_kv_start ? t->kv_start : NULL,
                                  p->has_sinks ? t->sinks : NULL, p->alibi ? t->alibi : NULL,
                                  p->packed ? t->cu_seqlens_q : NULL,
                                  p->packed ? t->cu_seqlens_kv : NULL};
    uint64_t scratch = 0;
    if (vkattn_scratch_size(ctx, p, &scratch) != VKATTN_SUCCESS) {
        snprintf(err, err_size, "vkattn_scratch_size: %s", vkattn_context_message(ctx));
        free(w);
        return -1;
    }
    VkDeviceSize es = p->dtype == VKATTN_DTYPE_F32 ? 4 : 2, lens = p->batch * sizeof(uint32_t);
    VkDeviceSize bytes[BUF_COUNT] = {
        vkattn_problem_extent(p, 'q') * es, vkattn_problem_extent(p, 'k') * es,
        vkattn_problem_extent(p, 'v') * es, vkattn_problem_extent(p, 'o') * es,
        src[BUF_QLENS] ? lens : 0, src[BUF_KVLENS] ? lens : 0,
        vkattn_problem_extent(p, 'p') * 4, scratch, lens, lens, p->heads_q * 4ull,
        (p->alibi == VKATTN_ALIBI_BATCH_HEADS ? p->batch : 1ull) * p->heads_q * 4,
        lens + 4, lens + 4};
    VkDeviceSize offset[BUF_COUNT], total = 0;

    for (int i = 0; i < BUF_COUNT; ++i) {
        offset[i] = total;
        if (src[i])
            total += (bytes[i] + 15) / 16 * 16;
        if ((src[i] || i == BUF_O || (i == BUF_SCRATCH && scratch)) &&
            gbuf_create(g, (bytes[i] + 15) / 16 * 16, /* (16-bit data is read in words) */
                        VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
                            (i == BUF_K || i == BUF_V ? VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT : 0),
                        false, &b[i], err, err_size))
            goto fail;
    }
    if (gbuf_create(g, total, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, true, &staging, err, err_size))
        goto fail;
    if (begin(g, VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT, err, err_size))
        goto fail;
    for (int i = 0; i < BUF_COUNT; ++i)
        if (src[i]) {
            memcpy((char *)staging.mapped + offset[i], src[i], bytes[i]);
            VkBufferCopy region = {.srcOffset = offset[i], .size = bytes[i]};
            g->vk.vkCmdCopyBuffer(g->cmd, staging.buffer, b[i].buffer, 1, &region);
        }
    barrier(g, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT);
    if (end(g, err, err_size) || gpu_submit(g, err, err_size))
        goto fail;
    gbuf_destroy(g, &staging);
    w->dt = (vkattn_device_tensors){
        .q = {b[BUF_Q].buffer, 0, 0}, .k = {b[BUF_K].buffer, 0, 0, VKATTN_BUFFER_TEXEL},
        .v = {b[BUF_V].buffer, 0, 0, VKATTN_BUFFER_TEXEL}, .out = {b[BUF_O].buffer, 0, 0},
        .q_lens = {b[BUF_QLENS].buffer, 0, 0}, .kv_lens = {b[BUF_KVLENS].buffer, 0, 0},
        .page_table = {b[BUF_PAGES].buffer, 0, 0}, .scratch = {b[BUF_SCRATCH].buffer, 0, 0},
        .q_start = {b[BUF_QSTART].buffer, 0, 0}, .kv_start = {b[BUF_KVSTART].buffer, 0, 0},
        .sinks = {b[BUF_SINKS].buffer, 0, 0}, .alibi = {b[BUF_ALIBI].buffer, 0, 0},
        .cu_seqlens_q = {b[BUF_CUQ].buffer, 0, 0}, .cu_seqlens_kv = {b[BUF_CUKV].buffer, 0, 0},
    };
    *out = w;
    return 0;
fail:
    gbuf_destroy(g, &staging);
    bench_gpu_release(g, w);
    return -1;
}

int bench_gpu_run(bench_gpu *g, bench_work *w, int warmup, int n, double *ms, char *err,
                  size_t err_size)
{
    if (begin_timed(g, err, err_size))
        return -1;
    vkattn_result res = vkattn_cmd_attention(w->ctx, g->cmd, &w->p, &w->dt);
    if (res != VKATTN_SUCCESS) {
        snprintf(err, err_size, "vkattn_cmd_attention: %s: %s", vkattn_result_string(res),
                 vkattn_context_message(w->ctx));
        g->vk.vkEndCommandBuffer(g->cmd);
        return -1;
    }
    if (end_timed(g, err, err_size))
        return -1;
    return timed_runs(g, warmup, n, ms, err, err_size);
}

int bench_gpu_time(bench_gpu *g, vkattn_context ctx, const vkattn_problem *p,
                   const vkattn_host_tensors *t, int warmup, int n, double *ms, char *err,
                   size_t err_size)
{
    bench_work *w;
    if (bench_gpu_prepare(g, ctx, p, t, &w, err, err_size))
        return -1;
    int rc = bench_gpu_run(g, w, warmup, n, ms, err, err_size);
    bench_gpu_release(g, w);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Kernels of the tool's own
 * ------------------------------------------------------------------------------------------- */
struct bench_kernel {
    VkShaderModule module;
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipeline;
    VkDescriptorPool pool;
    VkDescriptorSet set;           /* freed with the pool */
    uint32_t push_size, n_buffers, texel_mask;
    gbuf buffers[BENCH_KERNEL_MAX_BUFFERS];
    VkBufferView views[BENCH_KERNEL_MAX_BUFFERS]; /* the texel_mask buffers' */
};

void bench_kernel_destroy(bench_gpu *g, bench_kernel *k)
{
    if (!k)
        return;
    VkDevice dev = g->h.device;
    const VkAllocationCallbacks *a = g->h.allocator;
    if (k->pipeline)
        g->vk.vkDestroyPipeline(dev, k->pipeline, a);
    if (k->layout)
        g->vk.vkDestroyPipelineLayout(dev, k->layout, a);
    if (k->set_layout)
        g->vk.vkDestroyDescriptorSetLayout(dev, k->set_layout, a);
    if (k->module)
        g->vk.vkDestroyShaderModule(dev, k->module, a);
    if (k->pool)
        g->vk.vkDestroyDescriptorPool(dev, k->pool, a);
    for (uint32_t i = 0; i < BENCH_KERNEL_MAX_BUFFERS; ++i) {
        if (k->views[i])
            g->vk.vkDestroyBufferView(dev, k->views[i], a);
        gbuf_destroy(g, &k->buffers[i]);
    }
    free(k);
}

/* The pipeline and descriptor set of a zeroed k; on failure what was made is left to
 * bench_kernel_destroy. */
static int kernel_objects(bench_gpu *g, bench_kernel *k, const uint32_t *code, size_t code_size,
                          char *err, size_t err_size)
{
    VkDevice dev = g->h.device;
    const VkAllocationCallbacks *a = g->h.allocator;
    VkDescriptorSetLayoutBinding bind[BENCH_KERNEL_MAX_BUFFERS];
    VkDescriptorBufferInfo info[BENCH_KERNEL_MAX_BUFFERS];
    VkWriteDescriptorSet write[BENCH_KERNEL_MAX_BUFFERS];
    uint32_t n_texel = 0;
    for (uint32_t i = 0; i < k->n_buffers; ++i) {
        const bool texel = (k->texel_mask >> i) & 1u;
        const VkDescriptorType type = texel ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                            : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        n_texel += texel;
        bind[i] = (VkDescriptorSetLayoutBinding){
            .binding = i, .descriptorType = type, .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
        info[i] = (VkDescriptorBufferInfo){k->buffers[i].buffer, 0, VK_WHOLE_SIZE};
        write[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstBinding = i,
            .descriptorCount = 1, .descriptorType = type,
            .pBufferInfo = texel ? NULL : &info[i], .pTexelBufferView = &k->views[i]};
    }
    VkShaderModuleCreateInfo smci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                     .codeSize = code_size, .pCode = code};
    VkDescriptorSetLayoutCreateInfo dslci = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = k->n_buffers, .pBindings = bind};
    VkPushConstantRange range = {VK_SHADER_STAGE_COMPUTE_BIT, 0, k->push_size};
    VkPipelineLayoutCreateInfo plci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                       .setLayoutCount = 1,
                                       .pushConstantRangeCount = k->push_size ? 1 : 0,
                                       .pPushConstantRanges = &range};
    /* (A pool size may not be 0: only the types present.) */
    VkDescriptorPoolSize sizes[2];
    uint32_t n_sizes = 0;
    if (n_texel < k->n_buffers)
        sizes[n_sizes++] = (VkDescriptorPoolSize){VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                  k->n_buffers - n_texel};
    if (n_texel)
        sizes[n_sizes++] = (VkDescriptorPoolSize){VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, n_texel};
    VkDescriptorPoolCreateInfo dpci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                       .maxSets = 1, .poolSizeCount = n_sizes,
                                       .pPoolSizes = sizes};
    const char *what = "vkCreateShaderModule";
    VkResult vr = g->vk.vkCreateShaderModule(dev, &smci, a, &k->module);
    if (vr == VK_SUCCESS)
        what = "vkCreateDescriptorSetLayout",
        vr = g->vk.vkCreateDescriptorSetLayout(dev, &dslci, a, &k->set_layout);
    if (vr == VK_SUCCESS) {
        plci.pSetLayouts = &k->set_layout;
        what = "vkCreatePipelineLayout", vr = g->vk.vkCreatePipelineLayout(dev, &plci, a, &k->layout);
    }
    if (vr == VK_SUCCESS) {
        VkComputePipelineCreateInfo cpci = {
            .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
            .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                      .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = k->module, .pName = "main"},
            .layout = k->layout};
        what = "vkCreateComputePipelines",
        vr = g->vk.vkCreateComputePipelines(dev, VK_NULL_HANDLE, 1, &cpci, a, &k->pipeline);
    }
    if (vr == VK_SUCCESS)
        what = "vkCreateDescriptorPool", vr = g->vk.vkCreateDescriptorPool(dev, &dpci, a, &k->pool);
    if (vr == VK_SUCCESS) {
        VkDescriptorSetAllocateInfo dsai = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, .descriptorPool = k->pool,
            .descriptorSetCount = 1, .pSetLayouts = &k->set_layout};
        what = "vkAllocateDescriptorSets", vr = g->vk.vkAllocateDescriptorSets(dev, &dsai, &k->set);
    }
    if (vr != VK_SUCCESS)
        return vk_fail(err, err_size, what, vr);
    for (uint32_t i = 0; i < k->n_buffers; ++i)
        write[i].dstSet = k->set;
    g->vk.vkUpdateDescriptorSets(dev, k->n_buffers, write, 0, NULL);
    return 0;
}

int bench_kernel_create(bench_gpu *g, const uint32_t *code, size_t code_size, uint32_t n_buffers,
                        const VkDeviceSize *sizes, uint32_t texel_mask, uint32_t push_size,
                        bench_kernel **out, char *err, size_t err_size)
{
    *out = NULL;
    if (n_buffers > BENCH_KERNEL_MAX_BUFFERS) {
        snprintf(err, err_size, "a kernel with %u buffers (at most %d)", n_buffers,
                 BENCH_KERNEL_MAX_BUFFERS);
        return -1;
    }
    bench_kernel *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    k->n_buffers = n_buffers;
    k->push_size = push_size;
    k->texel_mask = texel_mask;
    for (uint32_t i = 0; i < n_buffers; ++i) {
        const bool texel = (texel_mask >> i) & 1u;
        if (gbuf_create(g, sizes[i],
                        (texel ? VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT
                               : VK_BUFFER_USAGE_STORAGE_BUFFER_BIT) |
                            VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                        false, &k->buffers[i], err, err_size))
            goto fail;
        if (texel) {
            VkBufferViewCreateInfo bvci = {.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
                                           .buffer = k->buffers[i].buffer,
                                           .format = VK_FORMAT_R32G32B32A32_UINT,
                                           .range = VK_WHOLE_SIZE};
            VkResult vr = g->vk.vkCreateBufferView(g->h.device, &bvci, g->h.allocator, &k->views[i]);
            if (vr != VK_SUCCESS) {
                vk_fail(err, err_size, "vkCreateBufferView", vr);
                goto fail;
            }
        }
    }
    if (kernel_objects(g, k, code, code_size, err, err_size))
        goto fail;
    /* Written once, so that every page exists before the first timed run: a CPU device would
     * otherwise read the zero page and fault pages in inside the timed part. */
    if (begin(g, VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT, err, err_size))
        goto fail;
    for (uint32_t i = 0; i < n_buffers; ++i)
        g->vk.vkCmdFillBuffer(g->cmd, k->buffers[i].buffer, 0, VK_WHOLE_SIZE, 0x3f800000u); /* 1.0f */
    barrier(g, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    if (end(g, err, err_size) || gpu_submit(g, err, err_size))
        goto fail;
    *out = k;
    return 0;
fail:
    bench_kernel_destroy(g, k);
    return -1;
}

int bench_kernel_time(bench_gpu *g, bench_kernel *k, const void *push, uint32_t groups,
                      int warmup, int n, double *ms, char *err, size_t err_size)
{
    if (begin_timed(g, err, err_size))
        return -1;
    g->vk.vkCmdBindPipeline(g->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, k->pipeline);
    g->vk.vkCmdBindDescriptorSets(g->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, k->layout, 0, 1, &k->set,
                               0, NULL);
    if (k->push_size)
        g->vk.vkCmdPushConstants(g->cmd, k->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, k->push_size,
                              push);
    g->vk.vkCmdDispatch(g->cmd, groups, 1, 1);
    if (end_timed(g, err, err_size))
        return -1;
    return timed_runs(g, warmup, n, ms, err, err_size);
}

/* ---------------------------------------------------------------------------------------------
 * Opening and closing
 * ------------------------------------------------------------------------------------------- */
int bench_gpu_open_handles(const vkattn_vulkan_handles *h, bench_gpu **out, char *err,
                           size_t err_size)
{
    *out = NULL;
    bench_gpu *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    g->h = *h;
    if (open_objects(g, err, err_size)) {
        release(g);
        free(g);
        return -1;
    }
    *out = g;
    return 0;
}

int bench_gpu_open(vkattn_context ctx, bench_gpu **out, char *err, size_t err_size)
{
    vkattn_vulkan_handles h;
    *out = NULL;
    if (vkattn_context_vulkan(ctx, &h) != VKATTN_SUCCESS) {
        snprintf(err, err_size, "the context has no Vulkan handles: %s",
                 vkattn_context_message(ctx));
        return -1;
    }
    return bench_gpu_open_handles(&h, out, err, err_size);
}

void bench_gpu_close(bench_gpu *g)
{
    if (!g)
        return;
    release(g);
    free(g);
}

bool bench_gpu_has_timestamps(const bench_gpu *g)
{
    return g->ts_mask != 0;
}
