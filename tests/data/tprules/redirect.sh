#!/bin/sh
# ferry tproxy-rules --mode redirect --host --lan --iface eth1 --iface wlan*
# Transparent proxy rules for ferry; docs/tproxy.md explains each rule.
# Intercepted: this host's and the LAN's (forwarded, in on eth1, wlan*)
# TCP, IPv4 and IPv6, to ferry's REDIRECT listener on port 7892
# ([::]:7892, SO_ORIGINAL_DST).
# Nothing listening on 7892: redirected connections are refused.
# Undo with the commands at the end, or:
#   ferry tproxy-rules --remove
set -e
nft -f - <<'FERRY_NFT'
# Everything lives in this table: `nft delete table inet ferry_tproxy`
# removes it and touches nothing else.  `create` fails if it exists.
create table inet ferry_tproxy
table inet ferry_tproxy {
	# Destinations never intercepted (add your own with --exclude).
	set bypass4 {
		type ipv4_addr
		flags interval
		auto-merge
		elements = {
			0.0.0.0/8,
			127.0.0.0/8,
			169.254.0.0/16,
			224.0.0.0/4,
			255.255.255.255,
		}
	}
	set bypass6 {
		type ipv6_addr
		flags interval
		auto-merge
		elements = {
			::,
			::1,
			fe80::/10,
			ff00::/8,
		}
	}
	# accept = leave the packet alone (ends this table's base chain).
	chain bypass {
		ip daddr @bypass4 accept
		ip6 daddr @bypass6 accept
		fib daddr type { local, broadcast } accept
	}
	# Rewrite the destination to ferry's listener (new connections only).
	chain intercept {
		meta l4proto tcp redirect to :7892
	}
	# Traffic forwarded from the LAN.
	chain lan {
		jump bypass
		goto intercept
	}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname { "eth1", "wlan*" } goto lan
	}
	# This host's own traffic.
	chain output {
		type nat hook output priority -100; policy accept;
		# ferry's own sockets (SO_MARK 0x1f3) go out directly.
		meta mark 0x1f3 return
		jump bypass
		goto intercept
	}
}
FERRY_NFT
# To remove by hand:
#   nft delete table inet ferry_tproxy
