#!/bin/sh
# ferry tproxy-rules --port 12345 --mark 0x10 --route-mark 0x20 --table 100 --rule-pref 90 --host --lan --ipv4-only --fail-closed
# Transparent proxy rules for ferry; docs/tproxy.md explains each rule.
# Intercepted: this host's and the LAN's (forwarded, in on any interface
# but lo) TCP and UDP, IPv4 only, to ferry's TPROXY listener on port
# 12345 ([::]:12345, IP_TRANSPARENT).
# Nothing listening on 12345: this host's connections fail (they are
# routed to lo); they never go out unproxied. LAN traffic is dropped
# (--fail-closed).
# Undo with the commands at the end, or:
#   ferry tproxy-rules --remove --route-mark 0x20 --table 100 --rule-pref 90
set -e
ip -4 route add local 0.0.0.0/0 dev lo table 100
ip -4 rule add pref 90 fwmark 0x20 lookup 100
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
	# accept = leave the packet alone (ends this table's base chain).
	chain bypass {
		ip daddr @bypass4 accept
		fib daddr type { local, broadcast } accept
	}
	# Hand the packet to ferry's listener; the mark routes it to lo.
	chain intercept {
		meta l4proto { tcp, udp } tproxy ip to :12345 meta mark set 0x20 accept
		# --fail-closed: nothing listens, so drop instead of forwarding.
		meta l4proto { tcp, udp } drop
	}
	# Traffic forwarded from the LAN.
	chain lan {
		# Replies to connections made from outside are not ours.
		ct direction reply return
		jump bypass
		goto intercept
	}
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		# --ipv4-only: IPv6 is left alone.
		meta nfproto ipv6 return
		# Packets of connections ferry already holds: route them locally.
		meta l4proto tcp socket transparent 1 meta mark set 0x20 accept
		# This host's traffic, marked by the output chain, back from lo.
		iif "lo" meta mark 0x20 goto intercept
		iif != "lo" goto lan
	}
	# This host's own traffic: mark it so policy routing sends it to lo.
	chain output {
		type route hook output priority mangle; policy accept;
		# --ipv4-only: IPv6 is left alone.
		meta nfproto ipv6 return
		# ferry's own sockets (SO_MARK 0x10) go out directly.
		meta mark 0x10 return
		# Replies (SYN-ACKs, UDP answers) must not be intercepted again.
		ct direction reply return
		jump bypass
		meta l4proto { tcp, udp } meta mark set 0x20
	}
}
FERRY_NFT
# To remove by hand:
#   nft delete table inet ferry_tproxy
#   ip -4 rule del pref 90 fwmark 0x20 lookup 100
#   ip -4 route del local 0.0.0.0/0 dev lo table 100
