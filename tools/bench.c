/* weft bench: runs weft's benchmark kernels and their peers (Go, oneTBB,
 * glibc, GLib, libuv, Python) side by side in the same run, on the same
 * machine, and prints each figure with weft's ratio to every peer. Absolute
 * numbers drift on shared machines; the ratios from one run are what we
 * compare.
 *
 *   weft bench [--reps N] [--scale F] [--json] [--no-peers] [--peers-dir D] [name...]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "tools/weft_tool.h"

enum { MAX_KERNELS = 48, MAX_PEERS = 10 };

typedef struct peer {
    const char *label;       /* column title */
    const char *program;     /* file name in the peer directory, or a script */
    const char *interp;      /* interpreter for scripts, else NULL */
    double ops[MAX_KERNELS]; /* by kernel index; 0 = no figure */
    bool built;              /* the program was there */
    bool ran;
} peer;

typedef struct row {
    const weft_bench_kernel *k;
    double ops; /* weft's best ops/s, 0 on failure */
} row;

double weft_bench_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: weft bench [options] [name...]\n"
               "Runs weft's kernels and the peers' same workloads side by side; prints\n"
               "operations per second and weft's ratio to each peer.\n\n"
               "  --reps N        runs per figure, the best is kept (default 3)\n"
               "  --scale F       multiply every operation count by F (default 1)\n"
               "  --json          print JSON instead of a table\n"
               "  --peers         run the installed peers side by side (the default)\n"
               "  --no-peers      run weft's kernels only\n"
               "  --peers-dir D   where the built peers are (default: the build tree)\n"
               "  --list          list the kernels and exit\n");
}

static void human(char *buf, size_t len, double ops)
{
    if (ops <= 0)
        snprintf(buf, len, "-");
    else if (ops >= 1e9)
        snprintf(buf, len, "%.2f G/s", ops / 1e9);
    else if (ops >= 1e6)
        snprintf(buf, len, "%.2f M/s", ops / 1e6);
    else if (ops >= 1e3)
        snprintf(buf, len, "%.1f k/s", ops / 1e3);
    else
        snprintf(buf, len, "%.0f /s", ops);
}

/* A ratio in 7 characters or fewer: 3 significant digits, then whole. */
static void ratio(char *buf, size_t len, double weft_ops, double peer_ops)
{
    double r = weft_ops > 0 && peer_ops > 0 ? weft_ops / peer_ops : 0;
    if (r <= 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, r < 10 ? "%.2fx" : r < 100 ? "%.1fx" : "%.0fx", r);
}

static bool wanted(const char *name, int nnames, char **names)
{
    if (nnames == 0)
        return true;
    for (int i = 0; i < nnames; i++)
        if (!strcmp(names[i], name))
            return true;
    return false;
}

/* Whether the peer's program is there (sets p->built; says so once). */
static bool peer_built(peer *p, const char *dir, bool progress)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, p->program);
    p->built = access(path, p->interp ? R_OK : X_OK) == 0;
    if (!p->built && progress)
        fprintf(stderr, "  %-8s not built (%s): skipped; scripts/install-deps.sh --peers\n",
                p->label, path);
    return p->built;
}

/* Runs one peer program over the workloads of rows[0..nrows) and records
 * its RESULT lines in ops[0..nrows). */
static void run_peer(peer *p, const char *dir, int reps, double scale, const row *rows, int nrows,
                     double *ops_out, bool progress)
{
    char path[1024], cmd[2048];
    snprintf(path, sizeof path, "%s/%s", dir, p->program);
    int len;
    if (!strcmp(p->program, "weftpeer"))
        len = snprintf(cmd, sizeof cmd, "'%s' -reps %d -scale %g", path, reps, scale);
    else
        len = snprintf(cmd, sizeof cmd, "%s%s'%s' %d %g", p->interp ? p->interp : "",
                       p->interp ? " " : "", path, reps, scale);
    for (int i = 0; i < nrows && len < (int)sizeof cmd - 64; i++)
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %s", rows[i].k->peer_name);
    snprintf(cmd + len, sizeof cmd - (size_t)len, " 2>/dev/null");
    if (progress)
        fprintf(stderr, "\r  %-8s %-22s                 ", p->label, rows[0].k->name);
    FILE *f = popen(cmd, "r");
    if (!f)
        return;
    char line[256], name[128];
    double ops;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "RESULT %127s %lf", name, &ops) != 2)
            continue;
        for (int i = 0; i < nrows; i++)
            if (!strcmp(rows[i].k->peer_name, name))
                ops_out[i] = ops;
    }
    p->ran |= pclose(f) == 0;
}

