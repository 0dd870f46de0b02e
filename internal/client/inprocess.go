package client

import (
	"bytes"
	"io"
	"net/http"
)

// HandlerTransport is an http.RoundTripper that serves each request with h
// in the calling goroutine, for a client inside the server itself (the MCP
// endpoint calls the API this way, so the API's checks and tenant scoping
// apply to its tools exactly as to any other caller).
func HandlerTransport(h http.Handler) http.RoundTripper {
	return handlerTransport{h}
}

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// The handler sees what a server would hand it; the caller's request
	// stays untouched, as RoundTrip requires.
	in := req.Clone(req.Context())
	if in.Body == nil {
		in.Body = http.NoBody
	}
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	w := &recorder{header: http.Header{}}
	t.h.ServeHTTP(w, in)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &http.Response{
		Status:        http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		Body:          io.NopCloser(bytes.NewReader(w.body.Bytes())),
		ContentLength: int64(w.body.Len()),
		Request:       req,
	}, nil
}

// recorder buffers one response; API answers are small JSON documents.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len()+len(p) > maxBody {
		return 0, io.ErrShortWrite
	}
	return r.body.Write(p)
}

// Flush lets handlers that flush work; the body is delivered at the end anyway.
func (r *recorder) Flush() {}
