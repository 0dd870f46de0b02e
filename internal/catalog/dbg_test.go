package catalog

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDbgCorpus(t *testing.T) {
	dir := os.Getenv("CORPUS")
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	base, _ := parseEntries(builtinFile, builtinYAML)
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		lines := strings.SplitN(string(raw), "\n", 2)
		body := strings.TrimSpace(lines[1])
		body = strings.TrimSuffix(strings.TrimPrefix(body, "[]byte("), ")")
		data, err := strconv.Unquote(body)
		if err != nil {
			t.Logf("skip %s: %v", f, err)
			continue
		}
		done := make(chan time.Duration, 1)
		go func() {
			s := time.Now()
			assemble(Options{File: "fuzz.yaml", Getenv: noEnv, IncludeSandbox: true}, base, []byte(data))
			done <- time.Since(s)
		}()
		select {
		case d := <-done:
			if d > 100*time.Millisecond {
				t.Logf("SLOW %v %s", d, filepath.Base(f))
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("HANG %s: %q", filepath.Base(f), data)
		}
	}
}
