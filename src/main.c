/* main: the command line -> a configuration snapshot -> workers.
 * The only file outside libferry; it holds no logic the tests need. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/log.h"
#include "core/sock.h"
#include "core/worker.h"
#include "policy/auth.h"
#include "tproxy/rulescmd.h"
#include "tunnel/gateway.h"
#include "tunnel/tunnels.h"

#define MAX_WORKERS 256

static const char usage[] =
    "usage: ferry [run] [-c FILE] [-L URL]... [options]\n"
    "       ferry check -c FILE\n"
    "       ferry passwd          (reads a password, prints its hash for\n"
    "                              a users entry's password_hash)\n"
    "       ferry gateway --bind ADDR [--cert F --key F] --token T\n"
    "                     [-L URL]...   accept agents; -L proxies exit at\n"
    "                                   the agents (of --group)\n"
    "       ferry agent --server URL --token T [--ca F | --fingerprint H]\n"
    "                     [-L URL]...   dial the gateway; it exits here;\n"
    "                                   -L proxies exit at the gateway\n"
    "       ferry tproxy-rules [--apply | --remove | --check] [options]\n"
    "                     print or apply the nftables rules for\n"
    "                     transparent proxying (ferry tproxy-rules --help)\n"
    "\n"
    "With no -c and no -L, ferry runs its embedded default: a mixed\n"
    "HTTP+SOCKS proxy on 127.0.0.1:7890.\n"
    "\n"
    "  -c, --config FILE      YAML configuration (docs/configuration.md)\n"
    "  -L, --listen URL       add a listener (repeatable):\n"
    "                           mixed://127.0.0.1:7890\n"
    "                           http://127.0.0.1:3128\n"
    "                           socks5://user:pass@127.0.0.1:1080\n"
    "                           forward://127.0.0.1:2222/HOST:PORT\n"
    "                           tproxy://[::]:12345 (docs/tproxy.md)\n"
    "                           redirect://0.0.0.0:12346\n"
    "      --dns HOST[:PORT]  DNS server (repeatable; default\n"
    "                         /etc/resolv.conf and /etc/hosts)\n"
    "      --open             let -L listeners on non-loopback addresses\n"
    "                         serve without users (default: refuse)\n"
    "  -w, --workers N        worker threads (default: one per core)\n"
    "      --log-level L      error | warn | info | debug\n"
    "      --access-log DEST  stderr | stdout | off | FILE\n"
    "tunnel (docs/tunnel.md):\n"
    "      --bind ADDR        gateway: where agents connect (0.0.0.0:8443)\n"
    "      --cert F --key F   gateway: TLS certificate and key (PEM)\n"
    "      --server URL       agent: tls://H:P, wss://H:P/PATH, tcp://, ws://\n"
    "      --token T          the shared secret (or --token-file F)\n"
    "      --ca F             agent: CA to verify the gateway with\n"
    "      --fingerprint H    agent: pin the gateway cert's SHA-256\n"
    "      --insecure         agent: verify nothing (tests only)\n"
    "      --id ID --group G  agent: its name and group (gateway: the group\n"
    "                         its -L listeners use; default \"default\")\n"
    "      --links N          agent: links to keep open (default 1)\n"
    "      --exit             gateway: agents may exit through it\n"
    "      --plaintext        gateway: no TLS on a non-loopback --bind\n"
    "                         (tokens and traffic cross unencrypted)\n"
    "      --mark M           SO_MARK for ferry's own sockets (default\n"
    "                         0x1f3 with tproxy/redirect listeners)\n"
    "      --no-exit          agent: the gateway may not exit through it\n"
    "  -h, --help             this text\n"
    "  -V, --version          print the version\n";

struct cli {
    const char *command; /* "run" or "check" */
    const char *config;
    const char *listen[64];
    unsigned n_listen;
    const char *dns[16];
    unsigned n_dns;
    long workers; /* -1 = from config */
    bool open;    /* --open */
    const char *log_level;
    const char *access_log;
    const char *mark; /* --mark */
    /* gateway / agent */
    const char *bind, *cert, *key, *server, *token, *token_file, *ca;
    const char *fingerprint, *id, *group, *links;
    bool insecure, exit, no_exit, plaintext;
};

