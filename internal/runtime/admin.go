package runtime

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/kumo-dev/kumo/internal/admin"
	"github.com/kumo-dev/kumo/internal/edge"
)

// adminHandler routes the admin endpoint's API: the JSON routes under /v1/
// and the Prometheus /metrics.
func (rt *Runtime) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/endpoints", func(w http.ResponseWriter, _ *http.Request) {
		admin.WriteJSON(w, http.StatusOK, rt.Endpoints())
	})
	inv := &invalidations{rt: rt, byDist: map[string][]*Invalidation{}}
	mux.HandleFunc("POST /v1/distributions/{id}/invalidations", inv.create)
	mux.HandleFunc("GET /v1/distributions/{id}/invalidations", inv.list)
	mux.HandleFunc("GET /v1/distributions/{id}/invalidations/{inv}", inv.get)
	mux.HandleFunc("GET /v1/targets", func(w http.ResponseWriter, _ *http.Request) {
		admin.WriteJSON(w, http.StatusOK, rt.Targets())
	})
	// GET /metrics serves the load-balancer metrics in the Prometheus text
	// format. Like every admin route it needs the admin token: a Prometheus
	// scrape job sets `authorization: {type: Bearer, credentials_file:
	// <state-dir>/admin-token}`; the endpoint is loopback-only either way.
	mux.Handle("GET /metrics", rt.metrics.Handler())
	if rt.opt.Pprof {
		mountPprof(mux)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		admin.WriteError(w, http.StatusNotFound, "no admin route "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// mountPprof serves net/http/pprof under /debug/pprof/ (Options.Pprof,
// `kumo up --pprof`): loopback-only and behind the admin token like every
// admin route, for profiling the data planes.
func mountPprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// Invalidation statuses (CloudFront's GetInvalidation).
const (
	InvalidationInProgress = "InProgress"
	InvalidationCompleted  = "Completed"
)

// CreateInvalidationInput is the body of POST
// /v1/distributions/{id}/invalidations.
type CreateInvalidationInput struct {
	Paths []string `json:"Paths"`
	// CallerReference is echoed back ("" = kumo makes one up, as the AWS
	// CLI does).
	CallerReference string `json:"CallerReference,omitempty"`
}

// Invalidation is one invalidation, in the shape of CloudFront's
// Invalidation (aws cloudfront get-invalidation).
type Invalidation struct {
	ID                string            `json:"Id"`
	Status            string            `json:"Status"`
	CreateTime        time.Time         `json:"CreateTime"`
	InvalidationBatch InvalidationBatch `json:"InvalidationBatch"`
}

// InvalidationBatch is an invalidation's paths and caller reference.
type InvalidationBatch struct {
	Paths           InvalidationPaths `json:"Paths"`
	CallerReference string            `json:"CallerReference"`
}

// InvalidationPaths is CloudFront's {Quantity, Items} list.
type InvalidationPaths struct {
	Quantity int      `json:"Quantity"`
	Items    []string `json:"Items"`
}

// InvalidationOutput is the answer to a create or get, like the output of
// aws cloudfront create-invalidation / get-invalidation.
type InvalidationOutput struct {
	Location     string       `json:"Location,omitempty"`
	Invalidation Invalidation `json:"Invalidation"`
}

// Invalidation limits per request (cloudfront.md §4.9: 3,000 file paths and
// 15 wildcard paths in progress per distribution; a kumo invalidation
// completes at once, so the limits apply to one batch).
const (
	maxInvalidationPaths     = 3000
	maxInvalidationWildcards = 15
	// keptInvalidations is how many invalidations per distribution the
	// admin endpoint remembers.
	keptInvalidations = 100
)

// invalidations runs and remembers the invalidations of a Runtime (across
// reloads).
type invalidations struct {
	rt     *Runtime
	mu     sync.Mutex
	byDist map[string][]*Invalidation
}

// currentEdge is the edge that serves now.
func (rt *Runtime) currentEdge() *edge.Edge {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.edge
}

// hasDistribution reports whether the served stack has distribution id.
func (rt *Runtime) hasDistribution(id string) bool {
	st := rt.Stack()
	if st == nil {
		return false
	}
	for _, d := range st.Distributions {
		if d.ID == id {
			return true
		}
	}
	return false
}

// newInvalidationID is I + 13 uppercase letters and digits (the shape of
// CloudFront invalidation IDs, cloudfront.md §6).
func newInvalidationID() (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := []byte("I")
	for range 13 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", fmt.Errorf("invalidation id: %w", err)
		}
		b = append(b, alphabet[n.Int64()])
	}
	return string(b), nil
}

