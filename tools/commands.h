/* The subcommands of the vkattn tool. Each takes the arguments after its name (argv[0] is the
 * subcommand name) and returns the process exit status of SPEC section 4: 0 success, 1 a test or
 * comparison failed, 2 bad usage or bad input (one line on stderr). */
#ifndef VKATTN_TOOL_COMMANDS_H
#define VKATTN_TOOL_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_mask(int argc, char **argv);
int cmd_tune(int argc, char **argv);

#endif
