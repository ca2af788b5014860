# t_chromium: headless Chromium with --proxy-server=http://ferry loads a
# page from a loopback nginx that pulls 60 resources (20 images, 20
# scripts, 20 stylesheets, made by the test); each resource's onload marks
# it in the DOM and --dump-dom shows all 60 marked; nginx's log saw each
# resource once, through ferry (Via), and ferry's access log has them.
source "$(dirname "$0")/lib.sh"
need_tools nginx
CHROME=$(command -v chromium || command -v chromium-browser || true)
[[ -n $CHROME ]] || fail "chromium is missing (run scripts/install-test-deps.sh)"

read -r WEB P < <(free_ports 2 | xargs)
NG=$T/nginx
mkdir -p "$NG/tmp" "$T/www/res"

# --- the page and its 60 resources ----------------------------------------------
py - "$T/www" <<'PY'
import struct, sys, zlib
www = sys.argv[1]

def png(w, h, rgb):
    def chunk(kind, data):
        c = kind + data
        return struct.pack("!I", len(data)) + c + struct.pack("!I", zlib.crc32(c))
    raw = b"".join(b"\0" + bytes(rgb) * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack("!IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

body = []
for i in range(1, 21):
    open(f"{www}/res/i{i}.png", "wb").write(png(16 + i, 16, (i * 12, 255 - i * 12, 128)))
    open(f"{www}/res/s{i}.js", "w").write(
        f"window.js{i} = {i}; /* " + "padding " * 800 + "*/\n")
    open(f"{www}/res/c{i}.css", "w").write(
        f".c{i} {{ color: rgb({i}, {i}, {i}); }}\n/* " + "padding " * 400 + "*/\n")
    body.append(f'<link rel="stylesheet" href="/res/c{i}.css" '
                f'onload="mark(\'css{i}\')" onerror="bad(\'css{i}\')">')
    body.append(f'<img src="/res/i{i}.png" alt="" '
                f'onload="mark(\'img{i}\')" onerror="bad(\'img{i}\')">')
    body.append(f'<script src="/res/s{i}.js" '
                f'onload="mark(\'js{i}\')" onerror="bad(\'js{i}\')"></script>')
page = """<!doctype html>
<html><head><meta charset="utf-8"><title>ferry t_chromium</title>
<link rel="icon" href="data:,">
</head><body>
<div id="marks"></div>
<script>
function put(cls, k) {
  var e = document.createElement('span');
  e.className = cls; e.id = cls + '-' + k; e.textContent = k + ' ';
  document.getElementById('marks').appendChild(e);
}
function mark(k) { put('loaded', k); }
function bad(k) { put('failed', k); }
window.addEventListener('load', function () {
  var d = document.createElement('p'); d.id = 'window-loaded';
  document.body.appendChild(d);
});
</script>
""" + "\n".join(body) + "\n</body></html>\n"
open(f"{www}/index.html", "w").write(page)
PY

cat >"$NG/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
$( ((EUID == 0)) && echo "user root;")
pid $NG/nginx.pid;
error_log $NG/error.log info;
events { worker_connections 512; }
http {
    log_format via '\$connection \$request_method \$request_uri \$status via="\$http_via"';
    access_log $NG/access.log via;
    client_body_temp_path $NG/tmp/body;
    proxy_temp_path $NG/tmp/proxy;
    fastcgi_temp_path $NG/tmp/fastcgi;
    uwsgi_temp_path $NG/tmp/uwsgi;
    scgi_temp_path $NG/tmp/scgi;
    types {
        text/html html;
        image/png png;
        text/javascript js;
        text/css css;
    }
    keepalive_timeout 30s;
    gzip on;
    gzip_proxied any;
    gzip_types text/javascript text/css;
    server {
        listen 127.0.0.1:$WEB;
        root $T/www;
    }
}
EOF
spawn nginx nginx -p "$NG" -c "$NG/nginx.conf" -e "$NG/error.log"
wait_until 10 "nginx on port $WEB" tcp_listening "$WEB"

start_ferry -L "http://127.0.0.1:$P"
LOG=$FERRY_ERR

# --- Chromium -------------------------------------------------------------------
say "headless Chromium through ferry"
mkdir -p "$T/profile"
set +e
timeout -k 5 60 "$CHROME" --headless --no-sandbox --disable-gpu \
    --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --disable-extensions \
    --user-data-dir="$T/profile" \
    --proxy-server="http://127.0.0.1:$P" --proxy-bypass-list='<-loopback>' \
    --dump-dom "http://127.0.0.1:$WEB/index.html" >"$T/dom.html" 2>"$T/chromium.log"
rc=$?
set -e
((rc == 0)) || fail "chromium exited $rc: $(grep -v dbus "$T/chromium.log" | tail -n 20)"

dom=$(cat "$T/dom.html")
assert_contains "$dom" 'id="window-loaded"' "the dumped DOM (page load event)"
failed=$(grep -o 'id="failed-[a-z]*[0-9]*"' "$T/dom.html" | sort -u | tr '\n' ' ' || true)
[[ -z $failed ]] || soft_fail "resources that failed to load: $failed"
n=$(grep -o 'id="loaded-[a-z]*[0-9]*"' "$T/dom.html" | sort -u | wc -l)
assert_eq 60 "$n" "resources marked loaded in the DOM"
for kind in css img js; do
    k=$(grep -o "id=\"loaded-$kind[0-9]*\"" "$T/dom.html" | sort -u | wc -l)
    assert_eq 20 "$k" "$kind resources marked loaded"
done

# nginx saw every resource exactly once, each through ferry.
wait_until 5 "nginx to log 60 resources" \
    test "$(grep -c ' /res/' "$NG/access.log" || true)" -ge 60
n=$(grep -E ' GET /res/[a-z][0-9]+\.(png|js|css) 200 via="1\.1 ferry"$' "$NG/access.log" |
    awk '{print $3}' | sort -u | wc -l)
assert_eq 60 "$n" "distinct resources nginx served to ferry"
n=$(grep -c ' /res/' "$NG/access.log" || true)
assert_eq 60 "$n" "resource requests nginx saw (each once)"
direct=$(grep -v 'via="1\.1 ferry"' "$NG/access.log" || true)
[[ -z $direct ]] || soft_fail "requests reached nginx without ferry's Via: $direct"

# ferry logged them: the page and 60 resources, all 200.
n=$(access_lines "$LOG" | grep -E "proto=http .*target=127\.0\.0\.1:$WEB result=ok .*method=GET status=200" | wc -l)
((n >= 61)) || soft_fail "ferry access log has $n forwarded 200s for the page and 60 resources"
bad=$(access_lines "$LOG" | grep "target=127\.0\.0\.1:$WEB " | grep -v 'result=ok' || true)
[[ -z $bad ]] || soft_fail "ferry logged failures: $bad"
conns=$(access_lines "$LOG" | grep "target=127\.0\.0\.1:$WEB " |
    sed -n 's/.*client=\([^ ]*\).*/\1/p' | sort -u | wc -l)
nconns=$(awk '{print $1}' "$NG/access.log" | sort -u | wc -l)
say "Chromium used $conns client connection(s); nginx saw $nconns upstream connection(s) for $n requests"
((nconns <= conns)) || soft_fail "more upstream connections ($nconns) than client connections ($conns)"
ferry_healthy
finish
