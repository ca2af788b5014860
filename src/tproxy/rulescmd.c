/* rulescmd: `ferry tproxy-rules`.  Parses the options into a
 * tprules_opts, then prints the script tproxy/rules.c writes (default),
 * or runs it: `nft -f -` fed on stdin and `ip` commands, each spawned
 * with posix_spawnp and its exit status and stderr checked.  --apply
 * undoes its own steps when a later one fails; --remove deletes the
 * table and the policy-routing entries found by route mark, table and
 * priority, and does not mind when they are gone already. */
#include "tproxy/rulescmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tproxy/rules.h"

extern char **environ;

static const char usage[] =
    "usage: ferry tproxy-rules [--apply | --remove | --check] [options]\n"
    "\n"
    "Print (default), check, apply or remove the nftables ruleset and the\n"
    "policy routing that send traffic to ferry's transparent listener\n"
    "(docs/tproxy.md).  Everything goes in table inet " TPRULES_TABLE ".\n"
    "\n"
    "      --apply            run it: ip rules/routes, then `nft -f -`;\n"
    "                         a failed step undoes the earlier ones; fails\n"
    "                         when the rules are applied already\n"
    "      --remove           remove exactly that: the table, and the\n"
    "                         ip rules/routes with this --route-mark,\n"
    "                         --table and --rule-pref (IPv4 and IPv6);\n"
    "                         succeeds when they are gone already\n"
    "      --check            ask nft whether it accepts the ruleset\n"
    "                         (`nft -c`, changes nothing)\n"
    "      --mode M           tproxy (TCP+UDP, default) or redirect (TCP)\n"
    "      --port N           ferry's listener port (default 7893 for\n"
    "                         tproxy, 7892 for redirect)\n"
    "      --mark M           SO_MARK on ferry's own sockets; never\n"
    "                         intercepted (default 0x1f3)\n"
    "      --route-mark M     fwmark routed to lo (default 0x1f4)\n"
    "      --table N          its routing table (default 500)\n"
    "      --rule-pref N      its ip rule priority (default 500)\n"
    "      --host             intercept this host's traffic (output); the\n"
    "                         default when neither --host nor --lan\n"
    "      --lan              intercept traffic forwarded from a LAN\n"
    "      --iface IF         LAN input interface (repeatable; default:\n"
    "                         every interface but lo)\n"
    "      --ipv4-only        leave IPv6 alone\n"
    "      --ipv6-only        leave IPv4 alone\n"
    "      --exclude CIDR     never intercept this destination\n"
    "                         (repeatable; e.g. your gateway's address)\n"
    "      --exclude-private  nor 10/8, 172.16/12, 192.168/16, fc00::/7\n"
    "                         (loopback, link-local, multicast and\n"
    "                         broadcast are always excluded)\n"
    "      --dns              intercept DNS (TCP/UDP 53) to any resolver\n"
    "                         but loopback, private ones included\n"
    "      --fail-closed      drop LAN traffic when nothing listens\n"
    "                         (default: nft tproxy fails open, the traffic\n"
    "                         goes out directly)\n"
    "  -h, --help             this text\n";

enum action { PRINT, CHECK, APPLY, REMOVE };

/* --- options -------------------------------------------------------------- */

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || end == s || *end || *s == '-' || v > max)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

static int add_iface(struct tprules_opts *o, const char *name)
{
    if (o->n_ifaces == TPRULES_MAX_IFACES || tprules_check_iface(name) < 0)
        return -EINVAL;
    snprintf(o->ifaces[o->n_ifaces++], TPRULES_IFNAMSIZ, "%s", name);
    return 0;
}

static int add_exclude(struct tprules_opts *o, const char *cidr)
{
    if (o->n_excludes == TPRULES_MAX_EXCLUDES)
        return -EINVAL;
    return tprules_parse_cidr(cidr, &o->excludes[o->n_excludes++]);
}

static int set_mode(struct tprules_opts *o, const char *m)
{
    if (strcmp(m, "tproxy") == 0)
        o->mode = TPRULES_TPROXY;
    else if (strcmp(m, "redirect") == 0)
        o->mode = TPRULES_REDIRECT;
    else
        return -EINVAL;
    return 0;
}

