// yamuxpeer: a ferry tunnel peer built on hashicorp/yamux, for the
// interoperability test tests/integration/t_yamux_interop.sh.
//
//	yamuxpeer -agent HOST:PORT -token T [-id ID] [-group G] [-link N]
//	    dial a ferry gateway (plain tcp://) as an agent: the yamux client
//	yamuxpeer -gateway HOST:PORT -token T
//	    accept `ferry agent --server tcp://HOST:PORT` as a gateway: the
//	    yamux server (an agent that redials gets a new session)
//
// -trace logs every frame, both ways, to stderr.  Built offline against
// Debian 12's packages (golang-go; golang-github-hashicorp-yamux-dev,
// hashicorp/yamux of 2019-09, df201c7) in GOPATH mode:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o yamuxpeer main.go
//
// Either way the connection starts with ferry's hello and welcome
// (docs/protocol.md section 2), then carries one yamux session.  Every
// stream ferry opens is served as an exit would (section 4): read the
// open request, dial the target, write the open reply, relay the bytes,
// passing each direction's end on as a half-close.
//
// The test drives the peer through commands on stdin, one per line, each
// starting with a tag; the result is one line on stdout starting with the
// same tag.  Commands run concurrently and go to the newest session.
//
//	TAG open HOST PORT [TEXT]       open a stream, print the reply code;
//	                                with TEXT, send a line, read it back
//	TAG rawopen HEX                 the same with raw open-request bytes
//	TAG blast HOST PORT BYTES       ftlib.py blast: BYTES each way; sha256s
//	TAG halfclose HOST PORT UP      ftlib.py halfclose (client-first): send
//	                                UP bytes, FIN, read the answer to EOF
//	TAG hold HOST PORT              open a stream to an echo server, keep it
//	TAG release HOLDTAG             echo a line on it, FIN, wait for EOF
//	TAG ping                        Session.Ping()
//	TAG goaway                      Session.GoAway(); close when idle
//	TAG tryopen                     Session.OpenStream() alone
//	TAG stats [SESSION]             what the tap counted (below)
//
// What ferry does on its own is printed as "event ..." lines.  A tap on
// the connection cuts both directions into frames (independently of
// yamux) and counts them, so the test sees ferry's pings, window updates,
// stream opens and GoAway on the wire, and the window Go granted.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/yamux"
)

var (
	agentAddr   = flag.String("agent", "", "dial this ferry gateway")
	gatewayAddr = flag.String("gateway", "", "accept ferry agents here")
	token       = flag.String("token", "", "the shared token")
	agentID     = flag.String("id", "yamuxpeer", "agent id (-agent)")
	group       = flag.String("group", "default", "agent group (-agent)")
	linkIndex   = flag.Int("link", 0, "link index (-agent)")
	trace       = flag.Bool("trace", false, "log every frame to stderr")
)

const opTimeout = 90 * time.Second // no command waits longer

// ---- output ----------------------------------------------------------

var outMu sync.Mutex

func say(format string, a ...interface{}) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", a...)
}

// ---- the tap: the frames on the wire, both ways ----------------------

// Frame types and flags of the 12-byte yamux header (docs/protocol.md 3).
const (
	typeData, typeWindowUpdate, typePing, typeGoAway = 0, 1, 2, 3
	flagSYN, flagACK, flagFIN, flagRST               = 1, 2, 4, 8
)

// frames cuts one direction of the byte stream into frames and counts
// them, independently of yamux.
type frames struct {
	dir  string // "in" (from ferry) or "out", for -trace
	hdr  [12]byte
	hlen int
	skip uint32 // payload bytes of the current Data frame still to come

	syn, pings, wus, wuBytes, goaway uint64
	goawayCode                       int64             // -1: none seen
	data                             map[uint32]uint64 // payload by stream
	end                              map[uint32]bool   // FIN or RST sent
}

func newFrames(dir string) *frames {
	return &frames{dir: dir, goawayCode: -1, data: map[uint32]uint64{},
		end: map[uint32]bool{}}
}

// scan feeds the next bytes; onGoAway runs for each GoAway frame.
func (f *frames) scan(p []byte, onGoAway func(code uint32)) {
	for len(p) > 0 {
		if f.skip > 0 { // payload: not ours to look at
			k := uint32(len(p))
			if k > f.skip {
				k = f.skip
			}
			f.skip -= k
			p = p[k:]
			continue
		}
		k := copy(f.hdr[f.hlen:], p)
		f.hlen += k
		p = p[k:]
		if f.hlen < len(f.hdr) {
			return
		}
		f.hlen = 0
		f.frame(f.hdr[1], binary.BigEndian.Uint16(f.hdr[2:]),
			binary.BigEndian.Uint32(f.hdr[4:]),
			binary.BigEndian.Uint32(f.hdr[8:]), onGoAway)
	}
}

