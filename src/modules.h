/* The SPIR-V modules built into the library (shaders/meson.build compiles them), looked up by the
 * options that select them: a kernel source's form and how its tensors store their elements. */
#ifndef VKATTN_MODULES_H
#define VKATTN_MODULES_H

#include <stddef.h>
#include <stdint.h>

/* How a module's tensors hold elements (shaders/storage.glsl). */
typedef enum module_store {
    STORE_F32,
    STORE_F16,  /* 16-bit storage (storageBuffer16BitAccess) */
    STORE_F16W, /* f16 as 32-bit words: devices without 16-bit storage */
    STORE_BF16W, /* bf16 as 32-bit words (every device) */
    STORE_COUNT
} module_store;

/* The kernel sources' forms: attention.comp (its rowwise and tiled forms are one module),
 * decode.comp's compile-time forms, merge.comp. The coopmat modules are per matrix shape
 * (vkattn__coopmat_module). */
typedef enum module_form {
    FORM_ATTN,
    FORM_DECODE,              /* shared-memory merge */
    FORM_DECODE_SHUFFLE,      /* invocations share a key (PARTS > 1) */
    FORM_DECODE_FAST,         /* f16 scores */
    FORM_DECODE_SHUFFLE_FAST,
    FORM_DECODE_SG,           /* the workgroup is one subgroup: merged by subgroup reductions */
    FORM_DECODE_TEXEL,        /* K/V through texel views */
    FORM_DECODE_ROWS,         /* texel views, invocations take query rows */
    FORM_MERGE,
    FORM_COUNT
} module_form;

typedef struct vkattn__module {
    const char *name; /* as in shaders/meson.build, e.g. "decode_texel_f16w" */
    const uint32_t *code;
    size_t size;      /* bytes */
} vkattn__module;

/* The module of (form, store); NULL where none is built (the fast forms are f16 only, and have
 * no word form: their scores take f16 values as such). */
const vkattn__module *vkattn__module_of(module_form form, module_store store);

/* The coopmat module of matrix shape m x n x k; NULL where the build has none. */
const vkattn__module *vkattn__coopmat_module(uint32_t m, uint32_t n, uint32_t k);

#endif
