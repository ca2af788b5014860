/* conf: the configuration snapshot and its loaders.
 *
 * A struct conf is built once (from YAML, from command-line listener URLs,
 * or the embedded default), validated, and then never changed: workers
 * hold a reference and read it without locks.  Reload (a later issue)
 * builds a new snapshot and swaps the pointer.
 *
 * YAML schema (docs/configuration.md is the user's reference):
 *
 *   workers: 0                 # 0 = one per core
 *   log:
 *     level: info              # error | warn | info | debug
 *     access: stderr           # stderr | stdout | off | /path/to/file
 *   timeouts:                  # durations: 500ms, 10s, 5m, 1h
 *     connect: 10s             # TCP connect to the target
 *     handshake: 15s           # from accept until the request head is read
 *     idle: 5m                 # no bytes either way on an open relay
 *     dns: 5s                  # one name lookup
 *     shutdown: 10s            # grace period on SIGTERM/SIGINT
 *   dns:
 *     servers: [127.0.0.1:53]  # default: /etc/resolv.conf
 *     cache_size: 1024         # entries per worker; 0 disables
 *   limits:
 *     max_head: 16k            # largest request head, 1k..64k (bytes)
 *   listeners:
 *     - name: main             # optional; default "<type>@<listen>"
 *       type: mixed            # http | socks | mixed
 *       listen: 127.0.0.1:7890 # host:port, [v6]:port; host defaults to
 *                              #   127.0.0.1 when only ":port" is given
 *       users:                 # optional; when present auth is required
 *         - name: alice
 *           password: secret   # or password_hash: "$y$..." (crypt(3))
 *       open: false            # required true for a non-loopback
 *                              #   listener without users
 *       udp_announce: 203.0.113.7  # optional: address for UDP ASSOCIATE
 *       via: corp              # optional: egress of requests no rule
 *                              #   sends elsewhere; default direct
 *   egresses:                  # named ways out; "direct" is implicit
 *     - name: corp
 *       type: http             # http (CONNECT) | socks5 | tunnel
 *       address: proxy.corp:3128  # http and socks5 only (required)
 *       user: bob              # optional, with password
 *       password: secret
 *     - name: lan
 *       type: tunnel
 *       group: lan             # tunnel only; default "" = the gateway
 *                              #   of this agent
 *   rules:                     # ordered, first match wins
 *     - action: allow          # allow | deny
 *       via: corp              # optional with allow; default the
 *                              #   listener's via
 *       cidrs: [10.0.0.0/8]    # conditions, all optional: every one
 *       domains: ["*.corp"]    #   present must match (AND), any entry
 *       ports: [443, 8000-9000]#   of a list may (OR)
 *       users: [alice, "-"]    # "-" = not authenticated
 *       listeners: [main]
 *       protocol: tcp          # tcp | udp
 *   gateway:                   # accept agents (docs/configuration.md)
 *     listen: 0.0.0.0:8443     # required; as a listener's listen
 *     cert: /etc/ferry/gw.pem  # cert and key: both or neither; none =
 *     key: /etc/ferry/gw.key   #   no TLS, on a loopback address only
 *     plaintext: false         #   or anywhere, when true (no TLS at all)
 *     client_ca: ca.pem        # optional: require client certificates
 *     websocket_path: /ferry
 *     tokens:                  # required, at least one
 *       - token: secret        # or token_hash: "$y$..." (crypt(3))
 *         groups: [lan]        # optional; default any group
 *     exit: false              # agents may go out through here
 *     balance: least_streams   # | round_robin
 *     ping: 10s                # ping, timeout (> ping) and max_streams
 *     timeout: 30s             #   (1..65536) are agent: keys too
 *     max_streams: 4096
 *   agent:                     # dial a gateway
 *     server: tls://gw.example.com:8443  # tls | wss | tcp | ws; a
 *                              #   ws(s) path defaults to /ferry
 *     token: secret            # or token_file: /path (its first line)
 *     id: box1                 # default: the host name
 *     group: default
 *     links: 1                 # 1..16
 *     ca: ca.pem               # at most one of ca, fingerprint and
 *     fingerprint: "sha256:.." #   insecure: true; none = system CAs
 *     insecure: false
 *     cert: c.pem              # optional client certificate, with key
 *     key: c.key
 *     sni: gw.example.com      # optional TLS server name
 *     host: gw.example.com     # optional WebSocket Host
 *     proxy: corp              # optional http/socks5 egress to dial by
 *     exit: true               # the gateway may go out through here
 *     backoff: {min: 500ms, max: 30s}
 *
 * Unknown keys are errors.  Every error message starts with
 * "FILE:LINE:COLUMN: " (1-based) and says what is wrong. */
