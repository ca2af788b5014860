# t_ns_fronts: what stands between agents and the gateway, in network
# namespaces (netns.sh).
#
#   user 10.231.1.2 --- 10.231.1.1 pub 10.231.3.1 --- 10.231.3.2 lan
#                          |                         servers 10.231.2.2
#                      10.231.8.1
#                          |
#                      10.231.8.2 corp 10.231.6.1 --- 10.231.6.2 office
#
# A. The gateway behind nginx: a gateway on pub's loopback speaking plain
#    WebSocket (websocket_path /t/ferry), nginx on pub's address
#    terminating TLS and proxying that location with the Upgrade and
#    Connection headers; the agent in lan dials wss://10.231.1.1/t/ferry
#    with --ca.  The gateway's own port is closed to lan; the link comes
#    from nginx; curl from user through the gateway reaches the lan's
#    nginx (1 MiB checked); nginx logged the upgrade (101).
# B. The agent behind a corporate proxy: office's only neighbour is corp,
#    which runs squid (CONNECT allowed to the gateway's port only) and
#    forwards nothing; office has no route to pub (checked), the agent's
#    `proxy:` egress is squid; curl from user through a second gateway
#    (TLS, pinned) reaches a page on office's loopback; squid denies
#    another CONNECT (403) and logs the agent's CONNECT as TCP_TUNNEL/200.
source "$(dirname "$0")/netns.sh"

PUB=10.231.1.1
SRV=10.231.2.2
SQUID=10.231.6.1
ns_new user pub lan corp office
ns_link user 10.231.1.2/24 pub "$PUB/24"
ns_link pub 10.231.3.1/24 lan 10.231.3.2/24
ns_addr lan "$SRV/32"
ns_route lan default via 10.231.3.1
ns_link pub 10.231.8.1/24 corp 10.231.8.2/24
ns_route corp default via 10.231.8.1
ns_link corp "$SQUID/24" office 10.231.6.2/24

TOKEN="tok-$RANDOM-$RANDOM-$RANDOM"
printf '%s\n' "$TOKEN" >"$T/token"

say "A. the gateway behind nginx (TLS there, plain WebSocket behind)"
NGINX_SERVER_EXTRA="listen $SRV:80;" in_ns lan start_nginx 80
LAN_TOKEN=$NGINX_TOKEN
make_cert front "IP:$PUB"
# The WebSocket location, as a TLS terminator in front of a gateway has
# it ($http_upgrade is nginx's, not the shell's).  Agents speak TLS 1.3
# only, which nginx before 1.23.4 does not offer unless told.
NGINX_SERVER_EXTRA="listen $PUB:443 ssl;"'
        ssl_protocols TLSv1.2 TLSv1.3;
        location = /t/ferry {
            proxy_pass http://127.0.0.1:8080;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 1h;
            proxy_buffering off;
        }' in_ns pub start_nginx 443 front
cat >"$T/gw-ws.yaml" <<EOF
log: {level: debug}
gateway:
  listen: 127.0.0.1:8080
  websocket_path: /t/ferry
  tokens:
    - token: "$TOKEN"
      groups: [web]
egresses:
  - {name: web, type: tunnel, group: web}
listeners:
  - {type: http, listen: "$PUB:3128", via: web, open: true}
EOF
FERRY_PORTS="8080 3128" in_ns pub start_ferry -c "$T/gw-ws.yaml"
GWS_ERR=$FERRY_ERR
assert_tcp_unreachable lan "$PUB" 8080
FERRY_PORTS=" " in_ns lan start_ferry agent \
    --server "wss://$PUB:443/t/ferry" --ca "$T/front.crt" \
    --token-file "$T/token" --id web1 --group web --log-level debug
AWS_PID=$FERRY_PID AWS_ERR=$FERRY_ERR
wait_until 15 "agent web1 registered through nginx" grep -qE \
    "gateway: agent web1 \(group web\) link 0 from 127\.0\.0\.1:[0-9]+ up" \
    "$GWS_ERR"
page=$(in_ns user curl -sS --max-time 10 -x "http://$PUB:3128" "http://$SRV/")
assert_eq "$LAN_TOKEN" "$page" "GET through the gateway behind nginx"
in_ns user curl -sS --max-time 20 -p -x "http://$PUB:3128" -o "$T/big.bin" \
    "http://$SRV/big"
cmp -s "$T/big.bin" "$T/www-80/big" || fail "1 MiB over nginx's WebSocket differs"
wait_access_line "$AWS_ERR" "listener=tunnel:gateway .*target=$SRV:80 result=ok" \
    >/dev/null
stop_ferry "$AWS_PID" "$AWS_ERR"
# nginx logs a proxied WebSocket when it ends.
wait_until 10 "nginx's log of the upgrade" \
    grep -qE '"GET /t/ferry HTTP/1.1" 101 ' "$T/nginx-443/access.log"

say "B. the agent behind squid: office reaches pub only through corp's squid"
in_ns office start_nginx 81
OFFICE_TOKEN=$NGINX_TOKEN
in_ns corp start_squid squid "http_port $SQUID:3128
dns_nameservers 127.0.0.1
acl CONNECT method CONNECT
acl gateway dst $PUB
acl gateway_port port 8443
http_access allow CONNECT gateway gateway_port
http_access deny all"
assert_no_route office "$PUB"
assert_tcp_unreachable office "$PUB" 8443
code=$(in_ns office curl -s --max-time 10 -o /dev/null -w '%{http_connect}' \
    -p -x "http://$SQUID:3128" "http://$PUB:3129/") || true
assert_eq 403 "$code" "squid's answer to a CONNECT to another port"

make_cert gw
FP=$(openssl x509 -in "$T/gw.crt" -noout -fingerprint -sha256)
FERRY_PORTS="8443 3129" in_ns pub start_ferry gateway --bind 0.0.0.0:8443 \
    --cert "$T/gw.crt" --key "$T/gw.key" --token-file "$T/token" \
    --group office --open -L "http://$PUB:3129" --log-level debug
GWT_ERR=$FERRY_ERR
cat >"$T/office.yaml" <<EOF
log: {level: debug}
agent:
  server: tls://$PUB:8443
  token_file: $T/token
  fingerprint: "$FP"
  id: office1
  group: office
  proxy: corp
egresses:
  - {name: corp, type: http, address: "$SQUID:3128"}
EOF
FERRY_PORTS=" " in_ns office start_ferry -c "$T/office.yaml"
AO_PID=$FERRY_PID AO_ERR=$FERRY_ERR
wait_until 15 "agent office1 registered through squid" grep -qE \
    "gateway: agent office1 \(group office\) link 0 from 10\.231\.8\.2:[0-9]+ up" \
    "$GWT_ERR"
page=$(in_ns user curl -sS --max-time 10 -x "http://$PUB:3129" \
    "http://127.0.0.1:81/")
assert_eq "$OFFICE_TOKEN" "$page" "GET office's loopback through the gateway"
page=$(in_ns user curl -sS --max-time 10 -x "http://$PUB:3129" \
    "http://127.0.0.1:81/host")
assert_eq "host=127.0.0.1 remote=127.0.0.1" "$page" "office's nginx sees"
# squid logs a CONNECT when the tunnel ends.
stop_ferry "$AO_PID" "$AO_ERR"
wait_until 10 "squid's log of the agent's CONNECT" grep -qE \
    "TCP_TUNNEL/200 .*CONNECT $PUB:8443 " "$T/squid-access.log"
assert_file_contains "$T/squid-access.log" "TCP_DENIED/403" "squid's log"

assert_no_secret "$TOKEN" "$T"/*.err "$T"/*.out
finish