static const struct option long_opts[] = {
    {"apply", no_argument, NULL, 'a'},
    {"remove", no_argument, NULL, 'r'},
    {"check", no_argument, NULL, 'c'},
    {"mode", required_argument, NULL, 'm'},
    {"port", required_argument, NULL, 'p'},
    {"mark", required_argument, NULL, 'M'},
    {"route-mark", required_argument, NULL, 'R'},
    {"table", required_argument, NULL, 't'},
    {"rule-pref", required_argument, NULL, 'P'},
    {"host", no_argument, NULL, 'H'},
    {"lan", no_argument, NULL, 'l'},
    {"iface", required_argument, NULL, 'i'},
    {"ipv4-only", no_argument, NULL, '4'},
    {"ipv6-only", no_argument, NULL, '6'},
    {"exclude", required_argument, NULL, 'x'},
    {"exclude-private", no_argument, NULL, 'X'},
    {"dns", no_argument, NULL, 'd'},
    {"fail-closed", no_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

/* One option into *o; port/chains are settled after the loop. */
static int take_opt(int c, struct tprules_opts *o, uint32_t *port,
                    unsigned *chains, enum action *act)
{
    switch (c) {
    case 'a': *act = APPLY; return 0;
    case 'r': *act = REMOVE; return 0;
    case 'c': *act = CHECK; return 0;
    case 'm': return set_mode(o, optarg);
    case 'p': return parse_u32(optarg, 65535, port);
    case 'M': return parse_u32(optarg, UINT32_MAX, &o->mark);
    case 'R': return parse_u32(optarg, UINT32_MAX, &o->route_mark);
    case 't': return parse_u32(optarg, UINT32_MAX, &o->table);
    case 'P': return parse_u32(optarg, UINT32_MAX, &o->rule_pref);
    case 'H': *chains |= TPRULES_HOST; return 0;
    case 'l': *chains |= TPRULES_LAN; return 0;
    case 'i': return add_iface(o, optarg);
    case '4': o->families &= TPRULES_V4; return 0;
    case '6': o->families &= TPRULES_V6; return 0;
    case 'x': return add_exclude(o, optarg);
    case 'X': o->exclude_private = true; return 0;
    case 'd': o->dns = true; return 0;
    case 'f': o->fail_closed = true; return 0;
    default: return -EINVAL;
    }
}

/* 0, 1 for --help (printed), or 2 for a usage error (reported). */
static int parse(int argc, char **argv, struct tprules_opts *o,
                 enum action *act)
{
    uint32_t port = UINT32_MAX; /* not given: the mode's default */
    unsigned chains = 0;
    int c, idx = 0;
    tprules_defaults(o);
    *act = PRINT;
    while ((c = getopt_long(argc, argv, "h", long_opts, &idx)) != -1) {
        if (c == 'h')
            return fputs(usage, stdout), 1;
        if (c == '?')
            return fputs(usage, stderr), 2;
        if (take_opt(c, o, &port, &chains, act) < 0)
            return fprintf(stderr, "ferry tproxy-rules: bad --%s '%s'\n",
                           long_opts[idx].name, optarg),
                   2;
    }
    if (optind < argc)
        return fprintf(stderr,
                       "ferry tproxy-rules: unexpected argument "
                       "'%s'\n",
                       argv[optind]),
               2;
    if (chains)
        o->chains = chains;
    if (port == UINT32_MAX)
        port = o->mode == TPRULES_TPROXY ? TPRULES_PORT_TPROXY
                                         : TPRULES_PORT_REDIRECT;
    o->port = (uint16_t)port;
    char err[256];
    if (tprules_check(o, err, sizeof(err)) < 0)
        return fprintf(stderr, "ferry tproxy-rules: %s\n", err), 2;
    return 0;
}

/* --- running nft and ip --------------------------------------------------- */

/* What one command did: exit status (-1: did not run) and its stderr. */
struct ran {
    int status;
    char err[4096];
    size_t errlen;
};

static void keep_err(struct ran *r, const char *p, size_t n)
{
    size_t room = sizeof(r->err) - 1 - r->errlen;
    if (n > room)
        n = room;
    memcpy(r->err + r->errlen, p, n);
    r->errlen += n;
    r->err[r->errlen] = '\0';
}

/* Feed input to *in (closed when done or refused) while collecting the
 * child's stderr from errfd until it closes. */
static int pump(int *in, const char *input, int errfd, struct ran *r)
{
    size_t off = 0, len = input ? strlen(input) : 0;
    for (;;) {
        if (*in >= 0 && off == len)
            close(*in), *in = -1;
        struct pollfd p[2] = {{errfd, POLLIN, 0}, {*in, POLLOUT, 0}};
        if (poll(p, *in >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (*in >= 0 && p[1].revents) {
            ssize_t n = write(*in, input + off, len - off);
            if (n < 0 && errno != EINTR && errno != EAGAIN)
                off = len; /* it stopped reading (EPIPE): its status says */
            else if (n > 0)
                off += (size_t)n;
        }
        if (p[0].revents) {
            char buf[1024];
            ssize_t n = read(errfd, buf, sizeof(buf));
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
                return 0;
            if (n > 0)
                keep_err(r, buf, (size_t)n);
        }
    }
}

static int spawn_actions(posix_spawn_file_actions_t *fa, int in, int err)
{
    int rc = posix_spawn_file_actions_init(fa);
    if (rc == 0 && in >= 0)
        rc = posix_spawn_file_actions_adddup2(fa, in, STDIN_FILENO);
    if (rc == 0 && in < 0)
        rc = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null",
                                              O_RDONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(fa, err, STDERR_FILENO);
    return -rc;
}

static void close_pair(int p[2])
{
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0)
            close(p[i]);
}

/* Run argv (argv[0] looked up in PATH) with input on its stdin (NULL:
 * /dev/null).  0 with r->status set, or -errno when it could not run. */
static int run(char *const argv[], const char *input, struct ran *r)
{
    int inp[2] = {-1, -1}, errp[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    pid_t pid;
    *r = (struct ran){.status = -1};
    if ((input && pipe2(inp, O_CLOEXEC) < 0) || pipe2(errp, O_CLOEXEC) < 0) {
        int e = -errno;
        close_pair(inp);
        return e;
    }
    int rc = spawn_actions(&fa, inp[0], errp[1]);
    if (rc == 0) /* glibc reaps the child itself when exec fails */
        rc = -posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    bool spawned = rc == 0;
    close(errp[1]);
    if (inp[0] >= 0)
        close(inp[0]);
    if (spawned)
        rc = pump(&inp[1], input, errp[0], r);
    if (inp[1] >= 0)
        close(inp[1]);
    close(errp[0]);
    int st = 0;
    while (spawned && waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (rc == 0)
        r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return rc;
}

/* Split an `ip ...` line from rules.c (single spaces, no quoting). */
static int run_line(const char *line, struct ran *r)
{
    char copy[TPRULES_CMD_MAX];
    char *argv[16], *save;
    int n = 0;
    size_t len = strlen(line);
    if (len >= sizeof(copy))
        return -E2BIG;
    memcpy(copy, line, len + 1);
    for (char *w = strtok_r(copy, " ", &save); w && n < 15;
         w = strtok_r(NULL, " ", &save))
        argv[n++] = w;
    argv[n] = NULL;
    return run(argv, NULL, r);
}

/* nft [-c] -f - with script on its stdin. */
static int run_nft(bool check_only, const char *script, struct ran *r)
{
    char *argv[5], **a = argv;
    *a++ = "nft";
    if (check_only)
        *a++ = "-c";
    *a++ = "-f";
    *a++ = "-";
    *a = NULL;
    return run(argv, script, r);
}

/* Say why cmd failed: its stderr and what that means. */
static void report(const char *cmd, int rc, const struct ran *r)
{
    if (rc == -ENOENT) {
        bool nft = strncmp(cmd, "nft", 3) == 0;
        fprintf(stderr,
                "ferry tproxy-rules: `%.3s` not found: install it "
                "with `apt-get install %s`\n",
                cmd, nft ? "nftables" : "iproute2");
        return;
    }
    if (rc < 0) {
        fprintf(stderr, "ferry tproxy-rules: cannot run `%s`: %s\n", cmd,
                strerror(-rc));
        return;
    }
    fprintf(stderr, "ferry tproxy-rules: `%s` failed (exit %d):\n%s", cmd,
            r->status, r->err);
    if (r->errlen && r->err[r->errlen - 1] != '\n')
        fputc('\n', stderr);
    const char *why = tprules_diagnose(r->err);
    if (why)
        fprintf(stderr, "ferry tproxy-rules: %s\n", why);
}

static bool ok(int rc, const struct ran *r)
{
    return rc == 0 && r->status == 0;
}

/* --- the actions ---------------------------------------------------------- */

/* The script (malloc'd, caller frees) or NULL. */
static char *nft_script(const struct tprules_opts *o)
{
    ssize_t n = tprules_nft(o, NULL, 0);
    char *s = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (s)
        tprules_nft(o, s, (size_t)n + 1);
    else
        fprintf(stderr, "ferry tproxy-rules: out of memory\n");
    return s;
}

static int print_shell(const struct tprules_opts *o)
{
    ssize_t n = tprules_shell(o, NULL, 0);
    char *s = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (!s)
        return fprintf(stderr, "ferry tproxy-rules: out of memory\n"), 1;
    tprules_shell(o, s, (size_t)n + 1);
    int rc = fputs(s, stdout) < 0 || fflush(stdout) != 0;
    free(s);
    return rc;
}

static int check(const struct tprules_opts *o)
{
    struct ran r;
    char *s = nft_script(o);
    if (!s)
        return 1;
    int rc = run_nft(true, s, &r);
    free(s);
    if (!ok(rc, &r))
        return report("nft -c -f -", rc, &r), 1;
    printf("ferry tproxy-rules: nft accepts the ruleset\n");
    return 0;
}

/* Undo steps[0..done-1] (newest first) after a failure. */
static void undo(const struct tprules_step *steps, int done)
{
    struct ran r;
    int failed = 0;
    for (int i = done - 1; i >= 0; i--) {
        int rc = run_line(steps[i].del, &r);
        if (!ok(rc, &r))
            failed++, report(steps[i].del, rc, &r);
    }
    if (done == 0)
        fprintf(stderr, "ferry tproxy-rules: nothing was changed\n");
    else if (failed == 0)
        fprintf(stderr,
                "ferry tproxy-rules: undid the %d step%s before "
                "it; nothing is left applied\n",
                done, done == 1 ? "" : "s");
    else
        fprintf(stderr,
                "ferry tproxy-rules: %d of the %d steps before it "
                "could not be undone (see above)\n",
                failed, done);
}

static int apply(const struct tprules_opts *o)
{
    struct tprules_step steps[TPRULES_MAX_STEPS];
    struct ran r;
    int n = tprules_ip_steps(o, steps), done = 0, rc = 0;
    char *s = nft_script(o);
    if (!s || n < 0)
        return free(s), 1;
    for (; done < n; done++)
        if (!ok(rc = run_line(steps[done].add, &r), &r))
            break;
    if (done < n)
        report(steps[done].add, rc, &r);
    else if (!ok(rc = run_nft(false, s, &r), &r))
        report("nft -f -", rc, &r);
    free(s);
    if (done < n || !ok(rc, &r))
        return undo(steps, done), 1;
    printf("ferry tproxy-rules: applied table inet %s and %d policy-routing "
           "entr%s; undo with `ferry tproxy-rules --remove`\n",
           TPRULES_TABLE, n, n == 1 ? "y" : "ies");
    return 0;
}

/* ip's answer when the rule or route to delete is not there (or its
 * table, or IPv6 altogether). */
static bool absent(const struct ran *r)
{
    return strstr(r->err, "No such file or directory") ||
           strstr(r->err, "No such process") ||
           strstr(r->err, "FIB table does not exist") ||
           strstr(r->err, "Address family not supported");
}

static int remove_all(const struct tprules_opts *o)
{
    struct tprules_opts all = *o; /* both families, whatever was applied */
    struct tprules_step steps[TPRULES_MAX_STEPS];
    struct ran r;
    char script[256];
    all.mode = TPRULES_TPROXY;
    all.families = TPRULES_V4 | TPRULES_V6;
    all.dns = all.fail_closed = false;
    int n = tprules_ip_steps(&all, steps), gone = 0, failed = 0;
    tprules_nft_remove(script, sizeof(script));
    int rc = run_nft(false, script, &r);
    if (!ok(rc, &r))
        return report("nft -f - (delete table)", rc, &r), 1;
    for (int i = n - 1; i >= 0; i--) {
        rc = run_line(steps[i].del, &r);
        if (rc == 0 && r.status != 0 && absent(&r))
            gone++;
        else if (!ok(rc, &r))
            failed++, report(steps[i].del, rc, &r);
    }
    int removed = n - gone - failed;
    printf("ferry tproxy-rules: table inet %s is gone; removed %d "
           "policy-routing entr%s (%d not there)\n",
           TPRULES_TABLE, removed, removed == 1 ? "y" : "ies", gone);
    return failed ? 1 : 0;
}

int tprules_main(int argc, char **argv)
{
    struct tprules_opts o;
    enum action act;
    int rc = parse(argc, argv, &o, &act);
    if (rc)
        return rc == 1 ? 0 : rc;
    /* Tools' messages in English, so diagnose() can read them; a child
     * that exits early must not kill us with SIGPIPE. */
    if (setenv("LC_ALL", "C", 1) < 0 || signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        return perror("ferry tproxy-rules"), 1;
    switch (act) {
    case CHECK: return check(&o);
    case APPLY: return apply(&o);
    case REMOVE: return remove_all(&o);
    default: return print_shell(&o);
    }
}