// checkInvalidationBatch implements the batch rules of cloudfront.md §4.9:
// every path valid (edge.InvalidationPath), at most 3,000 paths and 15
// wildcard paths.
func checkInvalidationBatch(paths []string) error {
	if len(paths) == 0 {
		return errors.New("an invalidation needs at least one path (like /images/*)")
	}
	if len(paths) > maxInvalidationPaths {
		return fmt.Errorf("%d paths; at most %d are allowed per invalidation", len(paths), maxInvalidationPaths)
	}
	wild := 0
	for _, p := range paths {
		if err := edge.InvalidationPath(p); err != nil {
			return err
		}
		if strings.HasSuffix(p, "*") {
			wild++
		}
	}
	if wild > maxInvalidationWildcards {
		return fmt.Errorf("%d wildcard paths; at most %d are allowed in progress", wild, maxInvalidationWildcards)
	}
	return nil
}

func (iv *invalidations) create(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !iv.rt.hasDistribution(id) {
		admin.WriteError(w, http.StatusNotFound, "NoSuchDistribution: the stack has no distribution "+id)
		return
	}
	var in CreateInvalidationInput
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&in); err != nil {
		admin.WriteError(w, http.StatusBadRequest, "invalid invalidation request: "+err.Error())
		return
	}
	if err := checkInvalidationBatch(in.Paths); err != nil {
		admin.WriteError(w, http.StatusBadRequest, "InvalidArgument: "+err.Error())
		return
	}
	invID, err := newInvalidationID()
	if err != nil {
		admin.WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	ref := in.CallerReference
	if ref == "" {
		ref = fmt.Sprintf("kumo-%d", time.Now().UnixNano())
	}
	inv := &Invalidation{ID: invID, Status: InvalidationInProgress, CreateTime: time.Now().UTC().Truncate(time.Millisecond),
		InvalidationBatch: InvalidationBatch{Paths: InvalidationPaths{Quantity: len(in.Paths), Items: in.Paths}, CallerReference: ref}}
	iv.mu.Lock()
	list := append(iv.byDist[id], inv)
	if len(list) > keptInvalidations {
		list = list[len(list)-keptInvalidations:]
	}
	iv.byDist[id] = list
	out := InvalidationOutput{Location: "/v1/distributions/" + id + "/invalidations/" + invID, Invalidation: *inv}
	iv.mu.Unlock()
	go iv.run(id, inv)
	admin.WriteJSON(w, http.StatusCreated, out)
}

// run removes the invalidation's objects from the serving edge and marks it
// Completed.
func (iv *invalidations) run(id string, inv *Invalidation) {
	log := iv.rt.log.With("distribution", id, "invalidation", inv.ID)
	if e := iv.rt.currentEdge(); e != nil {
		if _, err := e.Invalidate(id, inv.InvalidationBatch.Paths.Items); err != nil && !errors.Is(err, edge.ErrNoSuchDistribution) {
			log.Error("invalidation failed", "err", err)
		}
	}
	iv.mu.Lock()
	inv.Status = InvalidationCompleted
	iv.mu.Unlock()
	log.Info("invalidation completed", "paths", strings.Join(inv.InvalidationBatch.Paths.Items, " "))
}

func (iv *invalidations) get(w http.ResponseWriter, r *http.Request) {
	id, invID := r.PathValue("id"), r.PathValue("inv")
	iv.mu.Lock()
	defer iv.mu.Unlock()
	for _, inv := range iv.byDist[id] {
		if inv.ID == invID {
			admin.WriteJSON(w, http.StatusOK, InvalidationOutput{Invalidation: *inv})
			return
		}
	}
	admin.WriteError(w, http.StatusNotFound, "NoSuchInvalidation: distribution "+id+" has no invalidation "+invID)
}

// InvalidationList is the answer to GET /v1/distributions/{id}/invalidations.
type InvalidationList struct {
	Items []Invalidation `json:"Items"`
}

func (iv *invalidations) list(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !iv.rt.hasDistribution(id) {
		admin.WriteError(w, http.StatusNotFound, "NoSuchDistribution: the stack has no distribution "+id)
		return
	}
	iv.mu.Lock()
	out := InvalidationList{Items: []Invalidation{}}
	for i := len(iv.byDist[id]) - 1; i >= 0; i-- {
		out.Items = append(out.Items, *iv.byDist[id][i])
	}
	iv.mu.Unlock()
	admin.WriteJSON(w, http.StatusOK, out)
}

// WaitInvalidation polls the admin endpoint until the invalidation is
// Completed (aws cloudfront wait invalidation-completed).
func WaitInvalidation(ctx context.Context, c *admin.Client, distributionID, invalidationID string) (InvalidationOutput, error) {
	var out InvalidationOutput
	for {
		if err := c.Do(ctx, http.MethodGet, "/v1/distributions/"+distributionID+"/invalidations/"+invalidationID, nil, &out); err != nil {
			return out, err
		}
		if out.Invalidation.Status == InvalidationCompleted {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, fmt.Errorf("waiting for invalidation %s: %w", invalidationID, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// http3Port is the UDP port of the viewer HTTP/3 listener (0 when off).
func (rt *Runtime) http3Port() int {
	if rt.h3 == nil {
		return 0
	}
	return rt.h3.Port()
}
