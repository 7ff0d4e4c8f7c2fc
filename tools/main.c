/* vkattn <command> [options]: dispatch to the subcommands of commands.h. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "vkattn/vkattn.h"

#ifndef VKATTN_GIT
#define VKATTN_GIT "unknown"
#endif

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"run", cmd_run, "one attention on .npy files"},
    {"test", cmd_test, "compare a device with the CPU reference over a matrix of cases"},
    {"info", cmd_info, "list the Vulkan devices"},
    {"bench", cmd_bench, "time attention with GPU timestamps"},
    {"tune", cmd_tune, "search kernel shapes on a device and save them as a tuning file"},
    {"mask", cmd_mask, "show which keys each query sees, with the kernel's tiles"},
};
#define NUM_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: vkattn <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < NUM_COMMANDS; i++)
        fprintf(f, "  %-6s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'vkattn <command> --help' lists a command's options; 'vkattn --version' prints "
               "the version.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0) {
        printf("vkattn %s (git %s)\n", VKATTN_VERSION_STRING, VKATTN_GIT);
        return 0;
    }
    /* "vkattn help run" is "vkattn run --help". */
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        for (size_t i = 0; i < NUM_COMMANDS; i++)
            if (strcmp(argv[2], commands[i].name) == 0) {
                static char help_flag[] = "--help";
                char *sub[] = {argv[2], help_flag, NULL};
                return commands[i].fn(2, sub);
            }
        name = argv[2];
    } else {
        for (size_t i = 0; i < NUM_COMMANDS; i++)
            if (strcmp(name, commands[i].name) == 0)
                return commands[i].fn(argc - 1, argv + 1);
    }
    /* One line, as for every usage error (SPEC 4). */
    fprintf(stderr, "vkattn: unknown command '%s' (expected", name);
    for (size_t i = 0; i < NUM_COMMANDS; i++)
        fprintf(stderr, "%s %s", i ? (i + 1 == NUM_COMMANDS ? " or" : ",") : "", commands[i].name);
    fprintf(stderr, "; see vkattn --help)\n");
    return 2;
}
