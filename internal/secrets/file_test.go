package secrets

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLoadOrCreateFileCreates(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	path := filepath.Join(t.TempDir(), "data", "nested", "hitch.keys")
	r, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Fatalf("mode = %04o, want 0600", perm)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), DefaultKeyID+":") {
		t.Fatalf("file does not hold a spec for %q", DefaultKeyID)
	}
	if r.CurrentID() != DefaultKeyID {
		t.Fatalf("CurrentID = %q", r.CurrentID())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the key file", len(entries))
	}

	sealed, _ := r.Seal([]byte("persisted"), []byte("c"))
	again, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := again.Open(sealed, []byte("c")); err != nil || string(plain) != "persisted" {
		t.Fatalf("reloaded ring cannot open: %q, %v", plain, err)
	}
}

func TestLoadOrCreateFileReadsExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	spec := mustGenerate(t, "new") + ",\n" + mustGenerate(t, "old") + "\n"
	if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.IDs(), ","); got != "new,old" {
		t.Fatalf("IDs = %s", got)
	}
}

func TestLoadOrCreateFileRefuses(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	good := mustGenerate(t, "k")
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		wantMsg []string
	}{
		{"group readable", good, 0o640, []string{"0640", "chmod 600"}},
		{"other readable", good, 0o604, []string{"0604"}},
		{"group writable", good, 0o620, []string{"0620"}},
		{"empty", "", 0o600, []string{"empty"}},
		{"bad spec", "k:notakey", 0o600, []string{"base64"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour) // not a file another process is still writing
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreateFile(path)
			if err == nil {
				t.Fatal("LoadOrCreateFile succeeded")
			}
			for _, want := range append(tc.wantMsg, path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if strings.Contains(err.Error(), strings.TrimPrefix(good, "k:")) {
				t.Errorf("error echoes key material")
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		if _, err := LoadOrCreateFile(t.TempDir()); err == nil {
			t.Fatal("LoadOrCreateFile accepted a directory")
		}
	})
}

func TestLoadOrCreateFileConcurrentFirstStart(t *testing.T) {
	for round := range 5 {
		path := filepath.Join(t.TempDir(), "d", "keys")
		const n = 16
		rings := make([]*KeyRing, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				rings[i], errs[i] = LoadOrCreateFile(path)
			})
		}
		close(start)
		wg.Wait()
		sealed, err := func() ([]byte, error) {
			if errs[0] != nil {
				return nil, errs[0]
			}
			return rings[0].Seal([]byte("shared"), nil)
		}()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d, caller %d: %v", round, i, errs[i])
			}
			if _, err := rings[i].Open(sealed, nil); err != nil {
				t.Fatalf("round %d: caller %d got a different key: %v", round, i, err)
			}
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Fatalf("round %d: %d directory entries, temporary files left behind", round, len(entries))
		}
	}
}

func TestLoadOrCreateFileWaitsForWriter(t *testing.T) {
	// Simulates a concurrent first start on a filesystem without hard links:
	// the file exists, empty, and its key arrives a moment later.
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	spec := mustGenerate(t, "late")
	done := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		done <- os.WriteFile(path, []byte(spec), 0o600)
	}()
	r, err := LoadOrCreateFile(path)
	if werr := <-done; werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.CurrentID() != "late" {
		t.Fatalf("CurrentID = %q, want the writer's key", r.CurrentID())
	}
}
