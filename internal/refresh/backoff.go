package refresh

import (
	"time"
)

// The retry schedule of spec section 7.
const (
	BackoffBase = 30 * time.Second
	BackoffCap  = time.Hour
)

// Backoff is the delay before the next try after the attempt-th failure in a row (1 for the first):
// full jitter, uniform in [0, min(BackoffCap, BackoffBase·2^(attempt-1))], so replicas that failed
// together do not retry together. retryAfter, the provider's Retry-After, is a floor. int63n returns a
// uniform value in [0, n), like math/rand/v2's Int64N.
func Backoff(attempt int, retryAfter time.Duration, int63n func(n int64) int64) time.Duration {
	ceiling := BackoffCap
	if attempt < 1 {
		attempt = 1
	}
	// Past 2^7 the base already exceeds the cap; stopping there also keeps the shift from overflowing.
	if attempt <= 8 {
		ceiling = min(BackoffCap, BackoffBase<<(attempt-1))
	}
	d := time.Duration(int63n(int64(ceiling) + 1))
	return max(d, retryAfter)
}
