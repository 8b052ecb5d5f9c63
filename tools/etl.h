/* Internal to `weft etl` (tools/etl*.c): the parts the subcommands share. */
#ifndef WEFT_TOOLS_ETL_H
#define WEFT_TOOLS_ETL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int weft_etl_gen(int argc, char **argv);
int weft_etl_summarize(int argc, char **argv);

/* A number in a CSV field: an optional sign, digits with at most one
 * '.', an optional exponent; nothing else (no spaces, no "nan"). Returns
 * true and *out, or false for text. Exact (correctly rounded) values:
 * the common short decimals go through a fast path, the rest strtod. */
bool weft_etl_parse_number(const char *s, size_t len, double *out);

/* "1.5G", "200M", "64k", "1000": bytes; -1 if malformed. */
int64_t weft_etl_parse_size(const char *s);

#endif
