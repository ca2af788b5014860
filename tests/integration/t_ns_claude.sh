# t_ns_claude: docs/tunnel.md's recipe "a restricted machine uses another
# machine's internet", both ways, in network namespaces (netns.sh).
#
#   restricted (B) 10.231.4.1 --- 10.231.4.2 bridge (A) 10.231.5.1
#                                           --- 10.231.5.2 internet
#
# B has no route to the internet and no DNS; A reaches both.  The
# internet has an nginx (HTTP, and HTTPS for www.internet.test) and a
# dnsmasq that knows www.internet.test; only A uses it (--dns).  Negative
# control first: B reaches neither the internet's address nor its name.
# (a) ferry on both: B runs the gateway with the proxy on B's loopback
#     only, A runs the agent; on B, curl (http_proxy, https_proxy with
#     CONNECT and TLS to the origin, ALL_PROXY=socks5h) and python's
#     urllib (what pip uses) get the internet's pages by name, resolved
#     at A; nginx sees A's address; the agent's access log has them.
# (b) stock OpenSSH: ferry's forward proxy on A's loopback, `ssh -N -R`
#     from A to a real sshd on B, the same clients on B.
source "$(dirname "$0")/netns.sh"
need_tools ssh ssh-keygen /usr/sbin/sshd

B=10.231.4.1
A=10.231.5.1
NET=10.231.5.2
NAME=www.internet.test
ns_new restricted bridge internet
ns_link restricted "$B/24" bridge 10.231.4.2/24
ns_link bridge "$A/24" internet "$NET/24"

say "the internet: nginx (http, https) and a resolver for $NAME"
make_cert web "DNS:$NAME"
NGINX_SERVER_EXTRA="listen $NET:80;" in_ns internet start_nginx 80
HTTP_TOKEN=$NGINX_TOKEN
NGINX_SERVER_EXTRA="listen $NET:443 ssl;" in_ns internet start_nginx 443 web
HTTPS_TOKEN=$NGINX_TOKEN
in_ns internet start_dnsmasq --listen-address="$NET" \
    --address="/$NAME/$NET"
DNS="$NET:$DNS_PORT"

say "negative control: B reaches nothing on the internet"
assert_no_route restricted "$NET"
assert_tcp_unreachable restricted "$NET" 80
if in_ns restricted curl -sS --max-time 5 -o /dev/null "http://$NAME/" \
    2>"$T/direct.err"; then
    fail "B fetched http://$NAME/ without a proxy"
fi

# on_b CMD...: CMD on B with the recipe's proxy environment (port $1).
on_b() {
    local p=$1
    shift
    in_ns restricted env http_proxy="http://127.0.0.1:$p" \
        https_proxy="http://127.0.0.1:$p" \
        ALL_PROXY="socks5h://127.0.0.1:$p" "$@"
}
URLLIB='
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
print(urllib.request.urlopen(sys.argv[1], timeout=10, context=ctx)
      .read().decode().strip())
'
# b_clients PORT EXIT-LOG: the tools on B reach the internet by name.
b_clients() {
    local p=$1 log=$2 page
    page=$(on_b "$p" curl -sS --max-time 10 "http://$NAME/")
    assert_eq "$HTTP_TOKEN" "$page" "curl http://$NAME/ with http_proxy"
    page=$(on_b "$p" curl -sS --max-time 10 --cacert "$T/web.crt" \
        "https://$NAME/")
    assert_eq "$HTTPS_TOKEN" "$page" "curl https://$NAME/ with https_proxy"
    page=$(on_b "$p" env -u http_proxy -u https_proxy \
        curl -sS --max-time 10 "http://$NAME/")
    assert_eq "$HTTP_TOKEN" "$page" "curl http://$NAME/ with ALL_PROXY=socks5h"
    page=$(on_b "$p" timeout 20 python3 -c "$URLLIB" "https://$NAME/" \
        "$T/web.crt")
    assert_eq "$HTTPS_TOKEN" "$page" "python urllib https://$NAME/"
    page=$(on_b "$p" timeout 20 python3 -c "$URLLIB" "http://$NAME/host" \
        "$T/web.crt")
    assert_eq "host=$NAME remote=$A" "$page" \
        "nginx sees the request coming from A"
    wait_access_line "$log" "target=$NAME:443 .*result=ok" >/dev/null
    wait_access_line "$log" "target=$NAME:80 .*result=ok" >/dev/null
}

say "(a) ferry on both: the gateway on B, the agent on A"
tunnel_secrets
FERRY_PORTS="8443 7890" in_ns restricted start_ferry gateway \
    --bind 0.0.0.0:8443 --cert "$T/gw.crt" --key "$T/gw.key" \
    --token-file "$T/token" -L mixed://127.0.0.1:7890
GW_PID=$FERRY_PID GW_ERR=$FERRY_ERR
FERRY_PORTS=" " in_ns bridge start_ferry agent --server "tls://$B:8443" \
    --fingerprint "$FP" --token-file "$T/token" --dns "$DNS" --id bridge
AG_PID=$FERRY_PID AG_ERR=$FERRY_ERR
wait_until 15 "the agent on A registered at B" grep -qE \
    "gateway: agent bridge \(group default\) link 0 from 10\.231\.4\.2:" \
    "$GW_ERR"
b_clients 7890 "$AG_ERR"
assert_not_contains "$(cat "$GW_ERR")" "target=$NET" \
    "the gateway's log (B never resolves the names)"
stop_ferry "$GW_PID" "$GW_ERR"
stop_ferry "$AG_PID" "$AG_ERR"

say "(b) stock OpenSSH: ferry on A's loopback, ssh -R to B's sshd"
in_ns restricted start_sshd 22 remote "$B"
printf '%s %s\n' "$B" "$(cut -d' ' -f1,2 "$T/host_key.pub")" \
    >"$T/known_hosts"
FERRY_PORTS=7890 in_ns bridge start_ferry -L mixed://127.0.0.1:7890 \
    --dns "$DNS"
FW_ERR=$FERRY_ERR
in_ns bridge spawn ssh-R ssh -F /dev/null -i "$T/id" \
    -o IdentitiesOnly=yes -o UserKnownHostsFile="$T/known_hosts" \
    -o StrictHostKeyChecking=yes -o BatchMode=yes \
    -o ExitOnForwardFailure=yes -N \
    -R 127.0.0.1:7890:127.0.0.1:7890 -l "$(id -un)" "$B"
in_ns restricted wait_until 15 "ssh -R listening on B's 127.0.0.1:7890" \
    tcp_listening 7890 127.0.0.1
b_clients 7890 "$FW_ERR"

assert_no_secret "$TOKEN" "$T"/*.err "$T"/*.out
finish
