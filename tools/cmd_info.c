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
                   "\"cooperative_matrix\": %s, \"default\": %s}",
                   api, x->subgroup_size, x->min_subgroup_size, x->max_subgroup_size,
                   x->subgroup_shuffle ? "true" : "false", x->subgroup_reduce ? "true" : "false",
                   x->shared_memory, x->max_buffer_range, x->fp16_storage ? "true" : "false",
                   x->fp16_arithmetic ? "true" : "false", x->push_descriptors ? "true" : "false",
                   x->cooperative_matrix ? "true" : "false", (int)i == def ? "true" : "false");
        } else {
            printf("%u%s %s\n    type %s, vendor 0x%04x, driver %s, Vulkan %s\n"
                   "    subgroup %u (%u..%u%s%s), shared memory %u bytes, buffer range %u bytes,\n"
                   "    fp16 storage %s, fp16 math %s, "
                   "push descriptors %s, cooperative matrix %s\n",
                   i, (int)i == def ? "*" : " ", x->name, cli_device_type_name(x->type), x->vendor_id,
                   x->driver, api, x->subgroup_size, x->min_subgroup_size, x->max_subgroup_size,
                   x->subgroup_shuffle ? ", shuffles" : "",
                   x->subgroup_reduce ? ", reductions" : "", x->shared_memory, x->max_buffer_range,
                   x->fp16_storage ? "yes" : "no", x->fp16_arithmetic ? "yes" : "no",
                   x->push_descriptors ? "yes" : "no", x->cooperative_matrix ? "yes" : "no");
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