#ifndef FERRY_CONF_H
#define FERRY_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/pattern.h"
#include "core/addr.h"

#define CONF_MAX_HEAD_DEFAULT (16 * 1024)
#define CONF_MAX_HEAD_MIN 1024
#define CONF_MAX_HEAD_MAX (64 * 1024)

enum conf_listener_type {
    CONF_LISTENER_HTTP,
    CONF_LISTENER_SOCKS, /* SOCKS 4, 4a and 5 */
    CONF_LISTENER_MIXED, /* HTTP and SOCKS, by the first byte */
    CONF_LISTENER_FORWARD, /* port forwarding: every connection goes to
                              the listener's target */
    CONF_LISTENER_TPROXY,   /* transparent proxy (TPROXY rules), TCP and
                               UDP: the original destination is the
                               socket's local address */
    CONF_LISTENER_REDIRECT, /* REDIRECT/DNAT rules, TCP: the original
                               destination from conntrack */
};

/* The SO_MARK ferry's own sockets get when it runs intercepting
 * listeners and the file sets no mark: (the rules of `ferry
 * tproxy-rules` exclude it). */
#define CONF_MARK_DEFAULT 0x1f3

enum conf_log_level {
    CONF_LOG_ERROR,
    CONF_LOG_WARN,
    CONF_LOG_INFO,
    CONF_LOG_DEBUG,
};

/* Exactly one of password and password_hash is set. */
struct conf_user {
    char *name;          /* owned by the snapshot */
    char *password;      /* owned by the snapshot, or NULL; never logged */
    char *password_hash; /* owned, or NULL: a crypt(3) hash ("$y$...") */
};

struct conf_listener {
    char *name; /* owned */
    enum conf_listener_type type;
    struct addr addr; /* the resolved listen address (numeric only) */
    struct conf_user *users; /* owned array of n_users */
    unsigned n_users;
    bool open; /* serve without users on a non-loopback address */
    struct addr udp_announce; /* SOCKS5 UDP reply address; len 0 = unset,
                                 port 0 */
    int via; /* default egress of its requests: index into conf.egresses,
                -1 = direct; a rule's own via: wins */
    struct target target; /* forward: where its connections go (a name
                             resolves at the exit); else TARGET_NONE */
};

enum conf_egress_type {
    CONF_EGRESS_HTTP,   /* a parent HTTP proxy, through CONNECT */
    CONF_EGRESS_SOCKS5, /* a parent SOCKS5 proxy */
    CONF_EGRESS_TUNNEL, /* a stream through a tunnel link (group) */
};

/* A named way out.  "direct" is implicit and never in the list. */
struct conf_egress {
    char *name; /* owned; unique, printable, not "direct" */
    enum conf_egress_type type;
    struct target server; /* the parent: a name or an IP, and a port
                             (unset for a tunnel) */
    char *group;          /* tunnel: owned; the agents' group on a
                             gateway, "" = the agent's own gateway */
    char *user;           /* owned, or NULL: no authentication */
    char *password;       /* owned; set exactly when user is; never logged */
};

enum conf_rule_proto { CONF_PROTO_ANY, CONF_PROTO_TCP, CONF_PROTO_UDP };

/* One access rule.  A condition with n_* == 0 is absent (matches
 * anything); every present condition must match, and within one any
 * entry.  All arrays are owned by the snapshot. */
#define CONF_VIA_DIRECT (-1)
#define CONF_VIA_LISTENER (-2) /* a rule without via: the listener's */

struct conf_rule {
    bool allow;
    int egress; /* allow only: index into conf.egresses, CONF_VIA_DIRECT
                   (via: direct) or CONF_VIA_LISTENER (no via) */
    struct pattern_cidr *cidrs;
    unsigned n_cidrs;
    struct pattern_domain *domains;
    unsigned n_domains;
    struct pattern_ports *ports;
    unsigned n_ports;
    char **users; /* "" stands for "not authenticated" ("-" in YAML) */
    unsigned n_users;
    unsigned *listeners; /* indexes into conf.listeners */
    unsigned n_listeners;
    enum conf_rule_proto proto;
};

