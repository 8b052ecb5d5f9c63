/* Internal to the weft tool: each subcommand's entry point. */
#ifndef WEFT_TOOL_H
#define WEFT_TOOL_H

int weft_cmd_demo(int argc, char **argv);
int weft_cmd_bench(int argc, char **argv);
int weft_cmd_etl(int argc, char **argv);
int weft_cmd_serve(int argc, char **argv);

#endif
