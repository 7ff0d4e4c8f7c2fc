/* The module table (src/modules.h): every SPIR-V module the library embeds, by name. */
#include "modules.h"

#include "coopmat_shapes.h"
#include "vkattn/vkattn.h"

static const uint32_t attn_f32_spv[] =
#include "shaders/attn_f32.spv.h"
    ;
static const uint32_t attn_f16_spv[] =
#include "shaders/attn_f16.spv.h"
    ;
static const uint32_t attn_f16w_spv[] =
#include "shaders/attn_f16w.spv.h"
    ;
static const uint32_t decode_f32_spv[] =
#include "shaders/decode_f32.spv.h"
    ;
static const uint32_t decode_f16_spv[] =
#include "shaders/decode_f16.spv.h"
    ;
static const uint32_t decode_f16w_spv[] =
#include "shaders/decode_f16w.spv.h"
    ;
static const uint32_t decode_shuffle_f32_spv[] =
#include "shaders/decode_shuffle_f32.spv.h"
    ;
static const uint32_t decode_shuffle_f16_spv[] =
#include "shaders/decode_shuffle_f16.spv.h"
    ;
static const uint32_t decode_shuffle_f16w_spv[] =
#include "shaders/decode_shuffle_f16w.spv.h"
    ;
static const uint32_t decode_fast_f16_spv[] =
#include "shaders/decode_fast_f16.spv.h"
    ;
static const uint32_t decode_shuffle_fast_f16_spv[] =
#include "shaders/decode_shuffle_fast_f16.spv.h"
    ;
static const uint32_t decode_sg_f32_spv[] =
#include "shaders/decode_sg_f32.spv.h"
    ;
static const uint32_t decode_sg_f16_spv[] =
#include "shaders/decode_sg_f16.spv.h"
    ;
static const uint32_t decode_sg_f16w_spv[] =
#include "shaders/decode_sg_f16w.spv.h"
    ;
static const uint32_t decode_texel_f32_spv[] =
#include "shaders/decode_texel_f32.spv.h"
    ;
static const uint32_t decode_texel_f16_spv[] =
#include "shaders/decode_texel_f16.spv.h"
    ;
static const uint32_t decode_texel_f16w_spv[] =
#include "shaders/decode_texel_f16w.spv.h"
    ;
static const uint32_t decode_rows_f32_spv[] =
#include "shaders/decode_rows_f32.spv.h"
    ;
static const uint32_t decode_rows_f16_spv[] =
#include "shaders/decode_rows_f16.spv.h"
    ;
static const uint32_t decode_rows_f16w_spv[] =
#include "shaders/decode_rows_f16w.spv.h"
    ;
static const uint32_t merge_f32_spv[] =
#include "shaders/merge_f32.spv.h"
    ;
static const uint32_t merge_f16_spv[] =
#include "shaders/merge_f16.spv.h"
    ;
static const uint32_t merge_f16w_spv[] =
#include "shaders/merge_f16w.spv.h"
    ;
static const uint32_t attn_bf16w_spv[] =
#include "shaders/attn_bf16w.spv.h"
    ;
static const uint32_t merge_bf16w_spv[] =
#include "shaders/merge_bf16w.spv.h"
    ;

