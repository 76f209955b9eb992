// Package runtime starts, reloads and stops one model.Stack: it provisions
// the local CA, the EC2 web servers, the load balancers and the edge, binds
// their sockets, wires their logs, and swaps a new stack in atomically on
// reload while in-flight requests finish on the old one.
//
// It follows a load → provision → serve life cycle: Reload prepares every
// new piece next to the running ones (binding any new socket), and only when
// all of it succeeded commits by swapping handlers. A reload that fails at
// any step leaves the running stack untouched.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/kumo-dev/kumo/internal/admin"
	"github.com/kumo-dev/kumo/internal/alb"
	"github.com/kumo-dev/kumo/internal/dns"
	"github.com/kumo-dev/kumo/internal/edge"
	"github.com/kumo-dev/kumo/internal/metrics"
	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/pki"
	"github.com/kumo-dev/kumo/internal/serve"
	"github.com/kumo-dev/kumo/internal/webserver"
)

// Default viewer listener addresses.
const (
	DefaultViewerHTTPS = "127.0.0.1:8443"
	DefaultViewerHTTP  = "127.0.0.1:8080"
)

// retireGrace is how long a socket that a reload removed may take to finish
// its requests in flight, when no target is draining longer.
const retireGrace = 2 * time.Minute

// EndpointsFile is the name of the file, in the state directory, that
// describes a running kumo (see Endpoints).
const EndpointsFile = "endpoints.json"

// Options configure a Runtime.
type Options struct {
	// StateDir holds the CA, the logs and endpoints.json.
	StateDir string
	// ViewerHTTPS and ViewerHTTP are the edge's listening addresses.
	ViewerHTTPS string
	ViewerHTTP  string
	// ViewerHTTP3 is the UDP address of the viewer HTTP/3 (QUIC) listener
	// for http3/http2and3 distributions: "" means the HTTPS listener's
	// address (the same port number, over UDP); "off" disables HTTP/3.
	ViewerHTTP3 string
	// Ephemeral binds every address of the stack (Metadata.Kumo.Listen) on
	// port 0 of its host instead, so that tests and demos never collide.
	Ephemeral bool
	// EdgeLocation is the POP code the edge logs ("" for the default).
	EdgeLocation string
	// AdminAddr is the loopback address of the admin endpoint ("" for an
	// ephemeral port on 127.0.0.1).
	AdminAddr string
	// CacheBytes bounds the edge cache of all distributions together (0 for
	// edge.DefaultCacheBytes, 256 MiB).
	CacheBytes int64
	// Pprof mounts net/http/pprof under /debug/pprof/ on the admin endpoint
	// (loopback and token, like every admin route). Off by default.
	Pprof bool
	// NoAccessLogs writes no CloudFront or ALB access or connection logs
	// (health-check logs stay): the edge and the load balancers get no log
	// sink, so they neither build nor format records. For measuring what
	// logging costs (bench/run.sh); off by default.
	NoAccessLogs bool
	Logger       *slog.Logger
}

// Runtime is a running stack.
type Runtime struct {
	opt    Options
	log    *slog.Logger
	ca     *pki.CA
	logs   *logSet
	viewer struct{ https, http *serve.Server }
	// h3 is the viewer HTTP/3 listener (nil when ViewerHTTP3 is "off").
	h3    *edge.HTTP3Server
	admin *admin.Server
	// metrics is the registry served as GET /metrics on the admin endpoint.
	metrics *metrics.Registry

	mu        sync.Mutex // serialises Reload and Shutdown
	stack     *model.Stack
	edge      *edge.Edge
	lbs       map[string]*alb.LoadBalancer // by LB ARN
	listeners map[string]*serve.Server     // by listenerKey
	connLns   map[string]*alb.ConnListener // the listeners' sockets, by listenerKey
	webs      map[string]*serve.Server     // by instance ID and address
	closed    bool
	// retiring counts the goroutines that drain replaced pieces; Shutdown
	// waits for them so that their requests are logged before logs close.
	retiring sync.WaitGroup
}