func (f *frames) frame(typ uint8, flags uint16, id, length uint32,
	onGoAway func(uint32)) {
	if *trace {
		fmt.Fprintf(os.Stderr, "%s %s type=%d flags=%d id=%d len=%d\n",
			time.Now().Format("15:04:05.000000"), f.dir, typ, flags, id,
			length)
	}
	switch typ {
	case typePing:
		if flags&flagSYN != 0 {
			f.pings++
		}
		return
	case typeGoAway:
		f.goaway++
		f.goawayCode = int64(length)
		if onGoAway != nil {
			onGoAway(length)
		}
		return
	}
	if flags&flagSYN != 0 {
		f.syn++
	}
	if typ == typeData {
		f.data[id] += uint64(length)
		f.skip = length
	} else if length > 0 {
		f.wus++
		f.wuBytes += uint64(length)
	}
	if flags&(flagFIN|flagRST) != 0 {
		f.end[id] = true
	}
}

// tap wraps the connection under yamux: in is what ferry sends, out what
// our yamux sends.
type tap struct {
	net.Conn
	sess    int // session number, for events
	mu      sync.Mutex
	in, out *frames
}

func newTap(c net.Conn, sess int) *tap {
	return &tap{Conn: c, sess: sess, in: newFrames("in"),
		out: newFrames("out")}
}

func (t *tap) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	t.mu.Lock()
	t.in.scan(p[:n], func(code uint32) {
		say("event goaway-in session=%d code=%d", t.sess, code)
	})
	t.mu.Unlock()
	return n, err
}

func (t *tap) Write(p []byte) (int, error) {
	n, err := t.Conn.Write(p)
	t.mu.Lock()
	t.out.scan(p[:n], nil)
	t.mu.Unlock()
	return n, err
}

// ended: ferry closed stream id and every byte it sent on it before
// that has been read (read bytes of the stream counted by the caller).
func (t *tap) ended(id uint32, read uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.in.end[id] && read >= t.in.data[id]
}

func (t *tap) stats() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, o := t.in, t.out
	return fmt.Sprintf("syn_in=%d ping_in=%d wu_in=%d wu_bytes=%d "+
		"goaway_in=%d goaway_code=%d syn_out=%d ping_out=%d wu_out=%d "+
		"wu_out_bytes=%d goaway_out=%d", i.syn, i.pings, i.wus, i.wuBytes,
		i.goaway, i.goawayCode, o.syn, o.pings, o.wus, o.wuBytes, o.goaway)
}

// ---- sessions ----------------------------------------------------------

type peer struct {
	n    int
	sess *yamux.Session
	tap  *tap
}

var (
	peersMu sync.Mutex
	peers   = map[int]*peer{}
	newest  *peer
	nPeers  int
)

func current() *peer {
	peersMu.Lock()
	defer peersMu.Unlock()
	return newest
}

// startSession runs yamux over c (the hello and welcome are done).
func startSession(c net.Conn, client bool, who string) {
	peersMu.Lock()
	nPeers++
	p := &peer{n: nPeers, tap: newTap(c, nPeers)}
	peersMu.Unlock()

	cfg := yamux.DefaultConfig()
	// No pings of our own: while idle, ferry's link stays up only if
	// ferry's pings are answered.
	cfg.EnableKeepAlive = false
	cfg.LogOutput = os.Stderr
	var err error
	if client {
		p.sess, err = yamux.Client(p.tap, cfg)
	} else {
		p.sess, err = yamux.Server(p.tap, cfg)
	}
	if err != nil {
		say("event error session=%d yamux: %v", p.n, err)
		c.Close()
		return
	}
	peersMu.Lock()
	peers[p.n] = p
	newest = p
	peersMu.Unlock()
	say("event up session=%d %s", p.n, who)
	go func() {
		<-p.sess.CloseChan()
		say("event closed session=%d", p.n)
	}()
	go func() {
		for {
			st, err := p.sess.AcceptStream()
			if err != nil {
				return
			}
			go serveStream(p, newHalf(p, st))
		}
	}()
}

// ---- hello and welcome (docs/protocol.md section 2) --------------------

