/* Argument parsing shared by the subcommands of the vkattn tool.
 *
 * Options are "--flag value" or "--flag=value". Every parser returns 0 on success and -1 after
 * printing one line to stderr of the form
 *     vkattn <cmd>: --window: expected L,R with integers >= -1, got 'x'
 * Parsers given a NULL text return -1 silently: cli_value() has already said the value is
 * missing, so `cli_parse_float(c, cli_value(c), &x)` reports exactly one error. */
#ifndef VKATTN_TOOL_CLI_H
#define VKATTN_TOOL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkattn/vkattn.h"

/* Walks argv[1..argc) (argv[0] is the subcommand's name). */
typedef struct cli {
    const char *cmd;        /* subcommand, for messages: "run" */
    int argc;
    char **argv;
    int next;               /* index of the next argument */
    char flag[64];          /* the current option, without "=value" */
    const char *attached;   /* the text after '=', or NULL */
} cli;

typedef enum cli_layout {
    CLI_LAYOUT_BHSD = 0, /* [B, H, S, D] */
    CLI_LAYOUT_BSHD = 1, /* [B, S, H, D] */
} cli_layout;

void cli_init(cli *c, const char *cmd, int argc, char **argv);

/* Moves to the next option: 1 when one is current (c->flag), 0 when the arguments are done,
 * -1 (error printed) on an argument that is not an option. */
int cli_next(cli *c);

/* Whether the current option is name (e.g. "--q"). */
bool cli_is(const cli *c, const char *name);

/* The current option's value ("=value" or the next argument, which must not start with "--");
 * NULL, error printed, when it has none. */
const char *cli_value(cli *c);

/* For an option without a value (e.g. --causal): -1, error printed, if "=value" was given. */
int cli_switch(const cli *c);

/* Prints "vkattn <cmd>: unknown option '--x' (see vkattn <cmd> --help)" and returns -1. */
int cli_unknown(const cli *c);

/* Prints "vkattn <cmd>: <message>" and a newline to stderr; returns -1. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int cli_error(const char *cmd, const char *fmt, ...);

/* The parsers: text is the value of the current option c->flag. */
int cli_parse_int(const cli *c, const char *text, int min, int max, int *out);
int cli_parse_u32(const cli *c, const char *text, uint32_t min, uint32_t max, uint32_t *out);
/* A finite float. */
int cli_parse_float(const cli *c, const char *text, float *out);
/* "L,R", each an integer >= -1 (-1 = unbounded). */
int cli_parse_window(const cli *c, const char *text, int32_t *left, int32_t *right);
/* "bottom-right" or "top-left". */
int cli_parse_align(const cli *c, const char *text, vkattn_align *out);
/* "bhsd" or "bshd". */
int cli_parse_layout(const cli *c, const char *text, cli_layout *out);
/* "cpu" (VKATTN_DEVICE_CPU) or an index N >= 0 (VKATTN_DEVICE_INDEX); sets kind and
 * device_index of desc and leaves its other fields alone. */
int cli_parse_device(const cli *c, const char *text, vkattn_context_desc *desc);
/* "integrated", "discrete", "virtual", "cpu" or "other" (vkattn info and the bench reports). */
const char *cli_device_type_name(VkPhysicalDeviceType t);
/* 1, 2, 4 or 8: desc->decode_parts (invocations per key in the split-KV kernel). */
int cli_parse_parts(const cli *c, const char *text, vkattn_context_desc *desc);
/* --kernel: auto, rowwise, tiled, split-kv or coopmat (vkattn_kernel_name) into desc->kernel. */
int cli_parse_kernel(const cli *c, const char *text, vkattn_context_desc *desc);
/* The context options of test and bench (--validation, --device, --kernel, --parts) into desc:
 * 1 when c's flag was one of them, 0 when not, -1 on a bad value. */
int cli_context_option(cli *c, vkattn_context_desc *desc);

/* A comma-separated list of u32 such as "5,3". When expect is not 0 the list must have exactly
 * expect values. On success *out is a malloc'd array of *count values (the caller frees it).
 * Takes cmd and flag explicitly because lists are often checked after all options are read
 * (expect is the batch size, known once the files are loaded). */
int cli_parse_u32_list(const char *cmd, const char *flag, const char *text, size_t expect,
                       uint32_t **out, size_t *count);

/* Each value of a comma-separated list of exactly batch values (cli_parse_u32_list) must be at
 * most limit, named what in the message ("Sq"). On failure *out is NULL. */
int cli_parse_lens(const char *cmd, const char *flag, const char *text, uint32_t batch,
                   uint32_t limit, const char *what, uint32_t **out);

/* Fails early, before any work, when path cannot be written: it is empty or a directory, or its
 * directory is not writable. */
int cli_check_output(const char *cmd, const char *flag, const char *path);

/* The mask flags shared by run, mask and bench: --causal, --align A, --window L,R, --q-lens N,...,
 * --kv-lens N,..., --q-start N,... and --kv-start N,... (the lists are kept as text: the batch
 * size is known later). Zero is none given. */
typedef struct cli_mask_flags {
    bool causal, window;
    vkattn_align align;
    int32_t window_left, window_right;
    const char *q_lens, *kv_lens; /* NULL, or a non-empty text */
    const char *q_start, *kv_start;
    const char *first;            /* the first mask flag given ("--causal"), or NULL */
} cli_mask_flags;

/* 1 when the current option is a mask flag (its value parsed into m), 0 when it is not, -1 (error
 * printed) when its value is bad. */
int cli_mask_flag(cli *c, cli_mask_flags *m);

/* The per-batch lists of the mask flags, malloc'd (NULL when not given). */
typedef struct cli_seqs {
    uint32_t *q_lens, *kv_lens, *q_start, *kv_start;
} cli_seqs;

void cli_seqs_free(cli_seqs *s);

/* Sets the causal, align and window fields of p from m, parses the lists against p's batch and
 * sequence lengths into *s (the caller frees it with cli_seqs_free, also on failure; each start
 * plus its length within the sequence) and sets has_q_lens, has_kv_lens, has_q_start and
 * has_kv_start. -1, error printed, on a bad list. */
int cli_mask_apply(const char *cmd, const cli_mask_flags *m, vkattn_problem *p, cli_seqs *s);

/* --precision exact|fast. */
int cli_parse_precision(const cli *c, const char *text, vkattn_precision *out);

/* --tuning FILE: reads the file and applies its lines for ctx's device (vkattn_tuning_load),
 * saying how many on stdout; -1 with the error printed (the file's fault: exit status 2). */
int cli_load_tuning(const char *cmd, vkattn_context ctx, const char *path);

/* A vkattn_message_fn for the tool's commands: counts the validation messages in *(unsigned *)user
 * and prints each on stderr. */
void cli_count_message(void *user, const char *message);

#endif
