/* vkattn: fused attention (FlashAttention-2 forward) as Vulkan compute shaders.
 *
 * The contract (what is computed, which keys a query sees, accuracy) is SPEC.md; this header is
 * the C surface. Conventions:
 *   - Every exported name starts with vkattn_ / VKATTN_. Handles are passed by value, descs by
 *     pointer; in every desc struct a zeroed field means "default", written beside the field.
 *   - Functions return a vkattn_result. On failure nothing is half-made: outputs are left NULL or
 *     untouched, and vkattn_context_message() names the offending field and value.
 *   - The library never prints, aborts, exits or starts threads, and keeps no global state.
 *
 * Threading: functions without a context are reentrant. On one context, vkattn_cmd_attention,
 * vkattn_kernel_tiles, vkattn_pipeline_cache_data, vkattn_context_vulkan,
 * vkattn_context_device_info and vkattn_context_is_cpu may be called from several threads at
 * once (pipelines and descriptor sets made on first use are created under a lock);
 * vkattn_attention uses the context's one command buffer and must be serialised by the caller;
 * vkattn_context_destroy must not overlap any other call on the context.
 *
 * Versions: VKATTN_VERSION (major * 10000 + minor * 100 + patch) and VKATTN_VERSION_STRING in
 * vkattn_version.h. Vulkan 1.1 is the floor; fields of desc structs are only ever appended.
 */
#ifndef VKATTN_H
#define VKATTN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vulkan/vulkan_core.h>

#include "vkattn_version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(VKATTN_SHARED_BUILD)
#define VKATTN_API __declspec(dllexport)
#elif defined(__GNUC__)
#define VKATTN_API __attribute__((visibility("default")))
#else
#define VKATTN_API
#endif

/* ---------------------------------------------------------------------------------------------
 * Results
 * ------------------------------------------------------------------------------------------- */
typedef enum vkattn_result {
    VKATTN_SUCCESS = 0,
    VKATTN_ERROR_INVALID_ARGUMENT = -1,  /* a field of a desc is out of its range */
    VKATTN_ERROR_UNSUPPORTED = -2,       /* the device lacks a feature this call needs */
    VKATTN_ERROR_OUT_OF_HOST_MEMORY = -3,
    VKATTN_ERROR_OUT_OF_DEVICE_MEMORY = -4,
    VKATTN_ERROR_DEVICE_LOST = -5,
    VKATTN_ERROR_NO_DEVICE = -6,         /* no Vulkan device (or no device of that index) */
    VKATTN_ERROR_VULKAN = -7,            /* any other VkResult failure; the message names it */
} vkattn_result;

/* A static, never-NULL English name for a result code (any value, known or not). */
VKATTN_API const char *vkattn_result_string(vkattn_result result);

/* ---------------------------------------------------------------------------------------------
 * Problem description (shared by the GPU and the CPU reference)
 * ------------------------------------------------------------------------------------------- */
typedef enum vkattn_dtype {
    VKATTN_DTYPE_F32 = 0, /* default */
    VKATTN_DTYPE_F16 = 1, /* IEEE binary16 storage; arithmetic is always f32 */
    /* bfloat16 storage (the top 16 bits of an f32; written rounded to nearest even), f32
     * arithmetic. Read and written as 32-bit words on every device, like f16 without 16-bit
     * storage (see vkattn_cmd_attention: buffers extend to the next multiple of 4 bytes, and
     * out's neighbouring bytes are kept with atomics). It runs in attention.comp's forms on every
     * device (not the split-KV or coopmat kernels), paged K/V included; kv_splits and
     * no_gqa_packing, which only shape the split-KV kernel, are ignored there. */
    VKATTN_DTYPE_BF16 = 2,
} vkattn_dtype;

typedef enum vkattn_align {
    VKATTN_ALIGN_BOTTOM_RIGHT = 0, /* default: off = kv_len - q_len (KV-cache alignment) */
    VKATTN_ALIGN_TOP_LEFT = 1,     /* off = 0 (PyTorch is_causal=True) */
} vkattn_align;

/* Element strides of a [B, H, S, D] tensor; D is always contiguous (stride 1).
 * All zero means dense BHSD: s = D, h = S*D, b = H*S*D. vkattn_strides_bshd() gives BSHD. */
typedef struct vkattn_strides {
    uint64_t b, h, s;
} vkattn_strides;

/* The longest sequence (Sq or Skv) a problem may have: 2^28 tokens. */
#define VKATTN_MAX_SEQ (1u << 28)

/* How the kernels compute. EXACT: f32 arithmetic everywhere; SPEC section 3's bounds. FAST:
 * with f16 storage, on a device with shaderFloat16 where the tuning says it pays off (built in:
 * GPUs yes, CPU drivers no: lavapipe runs f16 arithmetic at a fifth of f32), the split-KV kernel
 * computes the scores QK^T in f16 (chunks of at most 16 products summed in f16, the chunks in
 * f32); the softmax and O += PV stay f32. Elsewhere FAST runs as EXACT. Bound (tested, inputs
 * N(0,1)): max |O - O_ref| <= 5e-3 and max |LSE - LSE_ref| <= 5e-3, as EXACT's f16 bound on O
 * (lavapipe, D 40..128, Skv up to 2048: 7e-4 and 3e-4 seen). A chunk's scaled products must
 * stay within f16's range (|sum| < 65504): beyond it the score saturates or the row becomes
 * NaN. The CPU reference is always exact. */
typedef enum vkattn_precision {
    VKATTN_PRECISION_EXACT = 0,
    VKATTN_PRECISION_FAST = 1,
} vkattn_precision;

/* Where ALiBi slopes come from (FlashAttention-2's rule: the bias of query position p and key
 * position r is -slope * |p + off - r|, with off the alignment's diagonal of SPEC 2). */
typedef enum vkattn_alibi {
    VKATTN_ALIBI_NONE = 0,        /* default: no bias */
    VKATTN_ALIBI_HEADS = 1,       /* f32 [Hq]: one slope per query head */
    VKATTN_ALIBI_BATCH_HEADS = 2, /* f32 [B, Hq]: one per batch item and query head */
} vkattn_alibi;

