package secrets

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// DefaultKeyID names the key that LoadOrCreateFile generates.
const DefaultKeyID = "k1"

const (
	maxKeyFileSize = 64 << 10
	// A concurrent first start may be between creating and writing the file
	// on filesystems without hard links; readers wait this long for a
	// freshly created empty file to fill.
	emptyFileWait = 2 * time.Second
)

// LoadOrCreateFile reads a key ring from path, in the same spec form as Parse.
// When the file does not exist it creates it (and its parent directory) with
// mode 0600, holding one generated key. Creation is atomic: concurrent first
// starts all end up with the one key that won. A file readable or writable by
// group or other is refused.
func LoadOrCreateFile(path string) (*KeyRing, error) {
	created := false
	deadline := time.Now().Add(emptyFileWait)
	for {
		r, err := loadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist) && !created:
			created = true
			if err := createFile(path); err != nil && !errors.Is(err, fs.ErrExist) {
				return nil, err
			}
		case errors.Is(err, errEmptyFile) && time.Now().Before(deadline):
			time.Sleep(20 * time.Millisecond)
		default:
			return r, err
		}
	}
}

var errEmptyFile = errors.New("secrets: key file is empty")

func loadFile(path string) (*KeyRing, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: open key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secrets: stat key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("secrets: key file %s is not a regular file", path)
	}
	// Windows has no Unix permission bits to check.
	if perm := info.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("secrets: key file %s has mode %04o, which lets group or other users read it; run chmod 600 %s", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("secrets: read key file %s: %w", path, err)
	}
	defer clear(data)
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("secrets: key file %s is larger than %d bytes", path, maxKeyFileSize)
	}
	spec := strings.TrimSpace(string(data))
	if spec == "" {
		if time.Since(info.ModTime()) < emptyFileWait {
			return nil, fmt.Errorf("%w: %s", errEmptyFile, path) // probably still being written
		}
		return nil, fmt.Errorf("secrets: key file %s is empty; remove it to have a new key generated", path)
	}
	r, err := Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("secrets: key file %s: %w", path, err)
	}
	return r, nil
}

// createFile writes a fresh key to a private temporary file and hard-links it
// into place, so path never exists half-written and an existing path is never
// replaced. Where hard links are unsupported it falls back to O_EXCL.
func createFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("secrets: create key directory: %w", err)
	}
	spec, err := Generate(DefaultKeyID)
	if err != nil {
		return err
	}
	content := []byte(spec + "\n")
	defer clear(content)

	tmp, err := os.CreateTemp(dir, ".hitch-keys-*.tmp") // mode 0600, O_EXCL
	if err != nil {
		return fmt.Errorf("secrets: create key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := writeAndSync(tmp, content); err != nil {
		return fmt.Errorf("secrets: write key file: %w", err)
	}
	linkErr := os.Link(tmpName, path)
	if linkErr == nil {
		syncDir(dir)
		return nil
	}
	if errors.Is(linkErr, fs.ErrExist) {
		return linkErr
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("secrets: create key file: %w", err)
	}
	if err := writeAndSync(f, content); err != nil {
		_ = os.Remove(path) // ours, and unusable; waiting readers then fail fast
		return fmt.Errorf("secrets: write key file %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

func writeAndSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes the new directory entry durable; failure only weakens crash
// safety, and some platforms cannot fsync directories at all.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