struct conf_timeouts {
    uint32_t connect_ms;
    uint32_t handshake_ms;
    uint32_t idle_ms;
    uint32_t dns_ms;
    uint32_t shutdown_ms;
};

struct conf_dns {
    struct addr *servers; /* owned array; n_servers == 0 = system default */
    unsigned n_servers;
    uint32_t cache_size;
};

/* The transport between agent and gateway (docs/protocol.md). */
enum conf_tunnel_transport {
    CONF_TUN_TLS, /* tls:// */
    CONF_TUN_WSS, /* wss:// WebSocket over TLS */
    CONF_TUN_TCP, /* tcp:// no TLS (tests, or wrapped by something else) */
    CONF_TUN_WS,  /* ws:// WebSocket without TLS */
};

/* Liveness and limits of every link (gateway: and agent: share them). */
struct conf_link {
    uint32_t ping_ms;      /* ping interval (ping:, default 10s) */
    uint32_t timeout_ms;   /* dead after this long silent (default 30s) */
    unsigned max_streams;  /* per link (default 4096) */
    uint32_t budget;       /* receive-window budget per link, bytes */
};

/* A token an agent may present to the gateway. */
struct conf_token {
    char *token;       /* owned, or NULL; never logged */
    char *token_hash;  /* owned crypt(3) hash, or NULL */
    char **groups;     /* owned; groups it may join; n_groups 0 = any */
    unsigned n_groups;
};

/* gateway: this ferry accepts agents.  Present when listen is set. */
struct conf_gateway {
    bool enabled;
    struct addr listen;
    char *cert, *key;  /* owned PEM paths; both NULL = no TLS (tcp/ws) */
    char *client_ca;   /* owned, or NULL: require client certificates */
    char *ws_path;     /* owned: the WebSocket path accepted ("/ferry") */
    struct conf_token *tokens; /* owned array of n_tokens (>= 1) */
    unsigned n_tokens;
    bool exit;         /* agents may send traffic out through here */
    bool plaintext;    /* no TLS on a non-loopback listen, by choice */
    bool balance_rr;   /* round-robin instead of fewest streams */
    struct conf_link link;
};

/* agent: this ferry dials a gateway and keeps links to it. */
struct conf_agent {
    bool enabled;
    enum conf_tunnel_transport transport;
    struct target server;  /* the gateway */
    char *path;            /* owned: WebSocket path ("/ferry") */
    char *host;            /* owned, or NULL: WebSocket Host (server's) */
    char *sni;             /* owned, or NULL: TLS server name (server's) */
    char *token;           /* owned; never logged */
    char *id;              /* owned: this agent's id (default hostname) */
    char *group;           /* owned: its group ("default") */
    unsigned links;        /* links kept open (default 1) */
    char *ca;              /* owned, or NULL: CA file to verify with */
    uint8_t fingerprint[32]; /* pinned SHA-256 of the gateway cert */
    bool pinned;           /* fingerprint is set */
    bool insecure;         /* verify nothing (tests only; warned) */
    char *cert, *key;      /* owned, or NULL: client certificate */
    int proxy;             /* egress index to reach the gateway; -1 */
    bool exit;             /* the gateway may send traffic out here */
    uint32_t backoff_min_ms, backoff_max_ms;
    struct conf_link link;
};

struct conf {
    unsigned workers; /* 0 = one per online CPU */
    enum conf_log_level log_level;
    char *access_log; /* owned: "stderr", "stdout", "off" or a path */
    struct conf_timeouts timeouts;
    struct conf_dns dns;
    struct conf_listener *listeners; /* owned array of n_listeners */
    unsigned n_listeners;
    struct conf_egress *egresses; /* owned array of n_egresses */
    unsigned n_egresses;
    struct conf_rule *rules; /* owned array of n_rules, in file order */
    unsigned n_rules;
    bool has_rules; /* the file has a rules: key (even an empty list);
                       false turns on the SSRF guard (policy/acl.h) */
    uint32_t max_head; /* largest request head in bytes, 1 KiB..64 KiB
                          (limits.max_head); HTTP answers 431 past it */
    struct conf_gateway gateway;
    struct conf_agent agent;
    uint32_t mark;  /* SO_MARK for ferry's own sockets (mark:), if set */
    bool mark_set;  /* else conf_mark() picks */
};