typedef struct vkattn_problem {
    uint32_t batch;     /* B >= 1 */
    uint32_t heads_q;   /* Hq in 1..65535 */
    uint32_t heads_kv;  /* Hkv >= 1, divides Hq; 0 = heads_q */
    uint32_t seq_q;     /* Sq in 1..VKATTN_MAX_SEQ */
    uint32_t seq_kv;    /* Skv in 1..VKATTN_MAX_SEQ */
    uint32_t head_dim;  /* D (of Q and K) in 1..576 */
    vkattn_dtype dtype; /* of Q, K, V and O; LSE is always f32 */
    vkattn_strides q, k, v, out; /* 0 = dense BHSD (see vkattn_strides) */

    bool causal;        /* key j visible only when j <= i + off */
    vkattn_align align; /* where the diagonal sits for causal and window */
    bool window;        /* sliding window: i + off - window_left <= j <= i + off + window_right */
    int32_t window_left, window_right; /* each >= -1; -1 = unbounded on that side */
    float scale;        /* 0 = 1/sqrt(D); otherwise finite and > 0 */
    float softcap;      /* 0 = off; otherwise s = softcap * tanh(s / softcap) */

    bool has_q_lens, has_kv_lens; /* per-batch valid lengths (u32[B]) are given */
    bool has_lse;                 /* write LSE [B, Hq, Sq] f32 ([Hq, Tq] when packed) */
    /* Custom bool mask [mask_batch, mask_heads, Sq, Skv] u8 (nonzero = attend), dense.
     * mask_batch in {1, B} and mask_heads in {1, Hq}; 1 broadcasts. 0 for both = no mask. */
    uint32_t mask_batch, mask_heads;

    /* Paged KV cache (FlashAttention-2's layout): page_size 0 = K and V are [B, Hkv, Skv, D]
     * tensors with the strides above. Otherwise K and V are each [num_pages, page_size, Hkv, D]
     * (dense; their strides must be left zero), and key j of batch item b is row j % page_size
     * of page page_table[b][j / page_size], where the page table is u32 [B, pages_per_seq].
     * page_size is any size in 1..1024 (single-token pages, as SGLang's, included);
     * pages_per_seq * page_size >= Skv. Page numbers
     * must be below num_pages (the CPU reference checks; the GPU clamps, never reading outside
     * K/V). */
    uint32_t page_size;
    uint32_t num_pages;     /* paged: pages in K and V, >= 1 */
    uint32_t pages_per_seq; /* paged: columns of the page table; 0 = ceil(Skv / page_size) */

    /* Decoding controls (results are the same either way, within f32 rounding). The split-KV
     * kernel (flash-decoding) runs where the (batch, head, query-tile) grid is too small to fill
     * the device, or when paged; it splits the keys into kv_splits ranges processed by separate
     * workgroups and combined by a second pass. 0 = chosen from the problem and the device;
     * N >= 1 forces the split-KV kernel with N splits (at most 256). bf16 and the wide head
     * sizes (head_dim_v) run in attention.comp, which ignores both controls. */
    uint32_t kv_splits;
    bool no_gqa_packing; /* forces the split-KV kernel and takes the query heads of a KV group
                            one at a time (each K/V row read once per query head) instead of
                            together: for comparisons */
    vkattn_precision precision; /* default VKATTN_PRECISION_EXACT */

    /* Start offsets (SPEC 2, left padding as in Hugging Face's batched generation): u32 [B]
     * arrays of each batch item's first valid query row / key. Its valid rows are then
     * start .. start + len - 1, with len = q_lens[b] (kv_lens[b]) where given, else
     * seq_q - start (seq_kv - start); the causal and window rules and ALiBi read positions
     * counted from the start, and the custom mask is still indexed by rows. */
    bool has_q_start, has_kv_start;
    /* Attention sinks (gpt-oss): f32 [Hq], one logit per query head that joins every row's
     * softmax denominator and adds no value: Z = sum exp(s) + exp(sink); a row with no
     * visible key gets O = 0 and LSE = sink. */
    bool has_sinks;
    vkattn_alibi alibi; /* ALiBi slopes (SPEC 3): s -= slope * |p + off - r| */
    /* Packed variable-length batches (SPEC 2.1; FlashAttention-2's varlen API): the batch's
     * items lie end to end along one token axis. seq_q and seq_kv are the token counts Tq and
     * Tk; Q and K are [Tq, Hq, D] and [Tk, Hkv, D], V and O [Tk, Hkv, Dv] and [Tq, Hq, Dv],
     * LSE [Hq, Tq]. Strides: b must be 0 (no batch dimension); all zero = dense [T, H, D]
     * (Dv for V and O). cu_seqlens_q and cu_seqlens_kv (u32
     * [B + 1], non-decreasing from 0 to Tq resp. Tk) give item b the query rows
     * cu_seqlens_q[b] .. cu_seqlens_q[b + 1] - 1 (keys alike); causal, window, alignment and
     * ALiBi read positions counted from the item's first row. Work and memory follow Tq and the
     * visible pairs, not B x the longest item. Not combined with q_lens, kv_lens, starts, a
     * custom mask or paged K/V. */
    bool packed;
    /* Dv, the head size of V and O (SPEC 1), in 1..512; 0 = head_dim. V is [B, Hkv, Skv, Dv]
     * and O [B, Hq, Sq, Dv] (their strides count Dv-element rows). DeepSeek's MLA uses
     * D = 576, Dv = 512. Problems with Dv != D or D above 256 run in attention.comp's tiled form
     * (tiles sized for them; the planner picks it on every device), paged K/V included;
     * kv_splits and no_gqa_packing, which only shape the split-KV kernel, are ignored there. */
    uint32_t head_dim_v;
} vkattn_problem;

/* Strides for the BSHD layout ([B, S, H, D] in memory) of a tensor with h heads, s rows, d dims.
 * No checks (the problem check catches a bad result). */
VKATTN_API vkattn_strides vkattn_strides_bshd(uint32_t heads, uint32_t seq, uint32_t head_dim);

/* Checks a problem against SPEC section 1-2 (ranges, divisibility, strides that would make O
 * overlap itself). Returns VKATTN_SUCCESS or VKATTN_ERROR_INVALID_ARGUMENT; when msg is not NULL,
 * writes a NUL-terminated sentence naming the field and value (at most msg_size bytes). */
VKATTN_API vkattn_result vkattn_problem_check(const vkattn_problem *p, char *msg, size_t msg_size);

