/*
 * tests/seccomp/seccomp_exec.c - run a command under a container seccomp profile.
 *
 *   seccomp_exec PROFILE.json -- COMMAND [ARGS...]
 *
 * Loads a Docker/Podman/containerd seccomp profile (JSON) through
 * libseccomp into this process, then execs COMMAND, which inherits the
 * filter: what a container runtime does before starting a container's
 * process, for machines where no container runtime can run. What it reads
 * of the format:
 *   defaultAction, defaultErrnoRet;
 *   syscalls[]: names, action (SCMP_ACT_ALLOW, _ERRNO, _KILL, _KILL_THREAD,
 *     _KILL_PROCESS, _TRAP, _LOG, _TRACE), errnoRet, args (index, value,
 *     valueTwo, op: SCMP_CMP_*; several args in one rule must all match);
 *   includes/excludes: arches (against this machine's), caps (against this
 *     process's effective set, the one COMMAND keeps), minKernel.
 * Conservative where it differs from a runtime: only the native architecture
 * is allowed (archMap's sub-architectures are not added, so a 32-bit call is
 * killed by libseccomp's bad-architecture action); a name this libseccomp
 * does not know is skipped, as runtimes do; a rule whose action is the
 * default action is skipped (libseccomp refuses it; it changes nothing).
 * Exit status: COMMAND's, 125 when the profile cannot be applied, 127 when
 * COMMAND cannot be executed.
 */
#include <errno.h>
#include <jansson.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#define EXIT_PROFILE 125
#define EXIT_EXEC 127
#define MAX_ARGS 6