static void machine(char *buf, size_t len)
{
    char model[128] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            char *colon = strchr(line, ':');
            if (!strncmp(line, "model name", 10) && colon) {
                snprintf(model, sizeof model, "%s", colon + 2);
                model[strcspn(model, "\n")] = 0;
                break;
            }
        }
        fclose(f);
    }
    struct utsname u;
    uname(&u);
    snprintf(buf, len, "%ld CPUs, %s, Linux %s", sysconf(_SC_NPROCESSORS_ONLN), model, u.release);
}

int weft_cmd_bench(int argc, char **argv)
{
    int reps = 3;
    double scale = 1.0;
    bool json = false, peers_on = true, list = false;
    const char *peer_dir = WEFT_PEER_DIR;
    char *names[MAX_KERNELS];
    int nnames = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
            if (reps < 1) {
                fprintf(stderr, "weft bench: --reps must be >= 1, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--scale") && i + 1 < argc) {
            char *end;
            scale = strtod(argv[++i], &end);
            if (*end || scale <= 0) {
                fprintf(stderr, "weft bench: --scale must be a positive number, got '%s'\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--no-peers")) {
            peers_on = false;
        } else if (!strcmp(a, "--peers")) {
            peers_on = true; /* the default, said explicitly */
        } else if (!strcmp(a, "--peers-dir") && i + 1 < argc) {
            peer_dir = argv[++i];
        } else if (!strcmp(a, "--list")) {
            list = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "weft bench: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (nnames < MAX_KERNELS) {
            names[nnames++] = argv[i];
        }
    }

    const weft_bench_kernel *tables[] = {weft_bench_chan_kernels,  weft_bench_sync_kernels,
                                         weft_bench_pool_kernels,  weft_bench_procpool_kernels,
                                         weft_bench_coro_kernels,  weft_bench_loop_kernels,
                                         weft_bench_timer_kernels, weft_bench_net_kernels,
                                         weft_bench_csv_kernels,   weft_bench_http_kernels};
    row rows[MAX_KERNELS];
    int nrows = 0;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const weft_bench_kernel *k = tables[t]; k->name && nrows < MAX_KERNELS; k++)
            if (list)
                printf("%-22s %s\n", k->name, k->what);
            else if (wanted(k->name, nnames, names))
                rows[nrows++] = (row){k, 0};
    if (list)
        return 0;
    for (int i = 0; i < nnames; i++) {
        bool found = false;
        for (int r = 0; r < nrows; r++)
            found |= !strcmp(rows[r].k->name, names[i]);
        if (!found) {
            fprintf(stderr, "weft bench: no kernel named '%s' (weft bench --list)\n", names[i]);
            return 2;
        }
    }

    peer peers[MAX_PEERS] = {
        {"Go", "weftpeer", NULL, {0}, false, false},
        {"oneTBB", "tbb_peer", NULL, {0}, false, false},
        {"glibc", "pthread_peer", NULL, {0}, false, false},
        {"GLib", "glib_peer", NULL, {0}, false, false},
        {"libuv", "uv_peer", NULL, {0}, false, false},
        {"Python", "py_peer.py", "python3", {0}, false, false},
        {"uvloop", "uvloop_peer.py", "python3", {0}, false, false},
        {"heap", "heap_peer", NULL, {0}, false, false},
        {"libcsv", "csv_peer", NULL, {0}, false, false},
        {"http-parser", "http_peer", NULL, {0}, false, false},
    };
    int npeers = peers_on ? MAX_PEERS : 0;
    bool progress = isatty(STDERR_FILENO);
    for (int p = 0; p < npeers; p++)
        peer_built(&peers[p], peers[p].interp ? WEFT_PEER_SRC_DIR : peer_dir, progress);

    /* Kernel by kernel, weft and then every peer on the same workload, so
     * that a noisy minute on a shared machine hits both sides of a ratio. */
    int failures = 0;
    for (int i = 0; i < nrows; i++) {
        long n = (long)((double)rows[i].k->n * scale);
        if (n < 4)
            n = 4;
        for (int r = 0; r < reps; r++) {
            if (progress)
                fprintf(stderr, "\r  weft     %-22s run %d/%d (%d/%d)   ", rows[i].k->name, r + 1,
                        reps, i + 1, nrows);
            double s = rows[i].k->run(n);
            if (s <= 0) {
                fprintf(stderr, "weft bench: %s failed\n", rows[i].k->name);
                failures++;
                break;
            }
            if ((double)n / s > rows[i].ops)
                rows[i].ops = (double)n / s;
        }
        for (int p = 0; p < npeers; p++)
            if (peers[p].built)
                run_peer(&peers[p], peers[p].interp ? WEFT_PEER_SRC_DIR : peer_dir, reps, scale,
                         &rows[i], 1, &peers[p].ops[i], progress);
    }
    if (progress)
        fprintf(stderr, "\r%70s\r", "");

    char mach[256];
    machine(mach, sizeof mach);
    if (json) {
        printf("{\"machine\":");
        weft_tool_json_string(stdout, mach);
        printf(",\"reps\":%d,\"scale\":%g,\"results\":[", reps, scale);
        for (int i = 0; i < nrows; i++) {
            printf("%s{\"name\":", i ? "," : "");
            weft_tool_json_string(stdout, rows[i].k->name);
            printf(",\"what\":");
            weft_tool_json_string(stdout, rows[i].k->what);
            printf(",\"weft_ops_per_s\":%.0f,\"peers\":{", rows[i].ops);
            bool first = true;
            for (int p = 0; p < npeers; p++) {
                if (peers[p].ops[i] <= 0)
                    continue;
                printf("%s\"%s\":{\"workload\":", first ? "" : ",", peers[p].label);
                weft_tool_json_string(stdout, rows[i].k->peer_name);
                printf(",\"ops_per_s\":%.0f,\"weft_ratio\":%.2f}", peers[p].ops[i],
                       rows[i].ops / peers[p].ops[i]);
                first = false;
            }
            printf("}}");
        }
        printf("]}\n");
    } else {
        /* Two tables, figures then ratios, each with only the peers that gave
         * a figure here, so six peers still fit in 100 columns. */
        int shown[MAX_PEERS], nshown = 0;
        char missing[256] = "";
        for (int p = 0; p < npeers; p++) {
            bool any = false;
            for (int i = 0; i < nrows; i++)
                any |= peers[p].ops[i] > 0;
            if (any)
                shown[nshown++] = p;
            else
                snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s%s",
                         missing[0] ? ", " : "", peers[p].label,
                         peers[p].built ? "" : " (not built)");
        }
        printf("weft bench on %s; best of %d runs, scale %g\n\n", mach, reps, scale);
        printf("operations per second\n%-22s %10s", "benchmark", "weft");
        for (int c = 0; c < nshown; c++)
            printf(" %10s", peers[shown[c]].label);
        printf("\n");
        for (int i = 0; i < nrows; i++) {
            char buf[32];
            human(buf, sizeof buf, rows[i].ops);
            printf("%-22s %10s", rows[i].k->name, buf);
            for (int c = 0; c < nshown; c++) {
                human(buf, sizeof buf, peers[shown[c]].ops[i]);
                printf(" %10s", buf);
            }
            printf("\n");
        }
        if (nshown > 0) {
            printf("\nweft / peer on the same workload (higher is better for weft)\n%-22s",
                   "benchmark");
            for (int c = 0; c < nshown; c++)
                printf(" %8s", peers[shown[c]].label);
            printf("\n");
            for (int i = 0; i < nrows; i++) {
                printf("%-22s", rows[i].k->name);
                for (int c = 0; c < nshown; c++) {
                    char buf[32];
                    ratio(buf, sizeof buf, rows[i].ops, peers[shown[c]].ops[i]);
                    printf(" %8s", buf);
                }
                printf("\n");
            }
        }
        if (missing[0])
            printf("\nno figure for these workloads from: %s\n", missing);
        printf("\none operation:\n");
        for (int i = 0; i < nrows; i++)
            printf("  %-22s %s%s%s\n", rows[i].k->name, rows[i].k->what,
                   strcmp(rows[i].k->name, rows[i].k->peer_name) ? "; peers: " : "",
                   strcmp(rows[i].k->name, rows[i].k->peer_name) ? rows[i].k->peer_name : "");
    }
    return failures ? 1 : 0;
}
