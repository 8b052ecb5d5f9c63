/* weft: the command-line tool. One file per subcommand; this one dispatches. */
#include <stdio.h>
#include <string.h>

#include "tools/weft_tool.h"

static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"broker", weft_cmd_broker, "a simulated exchange on TCP: orders in, acks and fills out (for pipeline)"},
    {"compare", weft_cmd_compare, "the seeds' decision table, measured: which model fits which job"},
    {"demo", weft_cmd_demo, "a channel pipeline with live metrics"},
    {"bench", weft_cmd_bench, "weft side by side with Go, oneTBB, glibc and Python; prints ratios"},
    {"etl", weft_cmd_etl, "the seeds' CSV ETL: generate, summarize, transform CSV files in parallel"},
    {"fetch", weft_cmd_fetch, "download many URLs over HTTP/1.1 at once; a summary of the results"},
    {"pipeline", weft_cmd_pipeline, "feed -> strategy -> OMS: ticks, crossovers, orders to a broker"},
    {"serve", weft_cmd_serve, "an HTTP/1.1 server: static files, or a hello response"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: weft <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`weft <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "weft: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
