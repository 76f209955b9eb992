// Package alb owns kumo's Application Load Balancer data plane: HTTPS
// listeners with SNI certificate selection and security policies, listener
// rules (wildcard and regex conditions, transforms) and their actions
// (forward, weighted forward with group stickiness, redirect,
// fixed-response), target groups (round_robin, least_outstanding_requests
// and weighted_random balancing, slow start, lb_cookie and app_cookie
// stickiness, fail-open and unhealthy-state routing thresholds, active
// health checks, draining on reload, HTTP1/HTTP2/GRPC protocol versions),
// proxying to targets with the headers the ALB adds, the LB-generated error
// pages, and one access-log record per request (reference: alb.md).
//
// The package never opens a client-facing socket: Plane returns a
// serve.Plane that the runtime binds with serve.Listen.
package alb

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/metrics"
	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/serve"
	"github.com/kumo-dev/kumo/internal/upstream"
)

// Certs gives the TLS certificate to serve for a modeled certificate;
// *pki.CA satisfies it.
type Certs interface {
	ForCertificate(*model.Certificate) (*tls.Certificate, error)
}

// Config configures a LoadBalancer.
type Config struct {
	// LB is the modeled load balancer.
	LB *model.LoadBalancer
	// Certs resolves the listeners' certificates (required for HTTPS listeners).
	Certs Certs
	// Log receives one access-log record per request that got a response
	// (including LB-generated responses and 460s), after the response
	// finished. The record is valid only during the call: it belongs to
	// the request's exchange, which serves another request once Log
	// returns, so a Log that keeps it keeps a copy. Nil disables access
	// logging.
	Log func(*accesslog.ALBRecord)
	// Logger receives kumo's own logs; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for log times; nil means time.Now.
	Now func() time.Time
	// ConnLog receives one connection-log record per client connection
	// accepted through a ConnListener (alb.md §1.12); nil disables it.
	ConnLog func(*accesslog.ALBConnectionRecord)
	// HealthLog receives one health-check-log record per check (alb.md
	// §1.13); nil disables it.
	HealthLog func(*accesslog.ALBHealthCheckRecord)
	// Metrics receives the CloudWatch-named metrics; nil disables them.
	Metrics *metrics.Registry

	// connectTimeout overrides TargetConnectTimeout and idleTimeout the
	// idle_timeout.timeout_seconds attribute (tests only: the attribute's
	// minimum is 1 s).
	connectTimeout time.Duration
	idleTimeout    time.Duration
}

// TargetConnectTimeout is the fixed timeout for opening a TCP connection to
// a target; reaching it gives 504 (alb.md §2.1, §2.4).
const TargetConnectTimeout = 10 * time.Second

// defaultIdleTimeout is idle_timeout.timeout_seconds when not set (alb.md §2.4).
const defaultIdleTimeout = 60 * time.Second

// LoadBalancer is one running ALB data plane built from a model.LoadBalancer.
// It is safe for concurrent use.
type LoadBalancer struct {
	cfg         Config
	lb          *model.LoadBalancer
	log         *slog.Logger
	now         func() time.Time
	idleTimeout time.Duration
	xffMode     string
	preserve    bool

	listeners map[*model.Listener]*listener
	byARN     map[string]*listener
	groups    map[*model.TargetGroup]*targetGroup
	groupList []*targetGroup

	httpTransport *http.Transport
	// leanTransport takes the plain-HTTP, HTTP/1 requests without a body
	// (package upstream); httpTransport the others.
	leanTransport  *upstream.Transport
	httpsTransport *http.Transport

	pages lbPages
	bufs  *sync.Pool
	// outReqs recycles the targetReq of requests to targets, and
	// exchanges the exchanges (newExchange).
	outReqs   sync.Pool
	exchanges sync.Pool

	health healthRunner
	ops    opsState

	sticky stickyKeys   // stickiness cookie key (stickiness.go)
	h2     h2Transports // HTTP2/GRPC target groups (protocol.go)
	drain  drainSet     // targets removed by a reload (draining.go)
}