// Start provisions and serves stack.
func Start(ctx context.Context, stack *model.Stack, opt Options) (*Runtime, error) {
	if opt.StateDir == "" {
		return nil, errors.New("runtime: no state directory")
	}
	if opt.ViewerHTTPS == "" {
		opt.ViewerHTTPS = DefaultViewerHTTPS
	}
	if opt.ViewerHTTP == "" {
		opt.ViewerHTTP = DefaultViewerHTTP
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	ca, err := pki.Open(opt.StateDir)
	if err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	rt := &Runtime{
		opt:       opt,
		log:       opt.Logger,
		ca:        ca,
		logs:      newLogSet(filepath.Join(opt.StateDir, "logs"), opt.Logger),
		lbs:       map[string]*alb.LoadBalancer{},
		listeners: map[string]*serve.Server{},
		connLns:   map[string]*alb.ConnListener{},
		webs:      map[string]*serve.Server{},
		metrics:   metrics.New(),
	}
	rt.logs.noAccess = opt.NoAccessLogs
	// The viewer sockets are bound first: the edge's own addresses are part of
	// the name table (a distribution can be another one's origin).
	httpsLn, err := net.Listen("tcp", opt.ViewerHTTPS)
	if err != nil {
		return nil, fmt.Errorf("viewer HTTPS listener: %w", err)
	}
	httpLn, err := net.Listen("tcp", opt.ViewerHTTP)
	if err != nil {
		httpsLn.Close()
		return nil, fmt.Errorf("viewer HTTP listener: %w", err)
	}
	unavailable := serve.Plane{Handler: notReady{}, TLS: notReadyTLS}
	rt.viewer.https = serve.Serve(httpsLn, unavailable, serve.Options{HTTP2: true, Logger: opt.Logger})
	unavailable.TLS = nil
	rt.viewer.http = serve.Serve(httpLn, unavailable, serve.Options{Logger: opt.Logger})
	if opt.ViewerHTTP3 != "off" {
		h3Addr := opt.ViewerHTTP3
		if h3Addr == "" {
			h3Addr = rt.viewer.https.Addr()
		}
		if rt.h3, err = edge.ListenHTTP3(h3Addr, opt.Logger); err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			rt.viewer.https.Shutdown(sctx)
			rt.viewer.http.Shutdown(sctx)
			return nil, err
		}
	}

	if opt.AdminAddr == "" {
		opt.AdminAddr = "127.0.0.1:0"
	}
	fail := func(err error) (*Runtime, error) {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rt.viewer.https.Shutdown(sctx)
		rt.viewer.http.Shutdown(sctx)
		if rt.h3 != nil {
			rt.h3.Shutdown(sctx)
		}
		if rt.admin != nil {
			rt.admin.Shutdown(sctx)
		}
		rt.logs.Close()
		return nil, err
	}
	if rt.admin, err = admin.Listen(opt.AdminAddr, opt.StateDir, rt.adminHandler(), opt.Logger); err != nil {
		return fail(err)
	}
	if err := rt.apply(ctx, stack); err != nil {
		return fail(err)
	}
	return rt, nil
}

// Reload replaces the running stack with stack. On error the running stack
// keeps serving, unchanged.
func (rt *Runtime) Reload(ctx context.Context, stack *model.Stack) error {
	rt.mu.Lock()
	closed := rt.closed
	rt.mu.Unlock()
	if closed {
		return errors.New("runtime: reload after shutdown")
	}
	return rt.apply(ctx, stack)
}

// Stack returns the stack being served.
func (rt *Runtime) Stack() *model.Stack {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.stack
}

// CA returns the local certificate authority.
func (rt *Runtime) CA() *pki.CA { return rt.ca }