/* Number of elements (not bytes) a tensor of this problem spans, given its strides:
 * which is 'q', 'k', 'v', 'o' (or 'l' for LSE, 'm' for the mask, 'p' for the page table; a
 * paged K spans num_pages * page_size * Hkv * D, a paged V the same with Dv; V's and O's rows
 * hold Dv). 0 on an invalid problem. */
VKATTN_API uint64_t vkattn_problem_extent(const vkattn_problem *p, char which);

/* Host memory for one attention. Pointers follow the problem's dtype and strides. */
typedef struct vkattn_host_tensors {
    const void *q, *k, *v;    /* required */
    void *out;                /* required; must not overlap the inputs */
    float *lse;               /* required when has_lse */
    const uint32_t *q_lens;   /* required when has_q_lens: q_lens[b] <= Sq */
    const uint32_t *kv_lens;  /* required when has_kv_lens: kv_lens[b] <= Skv */
    const uint8_t *mask;      /* required when mask_batch/mask_heads are set */
    const uint32_t *page_table; /* required when page_size != 0: u32 [B, pages_per_seq] */
    const uint32_t *q_start;  /* required when has_q_start: u32 [B], q_start[b] + len <= Sq */
    const uint32_t *kv_start; /* required when has_kv_start: u32 [B], kv_start[b] + len <= Skv */
    const float *sinks;       /* required when has_sinks: f32 [Hq], finite */
    const float *alibi;       /* required with ALiBi: f32 [Hq] or [B, Hq], finite */
    const uint32_t *cu_seqlens_q, *cu_seqlens_kv; /* required when packed: u32 [B + 1] */
} vkattn_host_tensors;

/* The CPU reference: SPEC sections 1-3 in plain C with f32 or wider arithmetic, one row at a time
 * (no Sq x Skv buffer). Reentrant, no allocation beyond O(D) on the stack. Checks the problem and
 * tensors first: VKATTN_ERROR_INVALID_ARGUMENT (with msg as in vkattn_problem_check) and nothing
 * written when they are invalid, including lengths larger than Sq / Skv, starts that put a valid
 * row or key past them, and sinks or slopes that are not finite. */
VKATTN_API vkattn_result vkattn_reference(const vkattn_problem *p, const vkattn_host_tensors *t,
                                          char *msg, size_t msg_size);

/* vkattn_reference for part of the problem: only the (batch item, query head) pairs whose index
 * b * Hq + h lies in [first, first + count), bit for bit what vkattn_reference gives for them.
 * Writes only those pairs' rows of out and lse. The library starts no threads; to use several
 * cores, call this from your own threads with disjoint ranges: calls on the same tensors may run
 * at the same time when their ranges do not overlap (they only read the inputs), each with its
 * own msg buffer. The same checks as vkattn_reference, and VKATTN_ERROR_INVALID_ARGUMENT (msg
 * names first and count) when first + count > B * Hq; nothing is written on failure. count = 0
 * only checks. */
VKATTN_API vkattn_result vkattn_reference_heads(const vkattn_problem *p,
                                                const vkattn_host_tensors *t, uint32_t first,
                                                uint32_t count, char *msg, size_t msg_size);

/* ---------------------------------------------------------------------------------------------
 * Devices and contexts
 * ------------------------------------------------------------------------------------------- */
typedef struct vkattn_context_T *vkattn_context;

typedef enum vkattn_device_kind {
    VKATTN_DEVICE_DEFAULT = 0, /* VKATTN_DEVICE env var if set ("cpu" or an index); else the first
                                  GPU, else the first Vulkan device of any type, else the CPU */
    VKATTN_DEVICE_INDEX = 1,   /* the device_index-th Vulkan device in enumeration order */
    VKATTN_DEVICE_CPU = 2,     /* no Vulkan at all: the CPU reference runs the attention */
    VKATTN_DEVICE_BORROWED = 3,/* the app's own VkInstance/VkPhysicalDevice/VkDevice below */
} vkattn_device_kind;

/* Which form of the attention kernel a context uses. Both compute the same thing; AUTO picks by
 * device. Forcing one is for tests and tuning. */
typedef enum vkattn_kernel {
    VKATTN_KERNEL_AUTO = 0,     /* default: the tuning's choice (vkattn_tuning below); built
                                   in: see "Which kernel runs" below */
    VKATTN_KERNEL_ROWWISE = 1,  /* attention.comp, one query row per invocation, q and the
                                   accumulator in registers */
    VKATTN_KERNEL_TILED = 2,    /* attention.comp, several invocations per row, the Q tile in
                                   shared memory */
    VKATTN_KERNEL_SPLIT_KV = 3, /* decode.comp: each workgroup takes a few rows and a range of
                                   the keys, the ranges merged by merge.comp where there are
                                   several (the key split). For every problem, split by the
                                   device's size (it is correct for any Sq, and fast where the
                                   rows per KV head are few, or on CPU devices) */
    VKATTN_KERNEL_COOPMAT = 4,  /* the cooperative-matrix kernel: Q K^T and P V on the device's
                                   f16 x f16 -> f32 matrices (VK_KHR_cooperative_matrix), P
                                   rounded to f16. f16 storage only; AUTO picks it for f16 on
                                   GPUs that have it (vkattn_device_info.coopmat_f16) outside
                                   decode steps. Problems it cannot take (f32, paged K/V, forced
                                   kv_splits, no_gqa_packing) run as under AUTO. A context asked
                                   for it on a device or build without it is UNSUPPORTED. */
} vkattn_kernel;
/* The kernel's name as the tool, the bench's variant column and tuning files write it: "auto",
 * "rowwise", "tiled", "split-kv", "coopmat"; "?" for a value outside the enum. Never fails. */
VKATTN_API const char *vkattn_kernel_name(vkattn_kernel kernel);
/* The names before 0.x: "split" meant the tiled form, "decode" the split-KV kernel. */
#define VKATTN_KERNEL_SPLIT VKATTN_KERNEL_TILED
#define VKATTN_KERNEL_DECODE VKATTN_KERNEL_SPLIT_KV

