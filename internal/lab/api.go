package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// apiError is the body of every failed control API call.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// handler serves the control API used by the CLI and the lab target.
func (l *Lab) handler(shutdown func()) http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, err error, v any) {
		if err != nil {
			writeJSON(w, http.StatusConflict, apiError{err.Error()})
			return
		}
		if v == nil {
			v = map[string]bool{"ok": true}
		}
		writeJSON(w, http.StatusOK, v)
	}
	opCtx := func(r *http.Request) (context.Context, context.CancelFunc) {
		return context.WithTimeout(r.Context(), 2*time.Minute)
	}
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, l.Status(r.Context()))
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.Atoi(r.URL.Query().Get("after"))
		writeJSON(w, http.StatusOK, l.cfg.Events.Since(after))
	})
	mux.HandleFunc("POST /v1/regions/{region}/{op}", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := opCtx(r)
		defer cancel()
		name := r.PathValue("region")
		var err error
		switch op := r.PathValue("op"); op {
		case "kill":
			err = l.Kill(name)
		case "freeze":
			err = l.Freeze(name)
		case "thaw":
			err = l.Thaw(name)
		case "restart":
			err = l.Restart(ctx, name)
		case "reseed":
			err = l.Reseed(ctx, name)
		case "fence":
			err = l.Fence(ctx, name)
		case "rejoin":
			err = l.Rejoin(ctx, name)
		default:
			writeJSON(w, http.StatusNotFound, apiError{fmt.Sprintf("unknown region operation %q", op)})
			return
		}
		ok(w, err, nil)
	})
	mux.HandleFunc("POST /v1/promote", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Region string `json:"region"`
			PromoteOptions
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{"promote: bad JSON body: " + err.Error()})
			return
		}
		ctx, cancel := opCtx(r)
		defer cancel()
		ok(w, l.Promote(ctx, req.Region, req.PromoteOptions), nil)
	})
	mux.HandleFunc("POST /v1/links/{name}", func(w http.ResponseWriter, r *http.Request) {
		var f LinkFaults
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{"link: bad JSON body: " + err.Error()})
			return
		}
		ok(w, l.SetLink(r.PathValue("name"), f), nil)
	})
	mux.HandleFunc("POST /v1/controller", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Paused bool `json:"paused"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{"controller: bad JSON body: " + err.Error()})
			return
		}
		l.PauseController(req.Paused)
		ok(w, nil, nil)
	})
	mux.HandleFunc("POST /v1/control-path", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Cut *bool `json:"cut"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Cut == nil {
			writeJSON(w, http.StatusBadRequest, apiError{`control-path: want a JSON body {"cut": true|false}`})
			return
		}
		l.SetControlPath(*req.Cut)
		ok(w, nil, nil)
	})
	mux.HandleFunc("POST /v1/recover", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := opCtx(r)
		defer cancel()
		did, err := l.Recover(ctx)
		ok(w, err, map[string][]string{"did": did})
	})
	mux.HandleFunc("POST /v1/failback", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := opCtx(r)
		defer cancel()
		did, err := l.Failback(ctx)
		ok(w, err, map[string][]string{"did": did})
	})
	mux.HandleFunc("POST /v1/shutdown", func(w http.ResponseWriter, r *http.Request) {
		ok(w, nil, nil)
		go shutdown()
	})
	return mux
}