// WaitHealthChecked blocks until every target of every load balancer has had
// its first health check.
func (rt *Runtime) WaitHealthChecked(ctx context.Context) error {
	rt.mu.Lock()
	lbs := make([]*alb.LoadBalancer, 0, len(rt.lbs))
	for _, lb := range rt.lbs {
		lbs = append(lbs, lb)
	}
	rt.mu.Unlock()
	for _, lb := range lbs {
		if err := lb.WaitChecked(ctx); err != nil {
			return fmt.Errorf("waiting for health checks: %w", err)
		}
	}
	return nil
}

// prepared holds what a reload builds before it commits.
type prepared struct {
	stack     *model.Stack
	webs      map[string]*serve.Server // all instance servers of the new stack
	newWebs   []*serve.Server          // the ones bound by this reload
	lbs       map[string]*alb.LoadBalancer
	listeners map[string]*serve.Server
	connLns   map[string]*alb.ConnListener
	attach    []func() // re-attach kept listener sockets to their new load balancer
	newLns    []*serve.Server
	planes    map[string]serve.Plane // planes to swap into kept servers
	webPlanes map[string]serve.Plane
	edge      *edge.Edge
}

func (p *prepared) abort() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range append(p.newWebs, p.newLns...) {
		s.Shutdown(ctx)
	}
	for _, lb := range p.lbs {
		lb.Close()
	}
	if p.edge != nil {
		p.edge.Close()
	}
}

// apply prepares stack next to the running one, then commits.
func (rt *Runtime) apply(ctx context.Context, stack *model.Stack) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return errors.New("runtime: shut down")
	}
	p, err := rt.prepare(ctx, stack)
	if err != nil {
		p.abort()
		return err
	}
	rt.commit(p)
	return nil
}

func (rt *Runtime) bindAddr(listen string) string {
	if listen == "" {
		return "127.0.0.1:0"
	}
	if rt.opt.Ephemeral {
		host, _, err := net.SplitHostPort(listen)
		if err == nil {
			return net.JoinHostPort(host, "0")
		}
	}
	return listen
}

// listenerKey identifies a listener socket across reloads: its explicit
// local address, or its ARN when it has none.
func (rt *Runtime) listenerKey(l *model.Listener) string {
	if l.Listen != "" && !rt.opt.Ephemeral {
		return "addr " + l.Listen
	}
	return "arn " + l.ARN
}

