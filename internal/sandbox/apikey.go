package sandbox

import (
	"crypto/subtle"
	"net/http"
)

// APIKey is the one key the sandbox-apikey app accepts.
const APIKey = "sandbox-good"

// APIKeyHandler serves the sandbox-apikey app: GET /whoami answers 200 for
// the key APIKey, sent as a Bearer token or in X-API-Key, and 401 otherwise.
func (s *Server) APIKeyHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		tok, _ := bearer(r)
		if goodKey(tok) || goodKey(r.Header.Get("X-API-Key")) {
			writeJSON(w, http.StatusOK, map[string]string{"account": "Sandbox Inc."})
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="Sandbox API"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{
			"error":   "invalid_api_key",
			"message": "The API key is not valid.",
		})
	})
	return mux
}

func goodKey(k string) bool {
	return subtle.ConstantTimeCompare([]byte(k), []byte(APIKey)) == 1
}
