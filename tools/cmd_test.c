/* vkattn test: the verification harness on one device (SPEC section 4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "harness.h"
#include "prepare.h"

static int usage(void)
{
    printf("usage: vkattn test [--quick] [--device N|cpu] [--validation] [--filter TEXT]\n"
           "                   [--kernel auto|rowwise|split|decode|coopmat] [--parts N] [--tuning FILE]\n"
           "Runs a matrix of attention problems on the device and compares each with the CPU\n"
           "reference: one line per case, then 'N passed, N failed'. Exit 1 if any failed.\n"
           "--validation enables VK_LAYER_KHRONOS_validation (when installed); any message fails.\n"
           "--parts N (1, 2, 4, 8) makes N invocations share each key in the split-KV kernel\n"
           "(where the device and head size allow; default: chosen per device).\n"
           "--tuning FILE runs with the kernel shapes of a vkattn tune file (this device's lines).\n");
    return 0;
}

int cmd_test(int argc, char **argv)
{
    cli c;
    cli_init(&c, "test", argc, argv);
    vkattn_context_desc desc = {0};
    bool quick = false;
    const char *filter = NULL, *tuning = NULL;
    unsigned messages = 0;
    int rc;
    while ((rc = cli_next(&c)) == 1) {
        if (cli_is(&c, "--help"))
            return usage();
        else if (cli_is(&c, "--quick"))
            rc = cli_switch(&c), quick = true;
        else if (cli_is(&c, "--validation"))
            rc = cli_switch(&c), desc.validation = true;
        else if (cli_is(&c, "--device"))
            rc = cli_parse_device(&c, cli_value(&c), &desc);
        else if (cli_is(&c, "--kernel"))
            rc = cli_parse_kernel(&c, cli_value(&c), &desc);
        else if (cli_is(&c, "--parts"))
            rc = cli_parse_parts(&c, cli_value(&c), &desc);
        else if (cli_is(&c, "--tuning"))
            rc = (tuning = cli_value(&c)) ? 0 : -1;
        else if (cli_is(&c, "--filter"))
            rc = (filter = cli_value(&c)) ? 0 : -1;
        else
            rc = cli_unknown(&c);
        if (rc < 0)
            return 2;
    }
    if (rc < 0)
        return 2;
    desc.on_message = cli_count_message;
    desc.user = &messages;
    char msg[512];
    desc.message = msg;
    desc.message_size = sizeof msg;
    vkattn_context ctx;
    vkattn_result res = vkattn_context_create(&desc, &ctx);
    if (res != VKATTN_SUCCESS) {
        cli_error("test", "cannot open the device: %s%s%s", vkattn_result_string(res),
                  msg[0] ? ": " : "", msg);
        return res == VKATTN_ERROR_NO_DEVICE || res == VKATTN_ERROR_INVALID_ARGUMENT ? 2 : 1;
    }
    if (tuning && cli_load_tuning("test", ctx, tuning)) {
        vkattn_context_destroy(ctx);
        return 2;
    }
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    printf("device: %s (%s)\n", info.name, info.driver);

    harness_case *cases;
    size_t n = harness_cases(quick, &cases);
    /* The cases to run: the filter's, and with a forced coopmat kernel the f16 problems
     * without paging or forced splits (the others would run another kernel, which is not what
     * was asked to be tested: reported as skips). */
    bool *runs_here = calloc(n ? n : 1, sizeof *runs_here);
    vkattn_problem *problems = malloc((n ? n : 1) * sizeof *problems);
    if (!runs_here || !problems) {
        free(runs_here), free(problems), free(cases);
        vkattn_context_destroy(ctx);
        cli_error("test", "out of memory");
        return 1;
    }
    size_t np = 0;
    for (size_t i = 0; i < n; ++i) {
        if (filter && !strstr(cases[i].name, filter))
            continue;
        vkattn_kernel runs = VKATTN_KERNEL_AUTO;
        runs_here[i] = !(desc.kernel == VKATTN_KERNEL_COOPMAT &&
                         vkattn_problem_kernel(ctx, &cases[i].p, &runs, NULL) == VKATTN_SUCCESS &&
                         runs != VKATTN_KERNEL_COOPMAT);
        if (runs_here[i])
            problems[np++] = harness_problem(&cases[i]);
    }
    /* Every pipeline first, on every core (the harness binds K/V as texel-capable buffers,
     * through vkattn_attention): lavapipe compiles each for seconds, one at a time otherwise. */
    tool_prepare(ctx, problems, np, VKATTN_BUFFER_TEXEL);
    free(problems);
    const bool progress = isatty(2);
    unsigned passed = 0, failed = 0, skipped = 0;
    size_t done = 0;
    for (size_t i = 0; i < n; ++i) {
        if (filter && !strstr(cases[i].name, filter))
            continue;
        if (!runs_here[i]) {
            printf("%-4s %-64s (runs another kernel: coopmat takes f16 without paging or "
                   "kv_splits)\n", "skip", cases[i].name);
            ++skipped;
            continue;
        }
        if (progress) {
            fprintf(stderr, "[%zu/%zu] %s ...", ++done, np, cases[i].name);
            fflush(stderr);
        }
        harness_result r;
        unsigned before = messages;
        int ran = harness_run(ctx, &cases[i], &r);
        if (progress)
            fprintf(stderr, "\r\033[K");
        if (ran != 0 && r.unsupported && messages == before) {
            printf("%-4s %-64s (%s)\n", "skip", cases[i].name, r.why);
            ++skipped;
            continue;
        }
        bool ok = ran == 0 && r.pass && messages == before;
        if (ran == 0 && r.pass && messages != before)
            snprintf(r.why, sizeof r.why, "%u validation message(s)", messages - before);
        printf("%-4s %-64s max_err %.2e (bound %.1e)%s%s\n", ok ? "ok" : "FAIL", cases[i].name,
               r.max_err, r.bound, ok ? "" : "  ", ok ? "" : r.why);
        fflush(stdout);
        ok ? ++passed : ++failed;
    }
    free(cases);
    free(runs_here);
    vkattn_context_destroy(ctx);
    /* SPEC 4's closing line; the skips (cases this device or kernel cannot take) only where
     * there are any. */
    if (skipped)
        printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
    else
        printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