func (rt *Runtime) prepare(ctx context.Context, stack *model.Stack) (*prepared, error) {
	p := &prepared{
		stack:     stack,
		webs:      map[string]*serve.Server{},
		lbs:       map[string]*alb.LoadBalancer{},
		listeners: map[string]*serve.Server{},
		connLns:   map[string]*alb.ConnListener{},
		planes:    map[string]serve.Plane{},
		webPlanes: map[string]serve.Plane{},
	}
	// 0. Open every log first, so that a bad log directory fails the reload
	// rather than losing lines later.
	for _, d := range stack.Distributions {
		if err := rt.logs.openCloudFront(d); err != nil {
			return p, err
		}
	}
	for _, lb := range stack.LoadBalancers {
		if err := rt.logs.openALB(stack, lb); err != nil {
			return p, err
		}
	}

	// 1. EC2 web servers.
	instanceLocal := map[string]string{} // instance ID → local address
	for _, inst := range stack.Instances {
		if inst.Upstream != "" {
			instanceLocal[inst.ID] = inst.Upstream
			continue
		}
		plane := serve.Plane{Handler: webserver.New(inst, webserver.Options{Logger: rt.log})}
		key := inst.ID + "|" + inst.Listen
		if s, ok := rt.webs[key]; ok {
			p.webs[key] = s
			p.webPlanes[key] = plane
		} else {
			s, err := serve.Listen(rt.bindAddr(inst.Listen), plane, serve.Options{Logger: rt.log})
			if err != nil {
				return p, fmt.Errorf("instance %s (%s): %w", inst.LogicalID, inst.ID, err)
			}
			p.webs[key] = s
			p.newWebs = append(p.newWebs, s)
		}
		instanceLocal[inst.ID] = p.webs[key].Addr()
	}
	// Provision: instance targets are dialed at their web server.
	for _, tg := range stack.TargetGroups {
		for _, t := range tg.Targets {
			if t.Instance != nil && t.Local == "" {
				t.Local = instanceLocal[t.Instance.ID]
			}
		}
	}

	// 2. Load balancers and their listener sockets.
	ep := dns.Endpoints{Hosts: map[string]map[int]string{}, Addrs: map[string]string{}}
	for _, lb := range stack.LoadBalancers {
		n, err := alb.New(alb.Config{
			LB:        lb,
			Certs:     rt.ca,
			Log:       rt.logs.albSink(lb),
			ConnLog:   rt.logs.albConnSink(lb),
			HealthLog: rt.logs.albHealthSink(lb),
			Metrics:   rt.metrics,
			Logger:    rt.log.With("lb", lb.Name),
		}, rt.lbs[lb.ARN])
		if err != nil {
			return p, fmt.Errorf("load balancer %s: %w", lb.LogicalID, err)
		}
		p.lbs[lb.ARN] = n
		hosts := map[int]string{}
		for _, l := range lb.Listeners {
			plane := n.Plane(l)
			key := rt.listenerKey(l)
			s, ok := rt.listeners[key]
			if ok {
				p.planes[key] = plane
				cl := rt.connLns[key]
				p.connLns[key] = cl
				p.attach = append(p.attach, func() { cl.Attach(n, l) })
			} else {
				ln, err := net.Listen("tcp", rt.bindAddr(l.Listen))
				if err != nil {
					return p, fmt.Errorf("listener %s (%s %d): listen on %s: %w", l.LogicalID, l.Protocol, l.Port, rt.bindAddr(l.Listen), err)
				}
				cl := alb.NewConnListener(ln)
				cl.Attach(n, l)
				s = serve.Serve(cl, plane, serve.Options{HTTP2: true, Logger: rt.log})
				p.connLns[key] = cl
				p.newLns = append(p.newLns, s)
			}
			p.listeners[key] = s
			hosts[l.Port] = s.Addr()
		}
		ep.Hosts[lowerDNS(lb.DNSName)] = hosts
	}
	for _, inst := range stack.Instances {
		if inst.PrivateIP != "" {
			ep.Addrs[net.JoinHostPort(inst.PrivateIP, "80")] = instanceLocal[inst.ID]
		}
	}
	for _, tg := range stack.TargetGroups {
		for _, t := range tg.Targets {
			if t.Local != "" {
				ep.Addrs[t.Addr] = t.Local
			}
		}
	}
	for _, d := range stack.Distributions {
		ep.Hosts[lowerDNS(d.DomainName)] = map[int]string{443: rt.viewer.https.Addr(), 80: rt.viewer.http.Addr()}
	}

	// 3. The edge.
	roots, err := rt.ca.OriginRoots()
	if err != nil {
		return p, fmt.Errorf("origin trust store: %w", err)
	}
	_, httpsPort, _ := net.SplitHostPort(rt.viewer.https.Addr())
	port, _ := strconv.Atoi(httpsPort)
	e, err := edge.New(edge.Config{
		Stack:        stack,
		Certs:        rt.ca,
		Resolver:     dns.New(stack, ep, dns.Options{Logger: rt.log}),
		OriginRoots:  roots,
		Log:          rt.logs.cloudfrontSink(),
		Logger:       rt.log.With("component", "edge"),
		EdgeLocation: rt.opt.EdgeLocation,
		HTTPSPort:    port,
		HTTP3Port:    rt.http3Port(),
		CacheBytes:   rt.opt.CacheBytes,
	}, rt.edge)
	if err != nil {
		return p, fmt.Errorf("edge: %w", err)
	}
	p.edge = e
	return p, nil
}