// New builds a LoadBalancer from cfg. prev, when not nil, is the instance
// being replaced on reload: the health state of targets with the same
// (target group ARN, Addr) is carried over so a reload does not reset it.
func New(cfg Config, prev *LoadBalancer) (*LoadBalancer, error) {
	if cfg.LB == nil {
		return nil, fmt.Errorf("alb: Config.LB is nil")
	}
	lb := &LoadBalancer{
		cfg:       cfg,
		lb:        cfg.LB,
		log:       cfg.Logger,
		now:       cfg.Now,
		listeners: map[*model.Listener]*listener{},
		byARN:     map[string]*listener{},
		groups:    map[*model.TargetGroup]*targetGroup{},
		pages:     newLBPages(),
		bufs:      bufferPool(),
	}
	if lb.log == nil {
		lb.log = slog.Default()
	}
	lb.log = lb.log.With("lb", cfg.LB.FullName)
	if lb.now == nil {
		lb.now = time.Now
	}
	var err error
	if lb.idleTimeout, err = idleTimeout(cfg.LB.Attributes); err != nil {
		return nil, fmt.Errorf("alb %s: %w", cfg.LB.Name, err)
	}
	if lb.xffMode, err = xffMode(cfg.LB.Attributes); err != nil {
		return nil, fmt.Errorf("alb %s: %w", cfg.LB.Name, err)
	}
	if lb.preserve, err = boolAttribute(cfg.LB.Attributes, "routing.http.preserve_host_header.enabled"); err != nil {
		return nil, fmt.Errorf("alb %s: %w", cfg.LB.Name, err)
	}
	if cfg.idleTimeout > 0 {
		lb.idleTimeout = cfg.idleTimeout
	}
	connectTimeout := TargetConnectTimeout
	if cfg.connectTimeout > 0 {
		connectTimeout = cfg.connectTimeout
	}
	lb.httpTransport = newTargetTransport(connectTimeout, lb.idleTimeout, nil)
	lb.leanTransport = newLeanTargetTransport(connectTimeout, lb.idleTimeout)
	lb.httpsTransport = newTargetTransport(connectTimeout, lb.idleTimeout, targetTLSConfig())
	lb.h2 = newH2Transports(connectTimeout, lb.idleTimeout)
	lb.sticky = newStickyKeys(prev)

	for _, ml := range cfg.LB.Listeners {
		l, err := lb.compileListener(ml)
		if err != nil {
			lb.closeTransports()
			return nil, fmt.Errorf("alb %s: listener %s:%d: %w", cfg.LB.Name, ml.Protocol, ml.Port, err)
		}
		lb.listeners[ml] = l
		if ml.ARN != "" {
			lb.byARN[ml.ARN] = l
		}
	}
	lb.health.init(lb, prev)
	if err := lb.initOps(); err != nil {
		lb.closeTransports()
		return nil, fmt.Errorf("alb %s: %w", cfg.LB.Name, err)
	}
	lb.initDrain(prev)
	return lb, nil
}

// idleTimeout implements the idle_timeout.timeout_seconds attribute (alb.md
// §2.4): default 60 s, range 1–4000 s.
func idleTimeout(attrs map[string]string) (time.Duration, error) {
	v, ok := attrs["idle_timeout.timeout_seconds"]
	if !ok || v == "" {
		return defaultIdleTimeout, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 4000 {
		return 0, fmt.Errorf("attribute idle_timeout.timeout_seconds=%q: want an integer 1-4000", v)
	}
	return time.Duration(n) * time.Second, nil
}

// xffMode implements routing.http.xff_header_processing.mode (alb.md §4.1):
// append (default), preserve or remove.
func xffMode(attrs map[string]string) (string, error) {
	v := attrs["routing.http.xff_header_processing.mode"]
	switch v {
	case "":
		return "append", nil
	case "append", "preserve", "remove":
		return v, nil
	}
	return "", fmt.Errorf("attribute routing.http.xff_header_processing.mode=%q: want append, preserve or remove", v)
}

func boolAttribute(attrs map[string]string, key string) (bool, error) {
	switch v := attrs[key]; v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, fmt.Errorf("attribute %s=%q: want true or false", key, v)
	}
}

// targetGroupFor returns the compiled target group for a modeled one,
// compiling it on first use.
func (lb *LoadBalancer) targetGroupFor(mtg *model.TargetGroup) (*targetGroup, error) {
	if tg, ok := lb.groups[mtg]; ok {
		return tg, nil
	}
	tg, err := newTargetGroup(mtg)
	if err != nil {
		return nil, err
	}
	lb.groups[mtg] = tg
	lb.groupList = append(lb.groupList, tg)
	return tg, nil
}

// Plane returns the serve.Plane for one of the load balancer's listeners:
// the request handler and, for HTTPS listeners, the per-ClientHello TLS
// configuration. A listener that is not part of the load balancer gets a
// plane that answers every request with the LB's 503 page and logs why.
func (lb *LoadBalancer) Plane(ml *model.Listener) serve.Plane {
	l := lb.listeners[ml]
	if l == nil && ml != nil && ml.ARN != "" {
		l = lb.byARN[ml.ARN]
	}
	if l == nil {
		lb.log.Error("alb: Plane called for a listener that is not part of the load balancer", "listener", ml)
		return serve.Plane{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := &responseCounter{ResponseWriter: w, proto1: r.ProtoMajor == 1, head: r.Method == http.MethodHead}
			lb.writeGenerated(rc, r, http.StatusServiceUnavailable, "text/html", lb.pages.body(http.StatusServiceUnavailable))
		})}
	}
	p := serve.Plane{Handler: l, Reject: l.reject}
	if l.tls != nil {
		p.TLS = l.configForClient
	}
	return p
}

// Close stops the health checks and closes idle target connections.
func (lb *LoadBalancer) Close() {
	lb.health.stop()
	lb.closeOps()
	lb.closeTransports()
}

func (lb *LoadBalancer) closeTransports() {
	lb.httpTransport.CloseIdleConnections()
	lb.leanTransport.Close()
	lb.httpsTransport.CloseIdleConnections()
	lb.h2.close()
}

// Start starts the health checks: the first round immediately, then every
// HealthCheck.Interval. It returns at once; Close stops the checks, as does
// the end of ctx.
func (lb *LoadBalancer) Start(ctx context.Context) { lb.health.start(ctx) }

// WaitChecked returns once every target that is health-checked has had at
// least one health check (or carried a result over from the previous
// instance), or with ctx's error.
func (lb *LoadBalancer) WaitChecked(ctx context.Context) error { return lb.health.wait(ctx) }

// Health reports the health of every registered target, by target group in
// model order, for `kumo up`'s table.
func (lb *LoadBalancer) Health() []TargetHealth { return lb.health.report() }