/* Which kernel runs (vkattn_problem_plan says it for one problem; tests/test_plan.c walks the
 * planner over these device classes, so this table cannot drift from the code):
 *
 *   problem                                    CPU driver       GPU             GPU + coopmat
 *   D above 256 or Dv != D                     TILED            TILED           TILED
 *   bf16                                       ROWWISE          TILED           TILED
 *   paged K/V, kv_splits or no_gqa_packing     SPLIT_KV         SPLIT_KV        SPLIT_KV
 *   decode step (Sq <= 16, Skv >= 1024)        SPLIT_KV         SPLIT_KV        SPLIT_KV
 *   other f16                                  SPLIT_KV (1,2)   TILED           COOPMAT
 *   other f32                                  SPLIT_KV (1,2)   TILED           TILED
 *
 * (1) prefill is not split there (one key range: no merge, no scratch).
 * (2) lavapipe 25.x: ROWWISE from D 128 (measured faster there; 22.3 and 26.x as the table).
 * A desc's kernel, or a tuning's, replaces the middle column's choice where the problem allows
 * it (the first three rows always hold). */


/* Called (on the calling thread, during vkattn calls) for each validation-layer message when the
 * context created its own instance with validation on. The tool and the tests use it. */
typedef void (*vkattn_message_fn)(void *user, const char *message);

typedef struct vkattn_context_desc {
    vkattn_device_kind kind;     /* default VKATTN_DEVICE_DEFAULT */
    uint32_t device_index;       /* with VKATTN_DEVICE_INDEX */
    bool validation;             /* own instance only: enable VK_LAYER_KHRONOS_validation if it is
                                    installed (silently not, if not) */
    vkattn_message_fn on_message;/* validation messages; NULL = dropped */
    void *user;                  /* passed to on_message */

    /* VKATTN_DEVICE_BORROWED: the app's objects, never destroyed by vkattn (they must outlive the
     * context). The device (Vulkan 1.1 or newer) should have been created with the features the
     * kernels use where present (storageBuffer16BitAccess for f16; without it f16 is read and
     * written as 32-bit words, with the same results),
     * and with VK_KHR_push_descriptor where the device has it; without the extension vkattn
     * falls back to descriptor sets it caches per set of bound buffers (see
     * vkattn_cmd_attention). queue is only used by the convenience call vkattn_attention(); it
     * may be VK_NULL_HANDLE when only vkattn_cmd_attention() is used. */
    VkInstance instance;
    VkPhysicalDevice physical_device;
    VkDevice device;
    uint32_t queue_family;
    VkQueue queue;
    PFN_vkGetInstanceProcAddr get_instance_proc_addr; /* required when borrowed */
    bool push_descriptors_enabled; /* borrowed: the device was created with
                                      VK_KHR_push_descriptor (false = cached descriptor sets) */
    bool storage_16bit_enabled;    /* borrowed: storageBuffer16BitAccess was enabled (false =
                                      f16 as 32-bit words: no fast scores, no coopmat kernel) */
    const VkAllocationCallbacks *allocator; /* NULL = Vulkan's default; used for every Vulkan
                                               object vkattn creates */
    VkPipelineCache pipeline_cache;         /* the app's cache, not destroyed by vkattn;
                                               VK_NULL_HANDLE = a private one */
    const void *pipeline_cache_data;        /* initial data of the private cache (a blob from
                                               vkattn_pipeline_cache_data of an earlier run) */
    size_t pipeline_cache_size;             /* bytes at pipeline_cache_data */

    char *message;        /* optional: receives why creation failed (NUL-terminated) */
    size_t message_size;  /* bytes at message */
    vkattn_kernel kernel; /* default VKATTN_KERNEL_AUTO */
    uint32_t decode_parts; /* split-KV kernel: invocations that share one key (1, 2, 4 or 8),
                              0 = chosen per device. For tests and tuning: a value the device
                              or a problem cannot take (no subgroup shuffles, above the smallest
                              subgroup size, not a divisor of head_dim) runs as 1. Anything
                              else is INVALID_ARGUMENT. */
    bool float16_enabled;  /* borrowed: shaderFloat16 was enabled (false = VKATTN_PRECISION_FAST
                              runs as EXACT); vkattn's own devices enable it where present */
    bool cooperative_matrix_enabled; /* borrowed: a Vulkan 1.3 device created with
                              VK_KHR_cooperative_matrix's cooperativeMatrix feature, shaderFloat16,
                              storageBuffer16BitAccess, vulkanMemoryModel with
                              vulkanMemoryModelDeviceScope, and maintenance4 (and, where the device's subgroup
                              size varies, subgroupSizeControl and computeFullSubgroups); false
                              = no coopmat kernel. vkattn's own devices enable them where
                              present */
    uint32_t max_shared_memory; /* 0 = the device's maxComputeSharedMemorySize; else the kernels
                              use at most this many bytes of shared memory per workgroup, as on a
                              device that has no more (>= 16384, Vulkan's minimum: for tests of
                              small devices, e.g. 16 KiB phones). Anything else is
                              INVALID_ARGUMENT. */
} vkattn_context_desc;

/* Creates a context. desc may be NULL (all defaults). On success *out is a context that owns
 * whatever it created; on failure *out is NULL and nothing is left behind.
 * Errors: INVALID_ARGUMENT (desc fields), NO_DEVICE (no such index), UNSUPPORTED (the device
 * cannot run vkattn: no push descriptors, or a Vulkan version below 1.1), OUT_OF_*_MEMORY, VULKAN.
 * With VKATTN_DEVICE_DEFAULT and no usable Vulkan device, the context falls back to the CPU.
 * Thread-safety: contexts are independent; create/destroy are not synchronised with other calls on
 * the same context. */
VKATTN_API vkattn_result vkattn_context_create(const vkattn_context_desc *desc, vkattn_context *out);

/* Destroys what the context created (never the borrowed objects). NULL is a no-op. The caller
 * must make sure no command buffer recorded with it is still pending on the GPU. */
VKATTN_API void vkattn_context_destroy(vkattn_context ctx);

/* The context's pipeline cache as a blob to save and pass back as desc->pipeline_cache_data
 * next run (start-up time on phones). With data NULL, sets *size to the bytes needed; else
 * writes at most *size bytes and sets *size to the bytes written. A CPU context gives 0 bytes.
 * Errors: INVALID_ARGUMENT (NULL size, or *size too small), VULKAN. Thread-safe. */
