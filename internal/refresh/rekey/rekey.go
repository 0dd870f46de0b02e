// Package rekey re-encrypts every stored secret under the key ring's current key (`hitch keys rotate`).
// It works in small transactions and replaces a value only if it is unchanged since it was read, so
// servers keep running and writing while it goes; a run that stops part-way is finished by running
// it again.
package rekey

import (
	"context"
	"errors"
	"fmt"

	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
)

// DefaultBatch is how many rows one transaction re-encrypts.
const DefaultBatch = 200

// Options tune Rotate.
type Options struct {
	// Batch is the number of rows per transaction (DefaultBatch).
	Batch int
	// Progress, when set, is called after each committed batch with the column's running totals.
	Progress func(Progress)
}

// Progress counts one sealed column's rows so far.
type Progress struct {
	Column  string // table.column
	Rotated int    // re-sealed under the current key
	Current int    // already under the current key
	Changed int    // rewritten by someone else while being rotated (their value is kept)
	Failed  int    // could not be opened with any key of the ring
}

// ErrUnreadable means some values could not be opened with the ring (their key is missing, or the data
// is corrupt); they were left as they are. The other values were rotated.
var ErrUnreadable = errors.New("rekey: some secrets could not be opened with the configured keys")

// Rotate re-seals every value of every sealed column that is not under keys' current key, and returns
// the totals per column. It stops at the first database error, with everything before it committed.
func Rotate(ctx context.Context, s *store.Store, keys *secrets.KeyRing, o Options) ([]Progress, error) {
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	var all []Progress
	var unreadable []string
	for _, col := range store.SealedColumns() {
		p, bad, err := rotateColumn(ctx, s, keys, col, o)
		all = append(all, p)
		unreadable = append(unreadable, bad...)
		if err != nil {
			return all, err
		}
	}
	if len(unreadable) > 0 {
		if len(unreadable) > 10 {
			unreadable = append(unreadable[:10], "…")
		}
		return all, fmt.Errorf("%w: %v", ErrUnreadable, unreadable)
	}
	return all, nil
}

// rotateColumn walks one column in primary key order, a batch per transaction.
func rotateColumn(ctx context.Context, s *store.Store, keys *secrets.KeyRing, col store.SealedColumn, o Options) (Progress, []string, error) {
	p := Progress{Column: col.String()}
	var unreadable []string
	current := keys.CurrentID()
	after := ""
	for {
		var batch Progress
		var bad []string
		var last string
		var n int
		err := s.InTx(ctx, func(q *store.Queries) error {
			batch, bad, last, n = Progress{}, nil, after, 0
			rows, err := q.ListSealed(ctx, col, current, after, o.Batch)
			if err != nil {
				return err
			}
			n = len(rows)
			for _, r := range rows {
				last = r.ID
				if !keys.NeedsRotation(r.Sealed) {
					if _, err := keys.KeyID(r.Sealed); err != nil {
						batch.Failed++
						bad = append(bad, col.String()+" "+r.ID)
						continue
					}
					// Sealed under the current key but recorded under another: fix the record.
					if col.KeyIDColumn != "" {
						if _, err := q.ReplaceSealed(ctx, col, r.ID, r.Sealed, r.Sealed, current); err != nil {
							return err
						}
					}
					batch.Current++
					continue
				}
				plain, err := keys.Open(r.Sealed, []byte(r.ID))
				if err != nil {
					batch.Failed++
					bad = append(bad, col.String()+" "+r.ID)
					continue
				}
				sealed, err := keys.Seal(plain, []byte(r.ID))
				clear(plain)
				if err != nil {
					return fmt.Errorf("rekey: seal %s %s: %w", col, r.ID, err)
				}
				ok, err := q.ReplaceSealed(ctx, col, r.ID, r.Sealed, sealed, current)
				if err != nil {
					return err
				}
				if ok {
					batch.Rotated++
				} else {
					batch.Changed++
				}
			}
			return nil
		})
		if err != nil {
			return p, unreadable, fmt.Errorf("rekey: %s: %w", col, err)
		}
		p.Rotated += batch.Rotated
		p.Current += batch.Current
		p.Changed += batch.Changed
		p.Failed += batch.Failed
		unreadable = append(unreadable, bad...)
		after = last
		if o.Progress != nil && n > 0 {
			o.Progress(p)
		}
		if n < o.Batch {
			return p, unreadable, nil
		}
	}
}
