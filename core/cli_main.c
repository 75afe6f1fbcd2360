/* `vellum`: the command line. Dispatches to one function per subcommand,
 * so later ones (info, kek, dek, encrypt, decrypt, bench, policy) slot
 * into COMMANDS without touching the others. Exit codes: core/cli.h. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

struct command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*usage)(FILE *f);
};

static const struct command COMMANDS[] = {
    {"info", "library version, CPU features, the path of every algorithm", vl_cli_info,
     vl_cli_info_usage},
    {"kek", "create, list, show or delete key-encryption keys", vl_cli_kek, vl_cli_kek_usage},
    {"dek", "create, list, rotate, delete or rewrap data-encryption keys", vl_cli_dek,
     vl_cli_dek_usage},
    {"encrypt", "encrypt a file or stream of any size (chunked, authenticated)",
     vl_cli_encrypt, vl_cli_file_usage},
    {"decrypt", "decrypt what `vellum encrypt` wrote; refuses altered or cut files",
     vl_cli_decrypt, vl_cli_file_usage},
    {"field", "encrypt or decrypt Confluent CSFLE field values, one per line", vl_cli_field,
     vl_cli_field_usage},
    {"policy", "check a KMS key policy (AWS, GCP, Azure JSON) against best practice",
     vl_cli_policy, vl_cli_policy_usage},
    {"bench", "a short speed table of every path this CPU runs", vl_cli_bench,
     vl_cli_bench_usage},
};

#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f)
{
    fputs("usage: vellum <command> [options]\n"
          "       vellum help <command>\n\ncommands:\n",
          f);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-8s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fputs("\n`vellum <command> --help` describes each. Exit status of every command:\n"
          "0 done, 1 some input failed or was refused, 2 usage error (the command could\n"
          "not start: bad arguments, missing files, keys that cannot be loaded)\n",
          f);
}

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0)
            return &COMMANDS[i];
    return NULL;
}

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return VL_CLI_USAGE;
    }
    if (is_help(argv[1])) {
        const struct command *c = argc > 2 ? find(argv[2]) : NULL;
        if (c != NULL)
            c->usage(stdout);
        else
            usage(stdout);
        return VL_CLI_OK;
    }
    const struct command *c = find(argv[1]);
    if (c == NULL) {
        fprintf(stderr, "vellum: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return VL_CLI_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}

char *vl_cli_read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    char *buf = NULL;
    int e = 0;
    if (f == NULL)
        return NULL;
    if (fstat(fileno(f), &st) != 0)
        e = errno;
    else if (!S_ISREG(st.st_mode))
        e = EINVAL; /* a directory, a pipe: not a key file */
    else if ((uintmax_t)st.st_size > max)
        e = EFBIG;
    if (e != 0) {
        fclose(f);
        errno = e;
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    buf = malloc(n + 1);
    if (buf != NULL && fread(buf, 1, n, f) != n) {
        free(buf);
        buf = NULL;
        errno = EIO;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}