VKATTN_API vkattn_result vkattn_pipeline_cache_data(vkattn_context ctx, void *data, size_t *size);

/* The message of the last failed call on this context (names the field and value), or "" if
 * none failed yet. One buffer per context: when several threads call at once, read it only
 * after they are done (the result codes themselves are always exact). */
VKATTN_API const char *vkattn_context_message(vkattn_context ctx);

/* True when the context runs on the CPU reference (no Vulkan device); false for NULL. */
VKATTN_API bool vkattn_context_is_cpu(vkattn_context ctx);

typedef struct vkattn_device_info {
    char name[256];
    char driver[256];             /* driver name and info, e.g. "llvmpipe Mesa 22.3.6" */
    VkPhysicalDeviceType type;
    uint32_t vendor_id, device_id;
    uint32_t api_version;         /* VK_MAKE_API_VERSION */
    uint32_t driver_version;
    uint32_t subgroup_size;
    uint32_t shared_memory;       /* maxComputeSharedMemorySize, bytes */
    bool fp16_storage;            /* storageBuffer16BitAccess: f16 through 16-bit storage (without
                                     it f16 runs too, read and written as 32-bit words) */
    bool fp16_arithmetic;         /* shaderFloat16 */
    bool push_descriptors;        /* VK_KHR_push_descriptor */
    bool cooperative_matrix;      /* VK_KHR_cooperative_matrix or VK_NV_cooperative_matrix */
    uint32_t min_subgroup_size;   /* the range a driver may pick from (subgroup size control); */
    uint32_t max_subgroup_size;   /* both subgroup_size where the device cannot say */
    bool subgroup_shuffle;        /* compute shaders have subgroup shuffles (the split-KV
                                     kernel then shares a key among several invocations) */
    uint32_t max_buffer_range;    /* maxStorageBufferRange: the most bytes one tensor may span
                                     from its bound offset (vkattn_cmd_attention returns
                                     UNSUPPORTED past it); UINT32_MAX for the CPU */
    bool subgroup_reduce;         /* compute shaders have subgroup arithmetic and votes (the
                                     split-KV kernel then merges a workgroup of one subgroup
                                     without shared memory or barriers) */
    uint32_t coopmat_shapes;      /* cooperative-matrix shapes the device offers, of any types
                                     (VK_KHR_cooperative_matrix; vkattn_coopmat_shapes lists
                                     them), 0 without the extension */
    bool coopmat_f16;             /* one of them is f16 x f16 + f32 -> f32 at subgroup scope
                                     in a shape the coopmat kernel has (16x16x16, 8x16x16,
                                     8x8x8);
                                     whether it runs also needs vkattn_build_has_coopmat(),
                                     Vulkan 1.3 and shaderFloat16 */
    uint32_t coopmat_m, coopmat_n, coopmat_k; /* that shape (16 x 16 x 16 where offered), else 0 */
} vkattn_device_info;

/* Fills infos[0..min(*count, n)) with the Vulkan devices in enumeration order and sets *count to
 * n, the number of devices; with infos NULL only counts. Creates and destroys a private instance.
 * Errors: NO_DEVICE when no Vulkan loader/driver is present (*count = 0). */
VKATTN_API vkattn_result vkattn_enumerate_devices(vkattn_device_info *infos, uint32_t *count);

/* Copies the device of a context to *info (for the CPU context: name "cpu", type
 * VK_PHYSICAL_DEVICE_TYPE_CPU). Does nothing when ctx or info is NULL. */
VKATTN_API void vkattn_context_device_info(vkattn_context ctx, vkattn_device_info *info);

/* The Vulkan objects a context runs on (its own or the borrowed ones), so that a caller of the
 * standalone path can allocate buffers, record and time on the same device. */
typedef struct vkattn_vulkan_handles {
    VkInstance instance;
    VkPhysicalDevice physical_device;
    VkDevice device;
    uint32_t queue_family;
    VkQueue queue;
    PFN_vkGetInstanceProcAddr get_instance_proc_addr;
    const VkAllocationCallbacks *allocator;
} vkattn_vulkan_handles;

/* Fills *out. The handles stay owned by the context (or the app) and live until
 * vkattn_context_destroy. Errors: INVALID_ARGUMENT (NULL), UNSUPPORTED (a CPU context). */
VKATTN_API vkattn_result vkattn_context_vulkan(vkattn_context ctx, vkattn_vulkan_handles *out);

/* ---------------------------------------------------------------------------------------------
 * Running attention
 * ------------------------------------------------------------------------------------------- */

/* A range of an app-owned VkBuffer (usage STORAGE_BUFFER). size 0 = to the end of the buffer
 * (VK_WHOLE_SIZE). offset must be a multiple of the element size (2 or 4 bytes; 1 for the mask).
 * flags: VKATTN_BUFFER_* below, 0 for none. */
typedef struct vkattn_buffer {
    VkBuffer buffer;
    VkDeviceSize offset, size;
    uint32_t flags;
} vkattn_buffer;

/* The buffer was also created with VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT. Where the tuning
 * says so (built in: on CPU drivers) and the context has push descriptors, the split-KV kernel
 * then reads K and V through uniform texel buffer views (R32G32B32A32_UINT) instead of storage
 * buffers: on lavapipe a texel fetch is a vector gather, a storage buffer load a loop over the
 * lanes (B1 H8 S2048 D64: 2.3x faster). The results are bitwise the same, except prefill with
 * head_dim above 64 on CPU drivers, which then runs a form that shares each fetch among 8 query
 * rows (another order of the sums, within the same accuracy bounds). The views are made on
 * first use and kept, like descriptor sets, until vkattn_release_buffer or
 * vkattn_context_destroy. A view covers the bound range rounded up to 64 KiB where a nonzero
 * size allows it (lavapipe compiles a pipeline once per view size class otherwise: give k and v
 * sizes that are multiples of 64 KiB, and buffers with power-of-two sizes, to compile each
 * pipeline once there). Only k and v look at this flag. */
#define VKATTN_BUFFER_TEXEL 1u

