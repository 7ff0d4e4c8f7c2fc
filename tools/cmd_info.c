/* vkattn info: the Vulkan devices and which one is the default. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

/* The index the default choice takes (VKATTN_DEVICE, else the first GPU, else 0), or -1 for
 * the CPU. */
static int default_index(const vkattn_device_info *d, uint32_t n)
{
    const char *env = getenv("VKATTN_DEVICE");
    if (env && *env) {
        char *end;
        unsigned long i = strtoul(env, &end, 10);
        return *end == '\0' && end != env && i < n ? (int)i : -1;
    }
    for (uint32_t i = 0; i < n; ++i)
        if (d[i].type == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ||
            d[i].type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ||
            d[i].type == VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU)
            return (int)i;
    return n ? 0 : -1;
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; ++s) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static const char *component_name(uint32_t t)
{
    static const char *const names[] = {"f16", "f32", "f64", "s8", "s16", "s32", "s64",
                                        "u8",  "u16", "u32", "u64"};
    return t < sizeof names / sizeof names[0] ? names[t] : "other";
}

static const char *scope_name(uint32_t s)
{
    return s == 1 ? "device" : s == 2 ? "workgroup" : s == 3 ? "subgroup" : s == 5 ? "queue family"
                                                                              : "other";
}

/* The cooperative-matrix kernel on device i: what the build and the device offer, the shape it
 * uses, and whether it runs (a context that forces it says why not). */
static void print_coopmat(uint32_t i, const vkattn_device_info *x, bool json)
{
    vkattn_coopmat_shape shapes[64];
    uint32_t n = 0;
    char why[256] = "";
    vkattn_context ctx = NULL;
    vkattn_context_desc desc = {.kind = VKATTN_DEVICE_INDEX, .device_index = i,
                                .kernel = VKATTN_KERNEL_COOPMAT, .message = why,
                                .message_size = sizeof why};
    vkattn_result res = vkattn_context_create(&desc, &ctx);
    if (res != VKATTN_SUCCESS) {
        desc.kernel = VKATTN_KERNEL_AUTO; /* the shapes all the same */
        desc.message = NULL;
        vkattn_context_create(&desc, &ctx);
    }
    n = sizeof shapes / sizeof shapes[0];
    if (!ctx || vkattn_coopmat_shapes(ctx, shapes, &n) != VKATTN_SUCCESS)
        n = 0;
    if (n > sizeof shapes / sizeof shapes[0])
        n = sizeof shapes / sizeof shapes[0];
    vkattn_context_destroy(ctx);
    const char *reason = strstr(why, "coopmat: ") ? strstr(why, "coopmat: ") + 9 : why;
    if (json) {
        printf(", \"coopmat\": {\"build\": %s, \"kernel\": %s, \"why_not\": ",
               vkattn_build_has_coopmat() ? "true" : "false",
               res == VKATTN_SUCCESS ? "true" : "false");
        if (res == VKATTN_SUCCESS)
            printf("null");
        else
            json_string(reason);
        printf(", \"used\": ");
        if (x->coopmat_f16 && res == VKATTN_SUCCESS)
            printf("[%u, %u, %u]", x->coopmat_m, x->coopmat_n, x->coopmat_k);
        else
            printf("null");
        printf(", \"shapes\": [");
        for (uint32_t s = 0; s < n; ++s)
            printf("%s{\"m\": %u, \"n\": %u, \"k\": %u, \"a\": \"%s\", \"b\": \"%s\", "
                   "\"c\": \"%s\", \"result\": \"%s\", \"scope\": \"%s\", \"used\": %s}",
                   s ? ", " : "", shapes[s].m, shapes[s].n, shapes[s].k,
                   component_name(shapes[s].a_type), component_name(shapes[s].b_type),
                   component_name(shapes[s].c_type), component_name(shapes[s].result_type),
                   scope_name(shapes[s].scope), shapes[s].used ? "true" : "false");
        printf("]}");
        return;
    }
    printf("    coopmat kernel: build %s, device %u shape%s", vkattn_build_has_coopmat() ? "yes" : "no",
           n, n == 1 ? "" : "s");
    for (uint32_t s = 0; s < n; ++s)
        printf("%s %ux%ux%u %s*%s+%s->%s %s%s", s ? "," : ":", shapes[s].m, shapes[s].n,
               shapes[s].k, component_name(shapes[s].a_type), component_name(shapes[s].b_type),
               component_name(shapes[s].c_type), component_name(shapes[s].result_type),
               scope_name(shapes[s].scope), shapes[s].used ? " (used)" : "");
    if (res == VKATTN_SUCCESS)
        printf("; runs with %ux%ux%u\n", x->coopmat_m, x->coopmat_n, x->coopmat_k);
    else
        printf("; off: %s\n", reason);
}