static int parse_cli(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'L'},
        {"dns", required_argument, NULL, 'd'},
        {"workers", required_argument, NULL, 'w'},
        {"log-level", required_argument, NULL, 'l'},
        {"access-log", required_argument, NULL, 'a'},
        {"open", no_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"bind", required_argument, NULL, 'B'},
        {"cert", required_argument, NULL, 'C'},
        {"key", required_argument, NULL, 'K'},
        {"server", required_argument, NULL, 'S'},
        {"token", required_argument, NULL, 'T'},
        {"token-file", required_argument, NULL, 'F'},
        {"ca", required_argument, NULL, 'A'},
        {"fingerprint", required_argument, NULL, 'P'},
        {"id", required_argument, NULL, 'I'},
        {"group", required_argument, NULL, 'G'},
        {"links", required_argument, NULL, 'N'},
        {"insecure", no_argument, NULL, 'i'},
        {"exit", no_argument, NULL, 'e'},
        {"plaintext", no_argument, NULL, 'p'},
        {"no-exit", no_argument, NULL, 'n'},
        {"mark", required_argument, NULL, 'M'},
        {0},
    };
    *cli = (struct cli){.command = "run", .workers = -1};
    if (argc > 1 && argv[1][0] != '-') {
        cli->command = argv[1];
        argv++;
        argc--;
    }
    int c;
    while ((c = getopt_long(argc, argv, "c:L:w:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': cli->config = optarg; break;
        case 'L':
            if (cli->n_listen == 64)
                return fprintf(stderr, "ferry: too many -L\n"), -1;
            cli->listen[cli->n_listen++] = optarg;
            break;
        case 'd':
            if (cli->n_dns == 16)
                return fprintf(stderr, "ferry: too many --dns\n"), -1;
            cli->dns[cli->n_dns++] = optarg;
            break;
        case 'w': {
            char *end;
            cli->workers = strtol(optarg, &end, 10);
            if (*end || cli->workers < 0 || cli->workers > MAX_WORKERS)
                return fprintf(stderr, "ferry: bad --workers %s\n", optarg),
                       -1;
            break;
        }
        case 'l': cli->log_level = optarg; break;
        case 'a': cli->access_log = optarg; break;
        case 'o': cli->open = true; break;
        case 'B': cli->bind = optarg; break;
        case 'C': cli->cert = optarg; break;
        case 'K': cli->key = optarg; break;
        case 'S': cli->server = optarg; break;
        case 'T': cli->token = optarg; break;
        case 'F': cli->token_file = optarg; break;
        case 'A': cli->ca = optarg; break;
        case 'P': cli->fingerprint = optarg; break;
        case 'I': cli->id = optarg; break;
        case 'G': cli->group = optarg; break;
        case 'N': cli->links = optarg; break;
        case 'i': cli->insecure = true; break;
        case 'e': cli->exit = true; break;
        case 'p': cli->plaintext = true; break;
        case 'n': cli->no_exit = true; break;
        case 'M': cli->mark = optarg; break;
        case 'h': fputs(usage, stdout); exit(0);
        case 'V': printf("ferry %s\n", FERRY_VERSION); exit(0);
        default: fputs(usage, stderr); return -1;
        }
    }
    if (optind < argc)
        return fprintf(stderr, "ferry: unexpected argument '%s'\n%s",
                       argv[optind], usage),
               -1;
    if (strcmp(cli->command, "run") && strcmp(cli->command, "check") &&
        strcmp(cli->command, "passwd") && strcmp(cli->command, "gateway") &&
        strcmp(cli->command, "agent"))
        return fprintf(stderr, "ferry: unknown command '%s'\n%s",
                       cli->command, usage),
               -1;
    return 0;
}

static int level_from(const char *s, enum conf_log_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return *out = (enum conf_log_level)i, 0;
    return -EINVAL;
}

/* The token from --token or the first line of --token-file. */
static int cli_token(const struct cli *cli, char **dst, char *err,
                     size_t errlen)
{
    if (cli->token_file)
        return conf_read_token_file("--token-file", cli->token_file, dst,
                                    err, errlen);
    if (!cli->token || !*cli->token) {
        snprintf(err, errlen, "a --token (or --token-file) is required");
        return -EINVAL;
    }
    return conf_set_string(dst, cli->token);
}

/* -L listeners of `ferry gateway` / `ferry agent` go into the tunnel. */
static int cli_via_tunnel(struct conf *c, unsigned first, const char *group)
{
    int e = conf_add_tunnel_egress(c, "tunnel", group);
    for (unsigned i = first; e >= 0 && i < c->n_listeners; i++)
        c->listeners[i].via = e;
    return e < 0 ? e : 0;
}