const magic = "FRY1"

func hello(tok, id, grp string, link int) []byte {
	var f []byte
	for i, v := range []string{tok, id, grp, strconv.Itoa(link)} {
		f = append(f, byte(i+1), byte(len(v)))
		f = append(f, v...)
	}
	b := append([]byte(magic), 1, 0, 0)
	binary.BigEndian.PutUint16(b[5:], uint16(len(f)))
	return append(b, f...)
}

func welcome(status byte, msg string) []byte {
	b := append([]byte(magic), 1, status, byte(len(msg)))
	return append(b, msg...)
}

func runAgent() {
	c, err := net.DialTimeout("tcp", *agentAddr, 10*time.Second)
	if err != nil {
		fatal("dial %s: %v", *agentAddr, err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(hello(*token, *agentID, *group,
		*linkIndex)); err != nil {
		fatal("hello: %v", err)
	}
	var w [7]byte
	if _, err := io.ReadFull(c, w[:]); err != nil {
		fatal("welcome: %v", err)
	}
	msg := make([]byte, w[6])
	if _, err := io.ReadFull(c, msg); err != nil {
		fatal("welcome message: %v", err)
	}
	if string(w[:4]) != magic || w[4] != 1 || w[5] != 0 {
		say("event refused status=%d message=%q", w[5], msg)
		os.Exit(3)
	}
	c.SetDeadline(time.Time{})
	startSession(c, true, "role=agent id="+*agentID)
}

// readHello parses an agent's hello: token, id, group, link.
func readHello(c net.Conn) (map[byte]string, error) {
	var h [7]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		return nil, err
	}
	if string(h[:4]) != magic || h[4] != 1 {
		return nil, fmt.Errorf("bad magic/version % x", h[:5])
	}
	body := make([]byte, binary.BigEndian.Uint16(h[5:]))
	if _, err := io.ReadFull(c, body); err != nil {
		return nil, err
	}
	f := map[byte]string{}
	for len(body) >= 2 && len(body) >= 2+int(body[1]) {
		f[body[0]] = string(body[2 : 2+body[1]])
		body = body[2+body[1]:]
	}
	if len(body) != 0 {
		return nil, fmt.Errorf("truncated field")
	}
	return f, nil
}

func runGateway() {
	ln, err := net.Listen("tcp", *gatewayAddr)
	if err != nil {
		fatal("listen %s: %v", *gatewayAddr, err)
	}
	say("event listening %s", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			fatal("accept: %v", err)
		}
		go func() {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			f, err := readHello(c)
			if err != nil {
				say("event bad-hello %v", err)
				c.Write(welcome(2, "malformed hello"))
				c.Close()
				return
			}
			say("event hello id=%s group=%s link=%s token=%v", f[2], f[3],
				f[4], f[1] == *token)
			if f[1] != *token {
				c.Write(welcome(1, "bad token"))
				c.Close()
				return
			}
			if _, err := c.Write(welcome(0, "")); err != nil {
				c.Close()
				return
			}
			c.SetDeadline(time.Time{})
			startSession(c, false, "role=gateway id="+f[2]+" link="+f[4])
		}()
	}
}

// ---- streams -----------------------------------------------------------

// half is a yamux stream whose reads still work after our own Close.
// This yamux version (Debian 12's, 2019) makes Stream.Read report EOF
// whenever its buffer is empty once the local side has sent FIN, even
// though the peer may still send (later versions fixed it).  So after
// Close a read that gets EOF asks the tap: the end is real once ferry's
// FIN (or RST) is on the wire and every byte ferry sent before it has
// been read; until then it polls.
type half struct {
	*yamux.Stream
	p        *peer
	read     uint64
	closed   atomic.Bool
	deadline time.Time
}

func newHalf(p *peer, st *yamux.Stream) *half {
	h := &half{Stream: st, p: p, deadline: time.Now().Add(opTimeout)}
	st.SetDeadline(h.deadline)
	return h
}

func (h *half) Read(b []byte) (int, error) {
	for {
		n, err := h.Stream.Read(b)
		h.read += uint64(n)
		if n > 0 || err != io.EOF || !h.closed.Load() {
			return n, err
		}
		if h.p.tap.ended(h.StreamID(), h.read) || h.p.sess.IsClosed() {
			return 0, io.EOF
		}
		if time.Now().After(h.deadline) {
			return 0, yamux.ErrTimeout
		}
		time.Sleep(time.Millisecond)
	}
}