/* Which form the planner gives two typical problems on device i (vkattn_problem_plan). */
static void print_forms(uint32_t i, bool json)
{
    static const struct { const char *key, *label; vkattn_problem p; } typical[] = {
        {"prefill_f16_d128", "f16 prefill B1 H8 S2048 D128",
         {.batch = 1, .heads_q = 8, .heads_kv = 8, .seq_q = 2048, .seq_kv = 2048,
          .head_dim = 128, .dtype = VKATTN_DTYPE_F16, .causal = true}},
        {"decode_f16_d128", "f16 decode step Hq32 Hkv8 Skv4096 D128",
         {.batch = 1, .heads_q = 32, .heads_kv = 8, .seq_q = 1, .seq_kv = 4096,
          .head_dim = 128, .dtype = VKATTN_DTYPE_F16}},
    };
    vkattn_context ctx = NULL;
    const vkattn_context_desc desc = {.kind = VKATTN_DEVICE_INDEX, .device_index = i};
    if (vkattn_context_create(&desc, &ctx) != VKATTN_SUCCESS) {
        vkattn_context_destroy(ctx);
        return;
    }
    printf(json ? ", \"plans\": {" : "    plans:");
    for (size_t k = 0; k < sizeof typical / sizeof typical[0]; ++k) {
        vkattn_plan plan;
        if (vkattn_problem_plan(ctx, &typical[k].p, VKATTN_BUFFER_TEXEL, &plan) != VKATTN_SUCCESS)
            continue;
        if (json)
            printf("%s\"%s\": {\"kernel\": \"%s\", \"module\": \"%s\", \"splits\": %u}",
                   k ? ", " : "", typical[k].key, vkattn_kernel_name(plan.kernel), plan.module,
                   plan.splits);
        else
            printf("%s %s runs %s (%s, %u key range%s)", k ? ";" : "", typical[k].label,
                   vkattn_kernel_name(plan.kernel), plan.module, plan.splits,
                   plan.splits == 1 ? "" : "s");
    }
    printf(json ? "}" : "\n");
    vkattn_context_destroy(ctx);
}

int cmd_info(int argc, char **argv)
{
    cli c;
    cli_init(&c, "info", argc, argv);
    bool json = false;
    int rc;
    while ((rc = cli_next(&c)) == 1) {
        if (cli_is(&c, "--json"))
            rc = cli_switch(&c), json = true;
        else if (cli_is(&c, "--help")) {
            printf("usage: vkattn info [--json]\nLists the Vulkan devices (index, name, type, "
                   "driver, API version, subgroup size, shared memory, fp16, cooperative matrix).\n");
            return 0;
        } else
            rc = cli_unknown(&c);
        if (rc < 0)
            return 2;
    }
    if (rc < 0)
        return 2;
    uint32_t n = 0;
    vkattn_device_info *d = NULL;
    if (vkattn_enumerate_devices(NULL, &n) == VKATTN_SUCCESS && n) {
        d = calloc(n, sizeof *d);
        if (!d || vkattn_enumerate_devices(d, &n) != VKATTN_SUCCESS)
            n = 0;
    }
    int def = default_index(d, n);
    if (json) {
        printf("{\"default\": ");
        if (def < 0)
            printf("\"cpu\"");
        else
            printf("%d", def);
        printf(", \"devices\": [");
    }
    for (uint32_t i = 0; i < n; ++i) {
        const vkattn_device_info *x = &d[i];
        char api[32];
        snprintf(api, sizeof api, "%u.%u.%u", VK_API_VERSION_MAJOR(x->api_version),
                 VK_API_VERSION_MINOR(x->api_version), VK_API_VERSION_PATCH(x->api_version));
        if (json) {
            printf("%s\n  {\"index\": %u, \"name\": ", i ? "," : "", i);
            json_string(x->name);
            printf(", \"type\": \"%s\", \"vendor_id\": %u, \"device_id\": %u, \"driver\": ",
                   cli_device_type_name(x->type), x->vendor_id, x->device_id);
            json_string(x->driver);
            printf(", \"api_version\": \"%s\", \"subgroup_size\": %u, \"min_subgroup_size\": %u, "
                   "\"max_subgroup_size\": %u, \"subgroup_shuffle\": %s, \"subgroup_reduce\": %s, "
                   "\"shared_memory\": %u, "
                   "\"max_buffer_range\": %u, "
                   "\"fp16_storage\": %s, \"fp16_arithmetic\": %s, \"push_descriptors\": %s, "
                   "\"cooperative_matrix\": %s, \"default\": %s",
                   api, x->subgroup_size, x->min_subgroup_size, x->max_subgroup_size,
                   x->subgroup_shuffle ? "true" : "false", x->subgroup_reduce ? "true" : "false",
                   x->shared_memory, x->max_buffer_range, x->fp16_storage ? "true" : "false",
                   x->fp16_arithmetic ? "true" : "false", x->push_descriptors ? "true" : "false",
                   x->cooperative_matrix ? "true" : "false", (int)i == def ? "true" : "false");
            print_coopmat(i, x, true);
            print_forms(i, true);
            printf("}");
        } else {
            printf("%u%s %s\n    type %s, vendor 0x%04x, driver %s, Vulkan %s\n"
                   "    subgroup %u (%u..%u%s%s), shared memory %u bytes, buffer range %u bytes,\n"
                   "    fp16 storage %s, fp16 math %s, "
                   "push descriptors %s, cooperative matrix %s\n",
                   i, (int)i == def ? "*" : " ", x->name, cli_device_type_name(x->type), x->vendor_id,
                   x->driver, api, x->subgroup_size, x->min_subgroup_size, x->max_subgroup_size,
                   x->subgroup_shuffle ? ", shuffles" : "",
                   x->subgroup_reduce ? ", reductions" : "", x->shared_memory, x->max_buffer_range,
                   x->fp16_storage ? "yes" : "no (f16 as 32-bit words)",
                   x->fp16_arithmetic ? "yes" : "no",
                   x->push_descriptors ? "yes" : "no", x->cooperative_matrix ? "yes" : "no");
            print_coopmat(i, x, false);
            print_forms(i, false);
        }
    }
    if (json)
        printf("\n]}\n");
    else if (n == 0)
        printf("no Vulkan device: the CPU reference is the default (--device cpu)\n");
    else
        printf("cpu  the CPU reference (--device cpu)\n* = the default device\n");
    free(d);
    return 0;
}