#define MODULE(n) {#n, n##_spv, sizeof n##_spv}
static const vkattn__module modules[FORM_COUNT][STORE_COUNT] = {
    [FORM_ATTN] = {
        [STORE_F32] = MODULE(attn_f32),
        [STORE_F16] = MODULE(attn_f16),
        [STORE_F16W] = MODULE(attn_f16w),
        [STORE_BF16W] = MODULE(attn_bf16w),
    },
    [FORM_DECODE] = {
        [STORE_F32] = MODULE(decode_f32),
        [STORE_F16] = MODULE(decode_f16),
        [STORE_F16W] = MODULE(decode_f16w),
    },
    [FORM_DECODE_SHUFFLE] = {
        [STORE_F32] = MODULE(decode_shuffle_f32),
        [STORE_F16] = MODULE(decode_shuffle_f16),
        [STORE_F16W] = MODULE(decode_shuffle_f16w),
    },
    [FORM_DECODE_FAST] = {[STORE_F16] = MODULE(decode_fast_f16)},
    [FORM_DECODE_SHUFFLE_FAST] = {[STORE_F16] = MODULE(decode_shuffle_fast_f16)},
    [FORM_DECODE_SG] = {
        [STORE_F32] = MODULE(decode_sg_f32),
        [STORE_F16] = MODULE(decode_sg_f16),
        [STORE_F16W] = MODULE(decode_sg_f16w),
    },
    [FORM_DECODE_TEXEL] = {
        [STORE_F32] = MODULE(decode_texel_f32),
        [STORE_F16] = MODULE(decode_texel_f16),
        [STORE_F16W] = MODULE(decode_texel_f16w),
    },
    [FORM_DECODE_ROWS] = {
        [STORE_F32] = MODULE(decode_rows_f32),
        [STORE_F16] = MODULE(decode_rows_f16),
        [STORE_F16W] = MODULE(decode_rows_f16w),
    },
    [FORM_MERGE] = {
        [STORE_F32] = MODULE(merge_f32),
        [STORE_F16] = MODULE(merge_f16),
        [STORE_F16W] = MODULE(merge_f16w),
        [STORE_BF16W] = MODULE(merge_bf16w),
    },
};

const vkattn__module *vkattn__module_of(module_form form, module_store store)
{
    if ((unsigned)form >= FORM_COUNT || (unsigned)store >= STORE_COUNT || !modules[form][store].code)
        return NULL;
    return &modules[form][store];
}

#ifdef VKATTN_HAVE_COOPMAT
static const uint32_t attn_coopmat_16x16x16_f16_spv[] =
#include "shaders/attn_coopmat_16x16x16_f16.spv.h"
    ;
static const uint32_t attn_coopmat_8x16x16_f16_spv[] =
#include "shaders/attn_coopmat_8x16x16_f16.spv.h"
    ;
static const uint32_t attn_coopmat_8x8x8_f16_spv[] =
#include "shaders/attn_coopmat_8x8x8_f16.spv.h"
    ;
/* The module of each shape of src/coopmat_shapes.h. */
static const struct coopmat_module {
    uint32_t m, n, k;
    vkattn__module module;
} coopmat_modules[] = {
#define SHAPE(m, n, k) {m, n, k, MODULE(attn_coopmat_##m##x##n##x##k##_f16)},
    VKATTN_COOPMAT_SHAPES(SHAPE)
#undef SHAPE
};
#define N_COOPMAT (sizeof coopmat_modules / sizeof coopmat_modules[0])
#else
#define N_COOPMAT 0
#endif

const vkattn__module *vkattn__coopmat_module(uint32_t m, uint32_t n, uint32_t k)
{
#ifdef VKATTN_HAVE_COOPMAT
    for (size_t i = 0; i < N_COOPMAT; ++i)
        if (coopmat_modules[i].m == m && coopmat_modules[i].n == n && coopmat_modules[i].k == k)
            return &coopmat_modules[i].module;
#else
    (void)m, (void)n, (void)k;
#endif
    return NULL;
}

uint32_t vkattn_modules(const char **names, uint32_t capacity)
{
    uint32_t count = 0;
    for (int f = 0; f < FORM_COUNT; ++f)
        for (int s = 0; s < STORE_COUNT; ++s)
            if (modules[f][s].code) {
                if (names && count < capacity)
                    names[count] = modules[f][s].name;
                count++;
            }
#ifdef VKATTN_HAVE_COOPMAT
    for (size_t i = 0; i < N_COOPMAT; ++i) {
        if (names && count < capacity)
            names[count] = coopmat_modules[i].module.name;
        count++;
    }
#endif
    return count;
}