// Close sends FIN (a half-close: reads go on).
func (h *half) Close() error {
	h.closed.Store(true)
	return h.Stream.Close()
}

// openRequest encodes ferry's open request for a TCP target.
func openRequest(host string, port int) []byte {
	b := []byte{1, 1} // version 1, kind TCP
	if ip := net.ParseIP(host); ip != nil && ip.To4() != nil {
		b = append(append(b, 1), ip.To4()...)
	} else if ip != nil {
		b = append(append(b, 4), ip.To16()...)
	} else {
		b = append(append(b, 3, byte(len(host))), host...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(port))
	tag := func(k, v string) []byte {
		return append(append(append([]byte{byte(len(k))}, k...),
			byte(len(v))), v...)
	}
	b = append(b, 1)
	return append(b, tag("client", "yamuxpeer")...)
}

// openRaw opens a stream, sends req and reads the 2-byte open reply.
func openRaw(p *peer, req []byte) (*half, int, error) {
	st, err := p.sess.OpenStream()
	if err != nil {
		return nil, -1, err
	}
	h := newHalf(p, st)
	if _, err := h.Write(req); err != nil {
		h.Close()
		return nil, -1, err
	}
	var r [2]byte
	if _, err := io.ReadFull(h, r[:]); err != nil {
		h.Close()
		return nil, -1, err
	}
	if r[0] != 1 {
		h.Close()
		return nil, -1, fmt.Errorf("open reply version %d", r[0])
	}
	return h, int(r[1]), nil
}

func open(p *peer, host, port string) (*half, int, error) {
	n, err := strconv.Atoi(port)
	if err != nil {
		return nil, -1, err
	}
	return openRaw(p, openRequest(host, n))
}

// readOpen parses the open request at the start of a stream ferry opened.
func readOpen(r io.Reader) (kind byte, target, tags string, err error) {
	var b [3]byte
	if _, err = io.ReadFull(r, b[:]); err != nil {
		return
	}
	if b[0] != 1 {
		return 0, "", "", fmt.Errorf("open request version %d", b[0])
	}
	kind = b[1]
	var host string
	switch b[2] {
	case 1, 4:
		ip := make([]byte, map[byte]int{1: 4, 4: 16}[b[2]])
		if _, err = io.ReadFull(r, ip); err != nil {
			return
		}
		host = net.IP(ip).String()
	case 3:
		host, err = readString(r)
		if err != nil {
			return
		}
	default:
		return 0, "", "", fmt.Errorf("ATYP %d", b[2])
	}
	var pn [3]byte // port, number of tags
	if _, err = io.ReadFull(r, pn[:]); err != nil {
		return
	}
	target = net.JoinHostPort(host, strconv.Itoa(
		int(binary.BigEndian.Uint16(pn[:2]))))
	var kv []string
	for i := 0; i < int(pn[2]); i++ {
		var k, v string
		if k, err = readString(r); err != nil {
			return
		}
		if v, err = readString(r); err != nil {
			return
		}
		kv = append(kv, k+"="+v)
	}
	return kind, target, strings.Join(kv, ","), nil
}

func readString(r io.Reader) (string, error) {
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", err
	}
	b := make([]byte, n[0])
	_, err := io.ReadFull(r, b)
	return string(b), err
}

// replyCode maps a dial error to an open-reply result code.
func replyCode(err error) byte {
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return 2
	case errors.Is(err, syscall.ECONNREFUSED):
		return 3
	case errors.Is(err, syscall.ENETUNREACH):
		return 4
	case errors.Is(err, syscall.EHOSTUNREACH):
		return 5
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 6
	}
	return 10 // internal error
}

// serveStream: a stream ferry opened; we are its exit.
func serveStream(p *peer, h *half) {
	id := h.StreamID()
	kind, target, tags, err := readOpen(h)
	if err != nil {
		say("event bad-open session=%d id=%d err=%v", p.n, id, err)
		h.Close()
		return
	}
	say("event open session=%d id=%d kind=%d target=%s tags=%s", p.n, id,
		kind, target, tags)
	code := byte(13) // not implemented: this exit does TCP only
	var c net.Conn
	if kind == 1 {
		c, err = net.DialTimeout("tcp", target, 5*time.Second)
		code = 0
		if err != nil {
			code = replyCode(err)
		}
	}
	say("event reply session=%d id=%d code=%d", p.n, id, code)
	if _, err := h.Write([]byte{1, code}); err != nil || code != 0 {
		h.Close()
		if c != nil {
			c.Close()
		}
		return
	}
	up, down := relay(h, c.(*net.TCPConn))
	say("event done session=%d id=%d up=%d down=%d", p.n, id, up, down)
}