// commit swaps the prepared stack in. It cannot fail.
func (rt *Runtime) commit(p *prepared) {
	for key, plane := range p.webPlanes {
		p.webs[key].Swap(plane)
	}
	for key, plane := range p.planes {
		p.listeners[key].Swap(plane)
	}
	for _, attach := range p.attach {
		attach()
	}
	rt.viewer.https.Swap(p.edge.Plane(true))
	rt.viewer.http.Swap(p.edge.Plane(false))
	if rt.h3 != nil {
		rt.h3.Swap(p.edge)
	}

	var retired []*serve.Server
	for key, s := range rt.webs {
		if p.webs[key] != s {
			retired = append(retired, s)
		}
	}
	for key, s := range rt.listeners {
		if p.listeners[key] != s {
			retired = append(retired, s)
		}
	}
	oldLBs := rt.lbs
	oldEdge := rt.edge

	rt.stack = p.stack
	rt.webs = p.webs
	rt.listeners = p.listeners
	rt.connLns = p.connLns
	rt.lbs = p.lbs
	rt.edge = p.edge
	for _, lb := range rt.lbs {
		lb.Start(context.Background())
	}

	// Retire the old pieces without cutting requests in flight: sockets that
	// are gone drain first; old data planes close once they are idle.
	// Targets that the reload removed drain for their target group's
	// deregistration delay: their servers keep answering requests in flight
	// until then (alb.md §6.6).
	deadline := time.Now().Add(retireGrace)
	for _, lb := range rt.lbs {
		if until := lb.DrainingUntil().Add(5 * time.Second); until.After(deadline) {
			deadline = until
		}
	}
	rt.retiring.Add(1)
	go func() {
		defer rt.retiring.Done()
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		for _, s := range retired {
			s.Shutdown(ctx)
		}
		for _, lb := range oldLBs {
			lb.Close()
		}
		if oldEdge != nil {
			oldEdge.Close()
		}
	}()
	rt.log.Info("stack applied", "distributions", len(p.stack.Distributions), "load_balancers", len(p.stack.LoadBalancers), "instances", len(p.stack.Instances))
}

// Shutdown drains every socket, stops the data planes, and flushes and
// closes every log. Every request that got a response has its log line
// written when Shutdown returns.
func (rt *Runtime) Shutdown(ctx context.Context) error {
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return nil
	}
	rt.closed = true
	servers := []*serve.Server{rt.viewer.https, rt.viewer.http}
	for _, s := range rt.listeners {
		servers = append(servers, s)
	}
	for _, s := range rt.webs {
		servers = append(servers, s)
	}
	lbs := rt.lbs
	e := rt.edge
	rt.mu.Unlock()

	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(ctx); err != nil {
				emu.Lock()
				errs = append(errs, fmt.Errorf("drain %s: %w", s.Addr(), err))
				emu.Unlock()
			}
		}()
	}
	wg.Wait()
	if rt.h3 != nil {
		if err := rt.h3.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("drain HTTP/3 %s: %w", rt.h3.Addr(), err))
		}
	}
	retired := make(chan struct{})
	go func() { rt.retiring.Wait(); close(retired) }()
	select {
	case <-retired:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("draining replaced listeners: %w", ctx.Err()))
	}
	for _, lb := range lbs {
		lb.Close()
	}
	if e != nil {
		e.Close()
	}
	if err := rt.admin.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("admin endpoint: %w", err))
	}
	if err := rt.logs.Close(); err != nil {
		errs = append(errs, err)
	}
	_ = os.Remove(filepath.Join(rt.opt.StateDir, EndpointsFile))
	return errors.Join(errs...)
}

// Health returns the health of every target, by load balancer.
func (rt *Runtime) Health() map[string][]alb.TargetHealth {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := map[string][]alb.TargetHealth{}
	for arn, lb := range rt.lbs {
		out[arn] = lb.Health()
	}
	return out
}