typedef struct vkattn_device_tensors {
    vkattn_buffer q, k, v, out; /* required */
    vkattn_buffer lse;          /* required when has_lse */
    vkattn_buffer q_lens, kv_lens; /* u32[B], required when has_q_lens / has_kv_lens */
    vkattn_buffer mask;         /* u8, required when a custom mask is given */
    vkattn_buffer page_table;   /* u32 [B, pages_per_seq], required when page_size != 0 */
    vkattn_buffer scratch;      /* split-KV partial results; required when
                                   vkattn_scratch_size() gives more than 0 bytes */
    vkattn_buffer q_start, kv_start; /* u32 [B], required when has_q_start / has_kv_start */
    vkattn_buffer sinks;        /* f32 [Hq], required when has_sinks */
    vkattn_buffer alibi;        /* f32 [Hq] or [B, Hq], required with ALiBi */
    vkattn_buffer cu_seqlens_q, cu_seqlens_kv; /* u32 [B + 1], required when packed */
} vkattn_device_tensors;

/* Records one attention into the app's command buffer cmd (in the recording state, outside a
 * render pass, from a pool of the context's queue family). Never submits or waits. Pipelines are
 * created on first use of a (dtype, head size) and cached in the context. Descriptors are pushed
 * (VK_KHR_push_descriptor), so any number of command buffers recorded with one context may be
 * pending at once. Without the extension, each distinct combination of bound VkBuffers gets a
 * descriptor set on first use that is written once and kept until vkattn_release_buffer or
 * vkattn_context_destroy, so the same holds and recording with buffers seen before creates
 * nothing.
 *
 * mask: the u8 mask is read in 4-byte words; the buffer must extend to the next multiple of 4
 * bytes past the end of the mask. bf16 everywhere, and f16 on a context without 16-bit storage
 * (vkattn_device_info.fp16_storage false, or a borrowed device without it enabled): the same for
 * q, k, v and out, which are read and written in 4-byte words; out's words are written with
 * atomics that keep the 2 bytes beside an odd start or end of out as they are (no other work may
 * write those bytes while the call runs). q_start, kv_start, sinks, alibi and the cu_seqlens are bound from their
 * offsets rounded down to minStorageBufferOffsetAlignment (without push descriptors, each such
 * offset is then a descriptor set of its own); their values are not checked on the GPU (starts
 * and lengths past Sq / Skv are clamped, so no read leaves a tensor; a non-finite sink or slope
 * gives NaN or 0 rows). out and lse must not overlap any tensor: overlaps within one
 * VkBuffer are rejected (INVALID_ARGUMENT); different VkBuffers aliasing one memory are not
 * detected and are the caller's to avoid.
 *
 * Synchronisation: before the call, the writes to q/k/v/q_lens/kv_lens/mask must be made visible
 * to COMPUTE_SHADER reads (a barrier with dstStage COMPUTE_SHADER, dstAccess SHADER_READ), and
 * earlier reads or writes of out/lse must be finished (dstAccess SHADER_WRITE). After it, out and
 * lse are written by COMPUTE_SHADER (srcAccess SHADER_WRITE); the caller barriers before using them.
 * The call changes the compute pipeline binding and push constants of cmd. When the keys are split
 * (vkattn_scratch_size() > 0) it records two dispatches with a compute-to-compute memory barrier
 * between them, and scratch (which must not overlap any tensor) is written and read in cmd;
 * otherwise one dispatch.
 *
 * Errors: INVALID_ARGUMENT (problem or a buffer range too small for the extent it needs),
 * UNSUPPORTED (a CPU context, a tensor past maxStorageBufferRange), OUT_OF_*_MEMORY / VULKAN
 * (pipeline creation). Thread-safety: may be called from several threads at once on one context, each
 * with its own command buffer. */
VKATTN_API vkattn_result vkattn_cmd_attention(vkattn_context ctx, VkCommandBuffer cmd,
                                              const vkattn_problem *problem,
                                              const vkattn_device_tensors *tensors);

/* Creates now every pipeline that vkattn_cmd_attention (or vkattn_attention) will need for these
 * problems on this context, so that those calls create none and a frame never waits for a
 * shader compiler: at load time, or on threads of the app's own (the library starts none).
 * Several threads may prepare on one context at once, each compiling its own pipelines while
 * the others compile theirs; a pipeline two threads both need is kept once. The pipelines are
 * those of calls whose tensors start on 16 bytes, as vkattn_attention's do; kv_flags says how
 * K and V will be bound (0, or VKATTN_BUFFER_TEXEL). A call with other offsets or flags may
 * still make a pipeline of its own on first use. A CPU context has nothing to prepare.
 * Errors: INVALID_ARGUMENT (NULL problems with a count, bad kv_flags, an invalid problem: the
 * message names problems[i]; then nothing is made), OUT_OF_*_MEMORY / VULKAN (pipeline
 * creation; the pipelines made before stay). Thread-safety: as vkattn_cmd_attention. */
VKATTN_API vkattn_result vkattn_prepare(vkattn_context ctx, const vkattn_problem *problems,
                                        uint32_t count, uint32_t kv_flags);

/* The scratch bytes vkattn_cmd_attention needs in tensors->scratch for this problem on this
 * context (0 when the problem runs without split-KV). The split is chosen from the problem's
 * shape and kv_splits, never from the data, so the size can be allocated once per shape.
 * Errors: INVALID_ARGUMENT (NULL, or an invalid problem), UNSUPPORTED (a CPU context). */
VKATTN_API vkattn_result vkattn_scratch_size(vkattn_context ctx, const vkattn_problem *problem,
                                             uint64_t *bytes);

/* What vkattn_cmd_attention does for one problem on one context (vkattn_problem_plan). */
typedef struct vkattn_plan {
    vkattn_kernel kernel;     /* the form that runs: ROWWISE, TILED, SPLIT_KV or COOPMAT */
    const char *reason;       /* why, in one line (a static string) */
    const char *module;       /* its SPIR-V module, as vkattn_modules names it */
    uint32_t constants[8];    /* its specialization constants, in the module's order */
    uint32_t constant_count;  /* equal module and constants: one pipeline */
    uint32_t query_rows;      /* query rows a workgroup takes */
    uint32_t kv_keys;         /* keys per K/V tile (SPLIT_KV: per key range); a tile no row
                                 of the workgroup can see is skipped */
    uint32_t workgroup;       /* invocations per workgroup */
    uint32_t groups[3];       /* the kernel's dispatch */
    uint32_t splits;          /* key ranges: 1, or that many merged by merge_module */
    const char *merge_module; /* NULL where splits is 1 */
    uint64_t scratch_bytes;   /* as vkattn_scratch_size */
} vkattn_plan;