/* The SO_MARK for every socket ferry opens towards the network (dials,
 * UDP, DNS, tunnel links): mark: if set, else CONF_MARK_DEFAULT when a
 * tproxy or redirect listener exists, else 0 (none). */
uint32_t conf_mark(const struct conf *c);
/* True for the listeners that speak a proxy protocol (http, socks,
 * mixed); false for forward, tproxy and redirect, whose request is
 * known at accept. */
bool conf_listener_is_proxy(const struct conf_listener *l);
/* Parse a mark: decimal or 0x hex, 1 to 0xffffffff.  -EINVAL. */
int conf_parse_mark(const char *s, uint32_t *out);

/* A snapshot with every default set and no listeners.  NULL on ENOMEM. */
struct conf *conf_new(void);
void conf_free(struct conf *c);

/* Load YAML from a file / from memory (name is used in error messages).
 * On success *out gives a new snapshot and 0 is returned; on failure a
 * negative errno is returned, *out is NULL and err holds one line
 * "NAME:LINE:COL: reason" (or "NAME: reason" when there is no position). */
int conf_load_file(const char *path, struct conf **out, char *err,
                   size_t errlen);
int conf_load_string(const char *yaml, size_t len, const char *name,
                     struct conf **out, char *err, size_t errlen);

/* Append a listener given as a URL, as on the command line:
 *   mixed://127.0.0.1:7890   socks5://user:pass@0.0.0.0:1080
 *   http://127.0.0.1:3128    socks://[::1]:1080   socks4://...
 * user and pass are percent-decoded.  -EINVAL with err set if malformed. */
int conf_add_listener_url(struct conf *c, const char *url, char *err,
                          size_t errlen);

/* Add a DNS server "HOST[:PORT]" (numeric; port defaults to 53). */
int conf_add_dns_server(struct conf *c, const char *server, char *err,
                        size_t errlen);

/* Split a gateway URL: "tls://HOST:PORT", "wss://HOST:PORT[/PATH]",
 * "tcp://HOST:PORT" or "ws://HOST:PORT[/PATH]".  *path gets a new
 * string for ws(s) (default "/ferry") and NULL for tls and tcp.  0;
 * -ENOMEM; -EINVAL with err set. */
int conf_parse_tunnel_url(const char *url, enum conf_tunnel_transport *tr,
                          struct target *server, char **path, char *err,
                          size_t errlen);
/* Whether a transport speaks WebSocket (ws, wss) / TLS (tls, wss). */
bool conf_tunnel_ws(enum conf_tunnel_transport t);
bool conf_tunnel_tls(enum conf_tunnel_transport t);
/* A SHA-256 in hex (64 digits), colons between bytes and a "sha256:"
 * (or openssl's "sha256 Fingerprint=") prefix optional, into out.  0 or
 * -EINVAL. */
int conf_parse_fingerprint(const char *s, uint8_t out[32]);
/* Append a tunnel egress (group NULL or "" = the agent's gateway).  Its
 * index, or -EEXIST for a name taken, -EINVAL for a bad name or group,
 * -ENOMEM. */
int conf_add_tunnel_egress(struct conf *c, const char *name,
                           const char *group);
/* Append a plain gateway token (1 to 255 printable bytes).  0, -EINVAL
 * or -ENOMEM. */
int conf_add_gateway_token(struct conf *c, const char *token);
/* *dst = the first line of file (line end dropped), a token of 1 to 255
 * printable bytes.  0; -ENOMEM; or -EINVAL with err set, naming the
 * file as "LABEL \"FILE\"" (agent.token_file, --token-file). */
int conf_read_token_file(const char *label, const char *file, char **dst,
                         char *err, size_t errlen);
/* *dst = a copy of src (NULL: none), the old string wiped and freed.
 * 0 or -ENOMEM (*dst unchanged). */
int conf_set_string(char **dst, const char *src);

/* The embedded default configuration (YAML text), used by `ferry` with
 * no arguments: one mixed listener on 127.0.0.1:7890. */
extern const char conf_default_yaml[];

const char *conf_listener_type_name(enum conf_listener_type t);

/* True for a listener that would serve anyone who can reach a
 * non-loopback address: no users and not marked open.  Such a listener
 * is refused (security by default). */
bool conf_listener_exposed(const struct conf_listener *l);

#endif