static int cli_gateway(const struct cli *cli, struct conf *c,
                       unsigned first, char *err, size_t errlen)
{
    struct conf_gateway *g = &c->gateway;
    struct target t;
    if (!cli->bind || target_parse(&t, cli->bind, strlen(cli->bind), 0) < 0 ||
        t.kind != TARGET_IP)
        return snprintf(err, errlen, "gateway: --bind IP:PORT is required"),
               -EINVAL;
    g->enabled = true;
    g->listen = t.ip;
    g->exit = cli->exit;
    g->plaintext = cli->plaintext;
    int rc = 0;
    if (!cli->cert != !cli->key) {
        return snprintf(err, errlen, "gateway: --cert and --key go "
                                     "together"),
               -EINVAL;
    } else if (cli->cert && cli->plaintext) {
        return snprintf(err, errlen, "gateway: --plaintext means no "
                                     "--cert and --key"),
               -EINVAL;
    } else if (cli->cert) {
        rc = conf_set_string(&g->cert, cli->cert);
        if (rc == 0)
            rc = conf_set_string(&g->key, cli->key);
    } else if (!cli->plaintext && !addr_is_loopback(&g->listen)) {
        return snprintf(err, errlen, "gateway: --cert and --key are needed "
                                     "on a non-loopback --bind (or "
                                     "--plaintext)"),
               -EINVAL;
    }
    char *tok = NULL;
    if (rc == 0)
        rc = cli_token(cli, &tok, err, errlen);
    if (rc == 0)
        rc = conf_add_gateway_token(c, tok);
    if (tok)
        explicit_bzero(tok, strlen(tok));
    free(tok);
    if (rc == 0)
        rc = cli_via_tunnel(c, first, cli->group ? cli->group : "default");
    return rc;
}

static int cli_agent(const struct cli *cli, struct conf *c, unsigned first,
                     char *err, size_t errlen)
{
    struct conf_agent *a = &c->agent;
    if (!cli->server)
        return snprintf(err, errlen, "agent: --server URL is required"),
               -EINVAL;
    free(a->path);
    a->path = NULL;
    int rc = conf_parse_tunnel_url(cli->server, &a->transport, &a->server,
                                   &a->path, err, errlen);
    if (rc == 0 && !a->path)
        rc = conf_set_string(&a->path, "/ferry");
    if (rc == 0)
        rc = cli_token(cli, &a->token, err, errlen);
    if (rc == 0 && cli->ca)
        rc = conf_set_string(&a->ca, cli->ca);
    if (rc == 0 && cli->fingerprint &&
        (rc = conf_parse_fingerprint(cli->fingerprint, a->fingerprint)) < 0)
        snprintf(err, errlen, "agent: bad --fingerprint (64 hex digits)");
    a->pinned = cli->fingerprint != NULL;
    a->insecure = cli->insecure;
    a->exit = !cli->no_exit;
    if (rc == 0 && cli->id)
        rc = conf_set_string(&a->id, cli->id);
    if (rc == 0 && cli->group)
        rc = conf_set_string(&a->group, cli->group);
    if (rc == 0 && cli->links) {
        a->links = (unsigned)strtoul(cli->links, NULL, 10);
        if (a->links < 1 || a->links > 16)
            rc = -EINVAL, snprintf(err, errlen, "agent: --links 1..16");
    }
    a->enabled = rc == 0;
    if (rc == 0)
        rc = cli_via_tunnel(c, first, "");
    return rc;
}

