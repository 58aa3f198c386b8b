package serve

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// healthReserve is the connections a listener accepts past its limit, for
// the health endpoints only: a kubelet probe must get through a flood,
// or the pod is restarted for nothing.
const healthReserve = 8

// silentGrace is how long a connection that has sent nothing is left
// alone when the listener is under pressure.
const silentGrace = time.Second

// limitListener holds at most max+reserve connections. Past max, a new
// connection is a reserve one: it is served for the health endpoints and
// closed after one request. From highWater on, the listener is under
// pressure: idle keep-alive connections, and connections silent for
// silentGrace, are closed to make room, and responses ask clients to
// close their connection.
type limitListener struct {
	net.Listener
	sem       chan struct{}
	max       int
	highWater int

	done      chan struct{} // closed by Close: Accept stops waiting
	closeOnce sync.Once

	mu    sync.Mutex
	conns map[*limitedConn]struct{}
}

func newLimitListener(ln net.Listener, max, reserve int) *limitListener {
	return &limitListener{
		Listener:  ln,
		sem:       make(chan struct{}, max+reserve),
		max:       max,
		highWater: max - max/8,
		done:      make(chan struct{}),
		conns:     map[*limitedConn]struct{}{},
	}
}

// Close closes the listener; an Accept waiting for a slot returns.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitedConn is a connection a limitListener accepted.
type limitedConn struct {
	net.Conn
	l       *limitListener
	reserve bool
	since   time.Time
	once    sync.Once

	mu    sync.Mutex
	state http.ConnState
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		<-c.l.sem
	})
	return err
}

func (c *limitedConn) setState(s http.ConnState) {
	c.mu.Lock()
	c.state = s
	if s == http.StateIdle {
		c.since = time.Now()
	}
	c.mu.Unlock()
}

// Accept waits for a free slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	n := len(l.sem)
	lc := &limitedConn{Conn: c, l: l, reserve: n > l.max, since: time.Now(), state: http.StateNew}
	l.mu.Lock()
	l.conns[lc] = struct{}{}
	l.mu.Unlock()
	if n >= l.highWater {
		l.shed()
	}
	return lc, nil
}

// shed closes idle keep-alive connections and connections silent for
// silentGrace.
func (l *limitListener) shed() {
	now := time.Now()
	var victims []*limitedConn
	l.mu.Lock()
	for c := range l.conns {
		c.mu.Lock()
		if c.state == http.StateIdle || (c.state == http.StateNew && now.Sub(c.since) > silentGrace) {
			victims = append(victims, c)
		}
		c.mu.Unlock()
	}
	l.mu.Unlock()
	for _, c := range victims {
		c.Close()
	}
}

// pressure reports whether the listener is at or past its high-water mark.
func (l *limitListener) pressure() bool { return len(l.sem) >= l.highWater }

// count is the connections held.
func (l *limitListener) count() int { return len(l.sem) }

type connKey struct{}

// connContext puts the connection in the request contexts.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*limitedConn); ok {
		return context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

func connState(c net.Conn, s http.ConnState) {
	if lc, ok := c.(*limitedConn); ok {
		lc.setState(s)
	}
}

// connOf returns the limited connection of a request, or nil.
func connOf(r *http.Request) *limitedConn {
	lc, _ := r.Context().Value(connKey{}).(*limitedConn)
	return lc
}