// relay copies both ways; each direction's end is passed on as a
// half-close (ferry's FIN -> shutdown(SHUT_WR) -> ... and back).
func relay(h *half, c *net.TCPConn) (up, down int64) {
	done := make(chan struct{})
	go func() {
		up, _ = io.Copy(c, h)
		c.CloseWrite()
		close(done)
	}()
	down, _ = io.Copy(h, c)
	h.Close()
	<-done
	c.Close()
	return
}

// ---- commands ----------------------------------------------------------

var (
	holdMu sync.Mutex
	holds  = map[string]*half{}
)

// fill writes n pseudo-random bytes to w; returns their sha256.
func fill(w io.Writer, n int64, seed int64) (string, error) {
	rnd := rand.New(rand.NewSource(seed))
	buf := make([]byte, 256*1024)
	h := sha256.New()
	for n > 0 {
		k := int64(len(buf))
		if k > n {
			k = n
		}
		rnd.Read(buf[:k])
		h.Write(buf[:k])
		if _, err := w.Write(buf[:k]); err != nil {
			return "", err
		}
		n -= k
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// drain reads r to EOF; returns the byte count and sha256.
func drain(r io.Reader) (int64, string, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

func cmdBlast(p *peer, a []string) string {
	want, err := strconv.ParseInt(a[2], 10, 64)
	if err != nil {
		return "error=" + err.Error()
	}
	h, code, err := open(p, a[0], a[1])
	if err != nil || code != 0 {
		return fmt.Sprintf("reply=%d error=%v", code, err)
	}
	t0 := time.Now()
	hdr := binary.BigEndian.AppendUint64(nil, uint64(want))
	type result struct {
		sha string
		err error
	}
	sent := make(chan result, 1)
	go func() {
		if _, err := h.Write(hdr); err != nil {
			sent <- result{"", err}
			return
		}
		sha, err := fill(h, want, time.Now().UnixNano())
		h.Close() // FIN: the blast server reads to EOF
		sent <- result{sha, err}
	}()
	n, rsha, rerr := drain(h)
	s := <-sent
	if s.err != nil || rerr != nil {
		return fmt.Sprintf("reply=0 error=send:%v,recv:%v recv=%d",
			s.err, rerr, n)
	}
	return fmt.Sprintf("reply=0 id=%d sent=%d sent_sha=%s recv=%d "+
		"recv_sha=%s secs=%.2f", h.StreamID(), want, s.sha, n, rsha,
		time.Since(t0).Seconds())
}

func cmdHalfclose(p *peer, a []string) string {
	upN, err := strconv.ParseInt(a[2], 10, 64)
	if err != nil {
		return "error=" + err.Error()
	}
	h, code, err := open(p, a[0], a[1])
	if err != nil || code != 0 {
		return fmt.Sprintf("reply=%d error=%v", code, err)
	}
	sha, err := fill(h, upN, 7)
	if err != nil {
		return "reply=0 error=" + err.Error()
	}
	h.Close() // our FIN; the answer must still come back
	br := bufio.NewReader(h)
	line, err := br.ReadString('\n')
	if err != nil {
		return fmt.Sprintf("reply=0 error=status line: %v (%q)", err, line)
	}
	f := strings.Fields(line) // GOT <n> <sha256>
	if len(f) != 3 || f[0] != "GOT" {
		return fmt.Sprintf("reply=0 error=status line %q", line)
	}
	n, dsha, err := drain(br)
	if err != nil {
		return "reply=0 error=after status: " + err.Error()
	}
	return fmt.Sprintf("reply=0 sent=%d sent_sha=%s got=%s got_sha=%s "+
		"down=%d down_sha=%s", upN, sha, f[1], f[2], n, dsha)
}

func cmdRelease(a []string) string {
	holdMu.Lock()
	h := holds[a[0]]
	delete(holds, a[0])
	holdMu.Unlock()
	if h == nil {
		return "error=no such hold"
	}
	const msg = "still-here\n"
	if _, err := h.Write([]byte(msg)); err != nil {
		return "error=write: " + err.Error()
	}
	b := make([]byte, len(msg))
	if _, err := io.ReadFull(h, b); err != nil {
		return "error=read: " + err.Error()
	}
	h.Close()
	rest, _, err := drain(h) // the echo server closes after our FIN
	if err != nil {
		return "error=eof: " + err.Error()
	}
	return fmt.Sprintf("echo=%s after_eof=%d", strings.TrimSpace(string(b)),
		rest)
}

func cmdTryopen(p *peer) string {
	st, err := p.sess.OpenStream()
	switch {
	case err == nil:
		st.Close()
		return "ok"
	case errors.Is(err, yamux.ErrRemoteGoAway):
		return "err=remote-goaway"
	case errors.Is(err, yamux.ErrSessionShutdown):
		return "err=session-shutdown"
	}
	return "err=" + strings.ReplaceAll(err.Error(), " ", "_")
}

// goAway: refuse new streams; close the session once its streams end.
func goAway(p *peer) string {
	if err := p.sess.GoAway(); err != nil {
		return "error=" + err.Error()
	}
	go func() {
		for p.sess.NumStreams() > 0 && !p.sess.IsClosed() {
			time.Sleep(20 * time.Millisecond)
		}
		say("event drained session=%d", p.n)
		p.sess.Close()
	}()
	return "sent"
}

func run(tag, cmd string, a []string) string {
	p := current()
	if cmd == "stats" && len(a) == 1 {
		n, _ := strconv.Atoi(a[0])
		peersMu.Lock()
		p = peers[n]
		peersMu.Unlock()
	}
	if p == nil {
		return "error=no session"
	}
	need := map[string]int{"open": 2, "rawopen": 1, "blast": 3,
		"halfclose": 3, "hold": 2, "release": 1}
	if len(a) < need[cmd] {
		return "error=usage"
	}
	switch cmd {
	case "open", "rawopen":
		var h *half
		var code int
		var err error
		if cmd == "open" {
			h, code, err = open(p, a[0], a[1])
		} else {
			req, herr := hex.DecodeString(a[0])
			if herr != nil {
				return "error=" + herr.Error()
			}
			h, code, err = openRaw(p, req)
		}
		if err != nil {
			return "error=" + strings.ReplaceAll(err.Error(), " ", "_")
		}
		echo := ""
		if cmd == "open" && len(a) > 2 && code == 0 { // to an echo server
			line := []byte(a[2] + "\n")
			if _, err := h.Write(line); err != nil {
				return "error=write: " + err.Error()
			}
			if _, err := io.ReadFull(h, line); err != nil {
				return "error=read: " + err.Error()
			}
			echo = " echo=" + strings.TrimSpace(string(line))
		}
		h.Close()
		rest, _, err := drain(h)
		return fmt.Sprintf("reply=%d id=%d%s after=%d eof_err=%v", code,
			h.StreamID(), echo, rest, err)
	case "blast":
		return cmdBlast(p, a)
	case "halfclose":
		return cmdHalfclose(p, a)
	case "hold":
		h, code, err := open(p, a[0], a[1])
		if err != nil || code != 0 {
			return fmt.Sprintf("reply=%d error=%v", code, err)
		}
		holdMu.Lock()
		holds[tag] = h
		holdMu.Unlock()
		return fmt.Sprintf("reply=0 id=%d", h.StreamID())
	case "release":
		return cmdRelease(a)
	case "ping":
		rtt, err := p.sess.Ping()
		if err != nil {
			return "error=" + err.Error()
		}
		return fmt.Sprintf("rtt_us=%d", rtt.Microseconds())
	case "goaway":
		return goAway(p)
	case "tryopen":
		return cmdTryopen(p)
	case "stats":
		return fmt.Sprintf("session=%d %s streams=%d closed=%v", p.n,
			p.tap.stats(), p.sess.NumStreams(), p.sess.IsClosed())
	}
	return "error=unknown command " + cmd
}

func fatal(format string, a ...interface{}) {
	say("event fatal "+format, a...)
	os.Exit(2)
}

func main() {
	flag.Parse()
	if (*agentAddr == "") == (*gatewayAddr == "") || *token == "" {
		fmt.Fprintln(os.Stderr, "usage: yamuxpeer (-agent|-gateway) "+
			"HOST:PORT -token T [-id ID] [-group G] [-link N]")
		os.Exit(2)
	}
	if *agentAddr != "" {
		runAgent()
	} else {
		go runGateway()
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) < 2 {
			continue
		}
		go func() { say("%s %s", f[0], run(f[0], f[1], f[2:])) }()
	}
	select {} // stdin closed: keep serving until killed
}
