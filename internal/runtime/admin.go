package runtime

import (
	"net/http"

	"github.com/kumo-dev/kumo/internal/admin"
)

// adminHandler routes the admin endpoint's API. Every route is under /v1/.
func (rt *Runtime) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/endpoints", func(w http.ResponseWriter, _ *http.Request) {
		admin.WriteJSON(w, http.StatusOK, rt.Endpoints())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		admin.WriteError(w, http.StatusNotFound, "no admin route "+r.Method+" "+r.URL.Path)
	})
	return mux
}