/* Build the snapshot: file or embedded default, then the command line. */
static struct conf *build_conf(const struct cli *cli)
{
    char err[512];
    struct conf *c = NULL;
    int rc;
    if (cli->config)
        rc = conf_load_file(cli->config, &c, err, sizeof(err));
    else if (cli->n_listen == 0 && strcmp(cli->command, "run") == 0)
        rc = conf_load_string(conf_default_yaml, strlen(conf_default_yaml),
                              "(embedded default)", &c, err, sizeof(err));
    else
        rc = (c = conf_new()) ? 0 : (snprintf(err, sizeof(err), "%s",
                                              strerror(ENOMEM)), -ENOMEM);
    unsigned first = c ? c->n_listeners : 0;
    for (unsigned i = 0; rc == 0 && i < cli->n_listen; i++) {
        rc = conf_add_listener_url(c, cli->listen[i], err, sizeof(err));
        if (rc == 0 && cli->open)
            c->listeners[c->n_listeners - 1].open = true;
    }
    if (rc == 0 && strcmp(cli->command, "gateway") == 0)
        rc = cli_gateway(cli, c, first, err, sizeof(err));
    if (rc == 0 && strcmp(cli->command, "agent") == 0)
        rc = cli_agent(cli, c, first, err, sizeof(err));
    for (unsigned i = 0; rc == 0 && i < c->n_listeners; i++)
        if (conf_listener_exposed(&c->listeners[i]))
            rc = -EPERM, snprintf(err, sizeof(err),
                                  "listener '%s' is on a non-loopback "
                                  "address without users: add "
                                  "user:pass@ to its URL, or pass --open",
                                  c->listeners[i].name);
    for (unsigned i = 0; rc == 0 && i < cli->n_dns; i++)
        rc = conf_add_dns_server(c, cli->dns[i], err, sizeof(err));
    if (rc == 0 && cli->workers >= 0)
        c->workers = (unsigned)cli->workers;
    if (rc == 0 && cli->mark &&
        (rc = conf_parse_mark(cli->mark, &c->mark)) < 0)
        snprintf(err, sizeof(err), "bad --mark '%s' (1 to 0xffffffff)",
                 cli->mark);
    if (rc == 0 && cli->mark)
        c->mark_set = true;
    if (rc == 0 && cli->log_level &&
        level_from(cli->log_level, &c->log_level) < 0)
        rc = -EINVAL, snprintf(err, sizeof(err), "bad --log-level '%s'",
                               cli->log_level);
    if (rc == 0 && cli->access_log) {
        free(c->access_log);
        if (!(c->access_log = strdup(cli->access_log)))
            rc = -ENOMEM, snprintf(err, sizeof(err), "out of memory");
    }
    if (rc == 0 && c->n_listeners == 0 && !c->gateway.enabled &&
        !c->agent.enabled)
        rc = -EINVAL, snprintf(err, sizeof(err), "no listeners configured");
    if (rc < 0) {
        fprintf(stderr, "ferry: %s\n", err);
        conf_free(c);
        return NULL;
    }
    return c;
}

/* The lines a user pastes to point tools at this proxy. */
static void print_banner(const struct conf *c)
{
    for (unsigned i = 0; i < c->n_listeners; i++) {
        const struct conf_listener *l = &c->listeners[i];
        char a[ADDR_STRLEN];
        addr_format(&l->addr, a, sizeof(a));
        const char *cred = l->n_users ? "USER:PASSWORD@" : "";
        if (l->type == CONF_LISTENER_FORWARD) {
            char t[TARGET_HOST_MAX + 10];
            printf("ferry: forward '%s' on %s to %s\n", l->name, a,
                   target_format(&l->target, t, sizeof(t)));
            continue;
        }
        if (!conf_listener_is_proxy(l)) {
            printf("ferry: %s listener '%s' on %s (interception rules: "
                   "ferry tproxy-rules --help)\n",
                   conf_listener_type_name(l->type), l->name, a);
            continue;
        }
        printf("ferry: %s proxy '%s' on %s\n", conf_listener_type_name(l->type),
               l->name, a);
        if (l->type != CONF_LISTENER_SOCKS)
            printf("  export http_proxy=http://%s%s https_proxy=http://%s%s\n",
                   cred, a, cred, a);
        if (l->type != CONF_LISTENER_HTTP)
            printf("  export ALL_PROXY=socks5h://%s%s\n", cred, a);
    }
    fflush(stdout);
}

static unsigned worker_count(const struct conf *c)
{
    if (c->workers > 0)
        return c->workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
}

static bool all_exited(struct worker **ws, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (!atomic_load(&ws[i]->exited))
            return false;
    return true;
}

/* Wait for SIGINT/SIGTERM, drain, wait up to the grace period (a second
 * signal cuts it short), then stop whatever is left. */
static void wait_and_shutdown(struct worker **ws, unsigned n,
                              const struct conf *c, const sigset_t *sigs)
{
    int sig;
    while (sigwait(sigs, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
        ;
    log_info("signal %d: draining (up to %u ms)", sig, c->timeouts.shutdown_ms);
    for (unsigned i = 0; i < n; i++)
        worker_drain(ws[i]);
    struct timespec tick = {0, 50 * 1000 * 1000};
    for (uint32_t waited = 0; waited < c->timeouts.shutdown_ms; waited += 50) {
        if (all_exited(ws, n) || sigtimedwait(sigs, NULL, &tick) > 0)
            break;
    }
    for (unsigned i = 0; i < n; i++)
        worker_stop(ws[i]);
}

/* Workers with their listeners (and the gateway's) open. */
static int make_workers(struct conf *c, struct tunnels *tun,
                        struct worker **ws, unsigned n)
{
    char err[512];
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++)
        if ((rc = worker_new(&ws[i], i, c, err, sizeof(err))) < 0)
            fprintf(stderr, "ferry: %s\n", err);
    if (rc == 0 && tun)
        tunnels_attach(tun, ws, n);
    for (unsigned i = 0; i < n && rc == 0 && tun; i++)
        if ((rc = gateway_listen(ws[i], err, sizeof(err))) < 0)
            fprintf(stderr, "ferry: %s\n", err);
    return rc;
}

/* ferry's own sockets will carry a mark: may it set one?  Said once at
 * start rather than as a failure of every connection. */
static int check_mark(const struct conf *c)
{
    uint32_t mark = conf_mark(c);
    int fd = mark ? socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0) : -1;
    int rc = fd >= 0 ? sock_mark(fd, mark) : 0;
    if (fd >= 0)
        close(fd);
    if (rc == -EPERM)
        fprintf(stderr, "ferry: marking its own sockets (SO_MARK 0x%x, "
                "so interception rules let them pass) needs "
                "CAP_NET_ADMIN: run as root, or `setcap cap_net_admin+ep` "
                "the binary\n", mark);
    else if (rc < 0)
        fprintf(stderr, "ferry: SO_MARK: %s\n", strerror(-rc));
    return rc;
}

