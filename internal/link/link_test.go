package link

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// server is a real TCP server that greets each connection with its name and
// then echoes lines back, prefixed by that name.
func server(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, name+" hello\n")
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					io.WriteString(c, name+" "+line)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func open(t *testing.T, upstream string) *Link {
	t.Helper()
	l, err := Listen("test", "127.0.0.1:0", upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func dial(t *testing.T, l *Link) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func readLine(t *testing.T, c net.Conn, r *bufio.Reader, within time.Duration) (string, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	return r.ReadString('\n')
}

func TestForwards(t *testing.T) {
	l := open(t, server(t, "a"))
	c, r := dial(t, l)
	if got, err := readLine(t, c, r, 5*time.Second); err != nil || got != "a hello\n" {
		t.Fatalf("greeting %q, %v", got, err)
	}
	io.WriteString(c, "ping\n")
	if got, err := readLine(t, c, r, 5*time.Second); err != nil || got != "a ping\n" {
		t.Fatalf("echo %q, %v", got, err)
	}
	// The pump counts a chunk once its write returns, which can be just
	// after the client has read it: wait for the counters, bounded.
	want := int64(len("a hello\na ping\n"))
	deadline := time.Now().Add(5 * time.Second)
	for s := l.State(); s.BytesUp != 5 || s.BytesDown != want; s = l.State() {
		if time.Now().After(deadline) {
			t.Fatalf("byte counters up=%d down=%d, want 5 and %d", s.BytesUp, s.BytesDown, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// Latency is one-way in each direction, so a round trip takes at least twice
// the setting. Only a lower bound is asserted: a busy machine is only slower.
func TestLatencyIsAddedBothWays(t *testing.T) {
	l := open(t, server(t, "a"))
	l.SetLatency(40 * time.Millisecond)
	c, r := dial(t, l)
	readLine(t, c, r, 5*time.Second)
	start := time.Now()
	io.WriteString(c, "x\n")
	if _, err := readLine(t, c, r, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if rtt := time.Since(start); rtt < 80*time.Millisecond {
		t.Fatalf("round trip %v with 40ms one-way latency, want >= 80ms", rtt)
	}
}

func TestBlackholeHoldsExistingConnectionUntilHealed(t *testing.T) {
	l := open(t, server(t, "a"))
	c, r := dial(t, l)
	readLine(t, c, r, 5*time.Second)
	l.Blackhole()
	io.WriteString(c, "held\n")
	_, err := readLine(t, c, r, 300*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("blackholed read returned %v, want a timeout with no data and no reset", err)
	}
	l.Heal()
	if got, err := readLine(t, c, r, 5*time.Second); err != nil || got != "a held\n" {
		t.Fatalf("after heal got %q, %v; want the held bytes delivered", got, err)
	}
}

func TestBlackholeHoldsNewConnectionsAndNeverRefuses(t *testing.T) {
	l := open(t, server(t, "a"))
	l.Blackhole()
	if !l.State().Blackholed {
		t.Fatal("state does not report the blackhole")
	}
	c, r := dial(t, l) // the dial itself must succeed: nothing is refused
	if _, err := readLine(t, c, r, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("new connection through a blackhole: %v, want a silent hang", err)
	}
	l.Heal()
	if got, err := readLine(t, c, r, 5*time.Second); err != nil || got != "a hello\n" {
		t.Fatalf("after heal got %q, %v", got, err)
	}
}

// A blackholed link in front of a dead upstream must not reveal the death:
// the client hangs instead of being refused.
func TestBlackholeHidesDeadUpstream(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	l := open(t, dead)
	l.Blackhole()
	c, r := dial(t, l)
	if _, err := readLine(t, c, r, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v, want a hang while blackholed", err)
	}
	l.Heal()
	if _, err := readLine(t, c, r, 5*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after heal, a dead upstream should close the client; got %v", err)
	}
}

func TestBandwidthCap(t *testing.T) {
	l := open(t, server(t, "a"))
	l.SetBandwidth(32 << 10) // 32 KiB/s
	c, r := dial(t, l)
	readLine(t, c, r, 5*time.Second)
	line := strings.Repeat("z", 32<<10) + "\n"
	start := time.Now()
	go io.WriteString(c, line)
	got, err := readLine(t, c, r, 20*time.Second)
	if err != nil || len(got) != len(line)+2 {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	// 32 KiB up and 32 KiB down at 32 KiB/s each way, pipelined: at least ~1 s.
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Fatalf("32 KiB through a 32 KiB/s link took %v", el)
	}
}

func TestSetUpstreamMovesOnlyNewConnections(t *testing.T) {
	a, b := server(t, "a"), server(t, "b")
	l := open(t, a)
	c1, r1 := dial(t, l)
	if got, _ := readLine(t, c1, r1, 5*time.Second); got != "a hello\n" {
		t.Fatalf("first connection greeted by %q", got)
	}
	l.SetUpstream(b)
	c2, r2 := dial(t, l)
	if got, _ := readLine(t, c2, r2, 5*time.Second); got != "b hello\n" {
		t.Fatalf("new connection after switch greeted by %q, want b", got)
	}
	io.WriteString(c1, "still\n")
	if got, _ := readLine(t, c1, r1, 5*time.Second); got != "a still\n" {
		t.Fatalf("existing connection moved: %q", got)
	}
}

func TestCloseReleasesBlackholedClients(t *testing.T) {
	l, err := Listen("test", "127.0.0.1:0", server(t, "a"))
	if err != nil {
		t.Fatal(err)
	}
	l.Blackhole()
	c, r := dial(t, l)
	done := make(chan error, 1)
	go func() { _, err := readLine(t, c, r, 10*time.Second); done <- err }()
	time.Sleep(50 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("client of a closed link got %v, want connection closed", err)
	}
}

func TestListenOnBusyPortNamesThePort(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	_, err := Listen("busy", ln.Addr().String(), "127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("got %v, want an error naming %s", err, ln.Addr())
	}
}

func BenchmarkProxyRoundTrip(b *testing.B) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
	}()
	l, _ := Listen("bench", "127.0.0.1:0", ln.Addr().String())
	defer l.Close()
	c, _ := net.Dial("tcp", l.Addr())
	defer c.Close()
	buf := make([]byte, 64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Write(buf)
		io.ReadFull(c, buf)
	}
}
