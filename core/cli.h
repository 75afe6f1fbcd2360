/* The `vellum` command (core/cli_*.c): subcommands and their exit codes.
 * Not part of the library: built as $(BUILD)/vellum, linked with
 * libvellum-json.a, libvellum.a and jansson. */
#ifndef VL_CORE_CLI_H
#define VL_CORE_CLI_H

#include <stddef.h>
#include <stdio.h>

/* Exit codes of every subcommand. */
enum {
    VL_CLI_OK = 0,     /* everything done */
    VL_CLI_FAILED = 1, /* some input failed (each failure named on stderr) */
    VL_CLI_USAGE = 2   /* could not start: bad arguments or unusable key files */
};

/* Each subcommand gets argv from its own name on (argv[0] = "field"). */
int vl_cli_field(int argc, char **argv);
void vl_cli_field_usage(FILE *f);

/* The newer subcommands (core/cli_keys.c, cli_file.c, cli_info.c,
 * cli_policy.c); each prints its usage for --help. */
int vl_cli_info(int argc, char **argv);
void vl_cli_info_usage(FILE *f);
int vl_cli_bench(int argc, char **argv);
void vl_cli_bench_usage(FILE *f);
int vl_cli_kek(int argc, char **argv);
void vl_cli_kek_usage(FILE *f);
int vl_cli_dek(int argc, char **argv);
void vl_cli_dek_usage(FILE *f);
int vl_cli_encrypt(int argc, char **argv);
int vl_cli_decrypt(int argc, char **argv);
void vl_cli_file_usage(FILE *f);
int vl_cli_policy(int argc, char **argv);
void vl_cli_policy_usage(FILE *f);

/* Reads a whole small file (at most |max| bytes) into a fresh buffer with
 * a NUL after it; NULL with errno set on failure (EFBIG when too large). */
char *vl_cli_read_file(const char *path, size_t max, size_t *len);

#endif /* VL_CORE_CLI_H */