static int fail(const char *what, const char *detail)
{
    fprintf(stderr, "seccomp_exec: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return -1;
}

static int parse_action(const char *name, json_t *errno_ret, uint32_t dflt_errno, uint32_t *out)
{
    uint32_t e = json_is_integer(errno_ret) ? (uint32_t)json_integer_value(errno_ret) : dflt_errno;

    if (!name)
        return fail("action missing", NULL);
    if (!strcmp(name, "SCMP_ACT_ALLOW"))
        *out = SCMP_ACT_ALLOW;
    else if (!strcmp(name, "SCMP_ACT_ERRNO"))
        *out = SCMP_ACT_ERRNO(e);
    else if (!strcmp(name, "SCMP_ACT_KILL") || !strcmp(name, "SCMP_ACT_KILL_THREAD"))
        *out = SCMP_ACT_KILL;
    else if (!strcmp(name, "SCMP_ACT_KILL_PROCESS"))
        *out = SCMP_ACT_KILL_PROCESS;
    else if (!strcmp(name, "SCMP_ACT_TRAP"))
        *out = SCMP_ACT_TRAP;
    else if (!strcmp(name, "SCMP_ACT_LOG"))
        *out = SCMP_ACT_LOG;
    else if (!strcmp(name, "SCMP_ACT_TRACE"))
        *out = SCMP_ACT_TRACE(e);
    else
        return fail("unknown action", name);
    return 0;
}

static int parse_op(const char *name, enum scmp_compare *op)
{
    static const struct {
        const char *name;
        enum scmp_compare op;
    } ops[] = {{"SCMP_CMP_NE", SCMP_CMP_NE},
               {"SCMP_CMP_LT", SCMP_CMP_LT},
               {"SCMP_CMP_LE", SCMP_CMP_LE},
               {"SCMP_CMP_EQ", SCMP_CMP_EQ},
               {"SCMP_CMP_GE", SCMP_CMP_GE},
               {"SCMP_CMP_GT", SCMP_CMP_GT},
               {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};

    for (size_t i = 0; name && i < sizeof(ops) / sizeof(ops[0]); i++)
        if (!strcmp(name, ops[i].name)) {
            *op = ops[i].op;
            return 0;
        }
    return fail("unknown comparison", name);
}

/* The profile's architecture names ("amd64", "SCMP_ARCH_X86_64") for this machine. */
static int native_arch(const char *name)
{
#if defined(__x86_64__)
    return !strcmp(name, "amd64") || !strcmp(name, "x86_64") || !strcmp(name, "SCMP_ARCH_X86_64");
#elif defined(__aarch64__)
    return !strcmp(name, "arm64") || !strcmp(name, "aarch64") || !strcmp(name, "SCMP_ARCH_AARCH64");
#else
    (void)name;
    return 0;
#endif
}

static int cap_number(const char *name)
{
    static const char *const caps[] = {"CAP_CHOWN",
                                       "CAP_DAC_OVERRIDE",
                                       "CAP_DAC_READ_SEARCH",
                                       "CAP_FOWNER",
                                       "CAP_FSETID",
                                       "CAP_KILL",
                                       "CAP_SETGID",
                                       "CAP_SETUID",
                                       "CAP_SETPCAP",
                                       "CAP_LINUX_IMMUTABLE",
                                       "CAP_NET_BIND_SERVICE",
                                       "CAP_NET_BROADCAST",
                                       "CAP_NET_ADMIN",
                                       "CAP_NET_RAW",
                                       "CAP_IPC_LOCK",
                                       "CAP_IPC_OWNER",
                                       "CAP_SYS_MODULE",
                                       "CAP_SYS_RAWIO",
                                       "CAP_SYS_CHROOT",
                                       "CAP_SYS_PTRACE",
                                       "CAP_SYS_PACCT",
                                       "CAP_SYS_ADMIN",
                                       "CAP_SYS_BOOT",
                                       "CAP_SYS_NICE",
                                       "CAP_SYS_RESOURCE",
                                       "CAP_SYS_TIME",
                                       "CAP_SYS_TTY_CONFIG",
                                       "CAP_MKNOD",
                                       "CAP_LEASE",
                                       "CAP_AUDIT_WRITE",
                                       "CAP_AUDIT_CONTROL",
                                       "CAP_SETFCAP",
                                       "CAP_MAC_OVERRIDE",
                                       "CAP_MAC_ADMIN",
                                       "CAP_SYSLOG",
                                       "CAP_WAKE_ALARM",
                                       "CAP_BLOCK_SUSPEND",
                                       "CAP_AUDIT_READ",
                                       "CAP_PERFMON",
                                       "CAP_BPF",
                                       "CAP_CHECKPOINT_RESTORE"};

    for (int i = 0; i < (int)(sizeof(caps) / sizeof(caps[0])); i++)
        if (!strcmp(name, caps[i]))
            return i;
    return -1;
}

static unsigned long long effective_caps(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long caps = 0;

    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "CapEff: %llx", &caps) == 1)
            break;
    if (f)
        fclose(f);
    return caps;
}

static int kernel_at_least(const char *want)
{
    struct utsname u;
    unsigned a = 0, b = 0, x = 0, y = 0;

    if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &a, &b) < 1 ||
        sscanf(want, "%u.%u", &x, &y) < 1)
        return 0;
    return a > x || (a == x && b >= y);
}

/* Does a rule's "includes" (want = 1) or "excludes" (want = 0) filter hold? */
static int filter_matches(json_t *f)
{
    json_t *arches = json_object_get(f, "arches"), *caps = json_object_get(f, "caps"), *v;
    json_t *min_kernel = json_object_get(f, "minKernel");
    unsigned long long eff = effective_caps();
    size_t i;
    int any = 0, hit = 0;

    if (json_array_size(arches)) {
        any = 1;
        json_array_foreach(arches, i, v) hit |=
            native_arch(json_string_value(v) ? json_string_value(v) : "");
        if (!hit)
            return 0;
    }
    json_array_foreach(caps, i, v)
    {
        int n = cap_number(json_string_value(v) ? json_string_value(v) : "");
        any = 1;
        if (n < 0 || !((eff >> n) & 1))
            return 0;
    }
    if (json_is_string(min_kernel)) {
        any = 1;
        if (!kernel_at_least(json_string_value(min_kernel)))
            return 0;
    }
    return any;
}