static int run(struct conf *c)
{
    struct worker *ws[MAX_WORKERS] = {0};
    unsigned n = worker_count(c);
    char err[512];
    struct tunnels *tun = NULL;
    int rc = log_setup(c->log_level, c->access_log);
    if (rc < 0) {
        fprintf(stderr, "ferry: access log %s: %s\n", c->access_log,
                strerror(-rc));
        return 1;
    }
    if (check_mark(c) < 0)
        return 1;
    long nofile = sock_raise_nofile();
    if (nofile < 0)
        log_warn("cannot raise the open-file limit: %s", strerror(-nofile));
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* workers inherit the mask */
    signal(SIGPIPE, SIG_IGN);
    if ((rc = tunnels_new(&tun, c, err, sizeof(err))) < 0)
        fprintf(stderr, "ferry: %s\n", err);
    if (rc == 0)
        rc = make_workers(c, tun, ws, n);
    for (unsigned i = 0; i < n && rc == 0; i++)
        if ((rc = worker_start(ws[i])) < 0)
            fprintf(stderr, "ferry: cannot start worker: %s\n", strerror(-rc));
    if (rc == 0) {
        print_banner(c);
        log_info("ferry %s running with %u worker%s", FERRY_VERSION, n,
                 n == 1 ? "" : "s");
        wait_and_shutdown(ws, n, c, &sigs);
    } else {
        for (unsigned i = 0; i < n; i++)
            if (ws[i] && ws[i]->started)
                worker_stop(ws[i]);
    }
    for (unsigned i = 0; i < n; i++)
        worker_free(ws[i]);
    tunnels_free(tun);
    log_teardown();
    return rc == 0 ? 0 : 1;
}

/* ferry passwd: one line from stdin (a terminal gets a prompt without
 * echo) -> a yescrypt hash on stdout. */
static int passwd(void)
{
    char line[1024], hash[AUTH_HASH_MAX];
    const char *pass = NULL;
    if (isatty(STDIN_FILENO))
        pass = getpass("password: ");
    else if (fgets(line, sizeof(line), stdin))
        pass = line;
    if (!pass || !*pass) {
        fprintf(stderr, "ferry passwd: no password given\n");
        return 1;
    }
    char *copy = strdup(pass);
    if (!copy)
        return 1;
    copy[strcspn(copy, "\r\n")] = '\0';
    int rc = *copy ? auth_hash_password(copy, hash, sizeof(hash)) : -EINVAL;
    explicit_bzero(copy, strlen(copy));
    explicit_bzero(line, sizeof(line));
    free(copy);
    if (rc < 0) {
        fprintf(stderr, "ferry passwd: %s\n", strerror(-rc));
        return 1;
    }
    printf("%s\n", hash);
    return 0;
}

int main(int argc, char **argv)
{
    struct cli cli;
    if (argc > 1 && strcmp(argv[1], "tproxy-rules") == 0)
        return tprules_main(argc - 1, argv + 1);
    if (parse_cli(&cli, argc, argv) < 0)
        return 2;
    if (strcmp(cli.command, "passwd") == 0)
        return passwd();
    if (strcmp(cli.command, "check") == 0 && !cli.config) {
        fprintf(stderr, "ferry check: -c FILE is required\n");
        return 2;
    }
    struct conf *c = build_conf(&cli);
    if (!c)
        return 1;
    if (strcmp(cli.command, "check") == 0) {
        printf("%s: OK (%u listener%s)\n", cli.config, c->n_listeners,
               c->n_listeners == 1 ? "" : "s");
        conf_free(c);
        return 0;
    }
    int rc = run(c);
    conf_free(c);
    return rc;
}