/* The plan vkattn_cmd_attention follows for this problem on this context, for a call whose
 * tensors start on 16 bytes, with K and V bound with kv_flags (0 or VKATTN_BUFFER_TEXEL), as
 * vkattn_prepare assumes. Like the scratch size it follows from the shape, never the data.
 * Creates nothing. For reports, benchmarks and tests.
 * Errors: INVALID_ARGUMENT (NULL ctx, problem or plan, bad kv_flags, or an invalid problem),
 * UNSUPPORTED (a CPU context). */
VKATTN_API vkattn_result vkattn_problem_plan(vkattn_context ctx, const vkattn_problem *problem,
                                             uint32_t kv_flags, vkattn_plan *plan);

/* The kernel of vkattn_problem_plan (kv_flags 0) and its key ranges (splits may be NULL).
 * Errors as vkattn_problem_plan. */
VKATTN_API vkattn_result vkattn_problem_kernel(vkattn_context ctx, const vkattn_problem *problem,
                                               vkattn_kernel *kernel, uint32_t *splits);

/* The SPIR-V modules built into this library, by name (static strings such as "attn_f16" or
 * "decode_texel_f16w"; "_f16w" modules read and write f16 as 32-bit words, for devices without
 * 16-bit storage): writes the first min(count, capacity) to names (may be NULL) and returns the
 * count. Never fails. */
VKATTN_API uint32_t vkattn_modules(const char **names, uint32_t capacity);

/* The modules of the pipelines this context has created so far, one name per pipeline (a
 * module specialised for two head sizes appears twice; no particular order): writes the first
 * min(count, capacity) to modules (may be NULL) and returns the count; 0 for NULL or a CPU
 * context. A pipeline is created when a call first records it, so this says which code has run
 * (for reports, and for tests that check every module is exercised). Thread-safety: as
 * vkattn_cmd_attention. */
VKATTN_API uint32_t vkattn_context_pipelines(vkattn_context ctx, const char **modules,
                                             uint32_t capacity);

/* ---------------------------------------------------------------------------------------------
 * Tuning: how the kernels are shaped on this device
 *
 * Each context starts from a built-in table keyed by vendor and device type (then fitted to the
 * device's limits). A tuning overrides it for one (class, dtype, head_dim); `vkattn tune`
 * searches the space on a device and saves its winners with vkattn_tuning_save(); an app loads
 * such text with vkattn_tuning_load() (it chooses where the text lives; vkattn reads and writes
 * no files). Desc fields (kernel, decode_parts) still win over any tuning.
 * ------------------------------------------------------------------------------------------- */
typedef enum vkattn_tuning_class {
    VKATTN_TUNING_PREFILL = 0, /* every problem that is not a decode step */
    VKATTN_TUNING_DECODE = 1,  /* decode steps: Sq <= 16 and Skv >= 1024 */
} vkattn_tuning_class;

/* The class of a problem (no checks; p must not be NULL). */
VKATTN_API vkattn_tuning_class vkattn_tuning_class_of(const vkattn_problem *p);

/* Zero in any field = the built-in choice for it. */
typedef struct vkattn_tuning {
    vkattn_kernel kernel;  /* which kernel runs the class (AUTO = built-in) */
    uint32_t rows;         /* split-KV kernel: query rows per workgroup: 1, 2, 4 or 8 (fewer
                              where rows x head_dim would exceed the device's register budget) */
    uint32_t workgroup;    /* split-KV kernel: invocations per workgroup: a power of two, 1..64,
                              at most maxComputeWorkGroupInvocations */
    uint32_t parts;        /* split-KV kernel: invocations per key, 1, 2, 4 or 8, as
                              vkattn_context_desc.decode_parts */
    uint32_t split_target; /* split-KV kernel: workgroups the automatic key split aims at
                              (1 = never split automatically), at most 65536 */
    uint32_t f16_scores;   /* VKATTN_PRECISION_FAST problems: 1 = computed as EXACT, 2 = f16
                              scores (where the device has shaderFloat16) */
    uint32_t texel;        /* split-KV kernel: 1 = K/V through storage buffers, 2 = through
                              texel buffer views where k and v have VKATTN_BUFFER_TEXEL */
} vkattn_tuning;

/* Sets (tuning non-NULL) or clears (NULL: back to built-in) the tuning of one class, dtype and
 * head size. Takes effect for commands recorded afterwards (pipelines are made on first use).
 * Not synchronised with recording on the same context.
 * Errors: INVALID_ARGUMENT (a field out of its range, head_dim outside 1..256, bad class or dtype;
 * the message names it; nothing changes), UNSUPPORTED (a CPU context). */
VKATTN_API vkattn_result vkattn_tuning_set(vkattn_context ctx, vkattn_tuning_class cls,
                                           vkattn_dtype dtype, uint32_t head_dim,
                                           const vkattn_tuning *tuning);

/* The tuning set for (cls, dtype, head_dim): zero fields where none is set.
 * Errors: as vkattn_tuning_set, and NULL out. */
VKATTN_API vkattn_result vkattn_tuning_get(vkattn_context ctx, vkattn_tuning_class cls,
                                           vkattn_dtype dtype, uint32_t head_dim,
                                           vkattn_tuning *out);

/* The tuning the planner uses for (cls, dtype, head_dim): the built-in table's row for this device
 * with the set fields over it, workgroup resolved; rows and parts stay 0 where they follow the
 * problem (packed rows; key sharing grown as registers require). Errors: as vkattn_tuning_get. */
VKATTN_API vkattn_result vkattn_tuning_effective(vkattn_context ctx, vkattn_tuning_class cls,
                                                 vkattn_dtype dtype, uint32_t head_dim,
                                                 vkattn_tuning *out);

/* Every tuning set on the context as text: a header, a "device" line naming this device (vendor
 * id, device id, name), one line per (class, dtype, head_dim). With text NULL, sets *size to the
 * bytes needed (with the final NUL); else writes that many and sets *size to them.
 * Errors: INVALID_ARGUMENT (NULL size, *size too small: nothing written), UNSUPPORTED (CPU). */
VKATTN_API vkattn_result vkattn_tuning_save(vkattn_context ctx, char *text, size_t *size);