static int rule_applies(json_t *rule)
{
    json_t *inc = json_object_get(rule, "includes"), *exc = json_object_get(rule, "excludes");

    if (json_object_size(inc) && !filter_matches(inc))
        return 0;
    return !(json_object_size(exc) && filter_matches(exc));
}

static int add_rule(scmp_filter_ctx ctx, json_t *rule, uint32_t dflt, uint32_t dflt_errno)
{
    struct scmp_arg_cmp cmp[MAX_ARGS];
    json_t *args = json_object_get(rule, "args"), *v;
    unsigned ncmp = 0;
    uint32_t action;
    size_t i;

    if (!rule_applies(rule))
        return 0;
    if (parse_action(json_string_value(json_object_get(rule, "action")),
                     json_object_get(rule, "errnoRet"), dflt_errno, &action) < 0)
        return -1;
    if (action == dflt)
        return 0;
    json_array_foreach(args, i, v)
    {
        enum scmp_compare op;
        if (ncmp == MAX_ARGS || parse_op(json_string_value(json_object_get(v, "op")), &op) < 0)
            return fail("bad args in a rule", NULL);
        cmp[ncmp++] = (struct scmp_arg_cmp){
            .arg = (unsigned)json_integer_value(json_object_get(v, "index")),
            .op = op,
            .datum_a = (scmp_datum_t)json_integer_value(json_object_get(v, "value")),
            .datum_b = (scmp_datum_t)json_integer_value(json_object_get(v, "valueTwo"))};
    }
    json_array_foreach(json_object_get(rule, "names"), i, v)
    {
        const char *name = json_string_value(v);
        int nr = name ? seccomp_syscall_resolve_name(name) : __NR_SCMP_ERROR;
        int ret;
        if (nr == __NR_SCMP_ERROR)
            continue; /* not a system call of this architecture or libseccomp */
        ret = seccomp_rule_add_array(ctx, action, nr, ncmp, cmp);
        if (ret < 0 && ret != -EEXIST) {
            fprintf(stderr, "seccomp_exec: rule for %s: %s\n", name, strerror(-ret));
            return -1;
        }
    }
    return 0;
}

static int load_profile(const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr), *rule;
    json_t *dflt_ret;
    scmp_filter_ctx ctx = NULL;
    uint32_t dflt, dflt_errno;
    size_t i;
    int ret = -1;

    if (!root)
        return fail(path, jerr.text);
    dflt_ret = json_object_get(root, "defaultErrnoRet");
    dflt_errno = json_is_integer(dflt_ret) ? (uint32_t)json_integer_value(dflt_ret) : EPERM;
    if (parse_action(json_string_value(json_object_get(root, "defaultAction")), dflt_ret, EPERM,
                     &dflt) < 0)
        goto out;
    ctx = seccomp_init(dflt);
    if (!ctx) {
        fail("seccomp_init failed", NULL);
        goto out;
    }
    json_array_foreach(json_object_get(root, "syscalls"), i,
                       rule) if (add_rule(ctx, rule, dflt, dflt_errno) < 0) goto out;
    ret = seccomp_load(ctx);
    if (ret < 0)
        fail("seccomp_load", strerror(-ret));
out:
    seccomp_release(ctx);
    json_decref(root);
    return ret < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[2], "--") != 0) {
        fprintf(stderr, "usage: seccomp_exec PROFILE.json -- COMMAND [ARGS...]\n");
        return EXIT_PROFILE;
    }
    if (load_profile(argv[1]) < 0)
        return EXIT_PROFILE;
    execvp(argv[3], argv + 3);
    fprintf(stderr, "seccomp_exec: %s: %s\n", argv[3], strerror(errno));
    return EXIT_EXEC;
}
