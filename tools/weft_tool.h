/* Internal to the weft tool: each subcommand's entry point. */
#ifndef WEFT_TOOL_H
#define WEFT_TOOL_H

#include <stdio.h>

int weft_cmd_demo(int argc, char **argv);
int weft_cmd_bench(int argc, char **argv);
int weft_cmd_etl(int argc, char **argv);
int weft_cmd_serve(int argc, char **argv);
int weft_cmd_fetch(int argc, char **argv);
int weft_cmd_compare(int argc, char **argv);
int weft_cmd_broker(int argc, char **argv);
int weft_cmd_pipeline(int argc, char **argv);

/* s as a JSON string (quoted, escaped) on o. */
void weft_tool_json_string(FILE *o, const char *s);

#endif