/* Applies text from vkattn_tuning_save (of this or another device; several may be concatenated:
 * only the sections whose device line names this device apply), read up to size bytes or the
 * first NUL. All or nothing: on an error nothing changes and the message gives the line.
 * *applied (may be NULL) receives the number of tunings applied. Not synchronised with
 * recording on the same context. Errors: INVALID_ARGUMENT (NULL text, syntax, a value out of
 * range), UNSUPPORTED (a CPU context), OUT_OF_HOST_MEMORY. */
VKATTN_API vkattn_result vkattn_tuning_load(vkattn_context ctx, const char *text, size_t size,
                                            uint32_t *applied);

/* Merging two partial results over disjoint key sets (chunked prefill, shared-prefix cascades):
 * given (O1, LSE1) from keys K1 and (O2, LSE2) from keys K2 of the same queries, out and lse
 * become attention over K1 u K2: with M = max(LSE1, LSE2) and w_n = exp(LSE_n - M),
 * O = (w_1 O1 + w_2 O2) / (w_1 + w_2) and LSE = M + ln(w_1 + w_2). A part with LSE = -inf
 * (no visible key) weighs 0; both -inf give O = 0 and LSE = -inf; a NaN LSE makes the row NaN.
 * Parts computed with sinks each hold the sink: give it to one of them only (has_sinks on one
 * part's attention), or the merge counts it twice.
 * The problem gives B, Hq, Sq, the head size of O (head_dim_v, else head_dim), dtype and the
 * strides of the O tensors (problem->out, for all three; their defaults as for attention,
 * packed included); LSEs are dense f32 [B, Hq, Sq] ([Hq, Tq] packed); the other fields are
 * ignored. lse may be NULL. */
typedef struct vkattn_merge_host {
    const void *o1, *o2;     /* dtype, problem->out strides */
    const float *lse1, *lse2;
    void *out;               /* may be o1 or o2 (in place) */
    float *lse;              /* optional; may be lse1 or lse2 */
} vkattn_merge_host;

/* CPU merge (float64 arithmetic). Errors: INVALID_ARGUMENT (problem or NULL pointers). */
VKATTN_API vkattn_result vkattn_merge_reference(const vkattn_problem *problem,
                                                const vkattn_merge_host *t, char *msg,
                                                size_t msg_size);

typedef struct vkattn_merge_tensors {
    vkattn_buffer o1, o2, lse1, lse2; /* required */
    vkattn_buffer out;                /* required; must not overlap the inputs */
    vkattn_buffer lse;                /* optional (buffer VK_NULL_HANDLE = not written) */
} vkattn_merge_tensors;

/* GPU merge recorded into cmd, with the synchronisation rules of vkattn_cmd_attention.
 * Errors: INVALID_ARGUMENT, UNSUPPORTED (CPU context), pipeline
 * creation failures. Thread-safety as vkattn_cmd_attention. */
VKATTN_API vkattn_result vkattn_cmd_merge(vkattn_context ctx, VkCommandBuffer cmd,
                                          const vkattn_problem *problem,
                                          const vkattn_merge_tensors *tensors);

/* Forgets a VkBuffer before the app destroys it: destroys the descriptor sets (contexts without
 * push descriptors) and texel views (k and v with VKATTN_BUFFER_TEXEL) cached for it, which
 * name it by handle (a new buffer may reuse a destroyed one's handle). A no-op where there are
 * none, so engines can call it always; without it they live until vkattn_context_destroy. The
 * GPU must have finished every command buffer recorded with the buffer. Thread-safe.
 * Errors: INVALID_ARGUMENT (NULL ctx). */
VKATTN_API vkattn_result vkattn_release_buffer(vkattn_context ctx, VkBuffer buffer);

/* Whether this build of the library holds the cooperative-matrix kernel (it needs a glslc
 * that compiles GL_KHR_cooperative_matrix at build time). */
VKATTN_API bool vkattn_build_has_coopmat(void);

/* One cooperative-matrix shape a device offers (VkCooperativeMatrixPropertiesKHR): C (M x N) +=
 * A (M x K) * B (K x N), the types as VkComponentTypeKHR values (0 f16, 1 f32, 3 s8, 7 u8, ...),
 * scope as VkScopeKHR (3 = subgroup). */
typedef struct vkattn_coopmat_shape {
    uint32_t m, n, k;
    uint32_t a_type, b_type, c_type, result_type;
    uint32_t scope;
    bool used; /* the coopmat kernel uses this one on this context */
} vkattn_coopmat_shape;

/* Fills shapes[0..min(*count, n)) with the shapes the context's device offers and sets *count
 * to n (0 without VK_KHR_cooperative_matrix, and for a CPU context); with shapes NULL only
 * counts. Errors: INVALID_ARGUMENT (NULL ctx or count), VULKAN (the query failed). */
VKATTN_API vkattn_result vkattn_coopmat_shapes(vkattn_context ctx, vkattn_coopmat_shape *shapes,
                                               uint32_t *count);

/* The tile shape of the kernel that runs a prefill problem of (dtype, head_dim) on this context
 * (B1 H1 S1024, K/V bound as texel-capable buffers: vkattn_problem_plan's query_rows and
 * kv_keys): query rows per workgroup and keys per K/V tile (the split-KV kernel: per key range).
 * A K/V tile is skipped when no query row of the workgroup can see any of its keys under the
 * causal/window/padding rules. Creates nothing. Errors: INVALID_ARGUMENT (NULL
 * outputs, head_dim outside 1..256, bad dtype), UNSUPPORTED (a CPU context has no tiles). */
VKATTN_API vkattn_result vkattn_kernel_tiles(vkattn_context ctx, vkattn_dtype dtype,
                                             uint32_t head_dim, uint32_t *query_rows,
                                             uint32_t *kv_keys);

/* Convenience: copies host tensors to the device, runs, waits and copies the results back (or
 * runs the CPU reference on a CPU context). Uses the context's queue; not thread-safe on the same
 * context (callers serialise it). Errors as vkattn_cmd_attention plus DEVICE_LOST. */
VKATTN_API vkattn_result vkattn_attention(vkattn_context ctx, const vkattn_problem *problem,
                                          const vkattn_host_tensors *tensors);

#ifdef __cplusplus
}
#endif
#endif /* VKATTN_H */
