package sandbox_test

import (
	"errors"
	"sync"
	"testing"
)

func TestConcurrentRefreshOfDistinctGrants(t *testing.T) {
	const clients, rounds = 100, 5
	e := newEnv(t, nil)

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	var mu sync.Mutex
	seen := map[string]bool{}
	for range clients {
		wg.Go(func() {
			tok, err := e.tryLogin(postID)
			if err != nil {
				errs <- err
				return
			}
			for range rounds {
				tok, err = e.refresh(e.ctx(), postID, tok.RefreshToken)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				dup := seen[tok.RefreshToken]
				seen[tok.RefreshToken] = true
				mu.Unlock()
				if dup {
					errs <- errors.New("refresh token issued twice")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := e.srv.Stats()
	if st.CodeExchanges != clients || st.Refreshes != clients*rounds || st.RefreshReuse != 0 {
		t.Errorf("stats = %+v", st)
	}
	if e.srv.Grants() != clients || e.srv.MaxRefreshTokenUses() != 1 {
		t.Errorf("grants = %d, max uses = %d", e.srv.Grants(), e.srv.MaxRefreshTokenUses())
	}
}

// Two copies of one client racing with the same refresh token is exactly
// what rotating providers punish: one wins, the grant then dies.
func TestConcurrentRefreshOfOneToken(t *testing.T) {
	const racers = 10
	e := newEnv(t, nil)
	tok := e.login(basicID)

	var wg sync.WaitGroup
	results := make(chan error, racers)
	for range racers {
		wg.Go(func() {
			_, err := e.refresh(e.ctx(), basicID, tok.RefreshToken)
			results <- err
		})
	}
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		switch {
		case err == nil:
			ok++
		case oauthCode(err) != "invalid_grant":
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d refreshes succeeded, want exactly 1", ok)
	}
	st := e.srv.Stats()
	if st.RefreshReuse != racers-1 || e.srv.Grants() != 0 || e.srv.RefreshTokenUses(tok.RefreshToken) != racers {
		t.Errorf("stats = %+v grants = %d uses = %d", st, e.srv.Grants(), e.srv.RefreshTokenUses(tok.RefreshToken))
	}
}
