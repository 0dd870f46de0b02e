package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	dir := t.TempDir()
	c, err := Load(env(map[string]string{"HITCH_DATABASE_URL": "sqlite://" + dir + "/hitch.db"}), Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.PublicURL.String() != "http://127.0.0.1:8080" {
		t.Fatalf("listen %q public %q", c.Listen, c.PublicURL)
	}
	if c.KeyFile != filepath.Join(dir, "hitch.key") || !c.SecretGenerated || len(c.WorkspaceSecret) < 32 {
		t.Fatalf("embedded default: key file %q generated %v", c.KeyFile, c.SecretGenerated)
	}
	fi, err := os.Stat(filepath.Join(dir, "hitch.secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", err, fi)
	}
	again, err := Load(env(map[string]string{"HITCH_DATABASE_URL": "sqlite://" + dir + "/hitch.db"}), Overrides{})
	if err != nil || again.SecretGenerated || string(again.WorkspaceSecret) != string(c.WorkspaceSecret) {
		t.Fatalf("second load did not reuse the secret: %v", err)
	}
}

func TestLoadOverridesAndOrigins(t *testing.T) {
	c, err := Load(env(map[string]string{
		"HITCH_DATABASE_URL":     "postgres://db/hitch",
		"HITCH_WORKSPACE_SECRET": strings.Repeat("s", 40),
		"HITCH_ENCRYPTION_KEYS":  "k1:AAAA",
		"HITCH_ALLOWED_ORIGINS":  "https://App.Example.com, http://localhost:3000/",
		"HITCH_LISTEN":           "0.0.0.0:9000",
	}), Overrides{Listen: "127.0.0.1:9999", Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || !c.Demo || !c.Sandbox {
		t.Fatalf("overrides lost: %+v", c)
	}
	if !c.OriginAllowed("https://app.example.com") || !c.OriginAllowed("http://localhost:3000") || c.OriginAllowed("https://evil.example.com") {
		t.Fatalf("origins %v", c.AllowedOrigins)
	}
	if c.URL("/oauth/callback") != "http://127.0.0.1:9999/oauth/callback" {
		t.Fatalf("URL %q", c.URL("/oauth/callback"))
	}
}

func TestLoadListCache(t *testing.T) {
	pg := map[string]string{"HITCH_DATABASE_URL": "postgres://db/hitch", "HITCH_WORKSPACE_SECRET": strings.Repeat("s", 40), "HITCH_ENCRYPTION_KEYS": "k1:AAAA"}
	for _, tt := range []struct {
		value string
		want  int64
	}{{"", 0}, {"0", -1}, {"1", 1 << 20}, {" 64 ", 64 << 20}} {
		pg["HITCH_LIST_CACHE_MB"] = tt.value
		c, err := Load(env(pg), Overrides{})
		if err != nil {
			t.Fatalf("HITCH_LIST_CACHE_MB=%q: %v", tt.value, err)
		}
		if c.ListCache != tt.want {
			t.Errorf("HITCH_LIST_CACHE_MB=%q: ListCache %d, want %d", tt.value, c.ListCache, tt.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	pg := map[string]string{"HITCH_DATABASE_URL": "postgres://db/hitch", "HITCH_WORKSPACE_SECRET": strings.Repeat("s", 40), "HITCH_ENCRYPTION_KEYS": "k1:AAAA"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range pg {
			m[a] = b
		}
		m[k] = v
		return m
	}
	cases := []struct {
		env  map[string]string
		name string
	}{
		{with("HITCH_LISTEN", "8080"), "HITCH_LISTEN"},
		{with("HITCH_PUBLIC_URL", "ftp://x"), "HITCH_PUBLIC_URL"},
		{with("HITCH_PUBLIC_URL", "https://user:pw@x"), "HITCH_PUBLIC_URL"},
		{with("HITCH_ALLOWED_ORIGINS", "https://a.example/path"), "HITCH_ALLOWED_ORIGINS"},
		{with("HITCH_ALLOWED_ORIGINS", "*"), "HITCH_ALLOWED_ORIGINS"},
		{with("HITCH_DATABASE_URL", "mysql://x"), "HITCH_DATABASE_URL"},
		{with("HITCH_WORKSPACE_SECRET", "short"), "HITCH_WORKSPACE_SECRET"},
		{with("HITCH_WORKSPACE_SECRET", ""), "HITCH_WORKSPACE_SECRET"},
		{with("HITCH_ENCRYPTION_KEYS", ""), "HITCH_ENCRYPTION_KEYS"},
		{with("HITCH_WORKSPACE_KEY", "has space"), "HITCH_WORKSPACE_KEY"},
		{with("HITCH_SANDBOX", "perhaps"), "HITCH_SANDBOX"},
		{with("HITCH_LOG_LEVEL", "loud"), "HITCH_LOG_LEVEL"},
		{with("HITCH_WEBHOOK_URL", "https://h.example/hook"), "HITCH_WEBHOOK_SECRET"},
		{with("HITCH_ADMIN_EMAIL", "a@b.c"), "HITCH_ADMIN_PASSWORD"},
		{with("HITCH_CONSOLE_SESSION_TTL", "forever"), "HITCH_CONSOLE_SESSION_TTL"},
		{with("HITCH_CONSOLE_SESSION_TTL", "100ms"), "HITCH_CONSOLE_SESSION_TTL"},
		{with("HITCH_LIST_CACHE_MB", "-1"), "HITCH_LIST_CACHE_MB"},
		{with("HITCH_LIST_CACHE_MB", "32MB"), "HITCH_LIST_CACHE_MB"},
		{with("HITCH_LIST_CACHE_MB", "99999999"), "HITCH_LIST_CACHE_MB"},
	}
	for _, c := range cases {
		_, err := Load(env(c.env), Overrides{})
		var ce *Error
		if !errors.As(err, &ce) || ce.Name != c.name {
			t.Errorf("want error naming %s, got %v", c.name, err)
		}
	}
}
