package device

import "errors"

// slots holds the buffers behind the slots (*Buffer fields) of an LSTM or a
// Model: one allocation per slot, grown when a pass needs more and reused
// otherwise, so a pass of a known shape allocates nothing (and may be
// captured as a graph).
type slots struct {
	dev Device
	own map[*Buffer]Buffer // the allocation behind each slot
	gen int                // counts allocations, so callers can tell buffers moved
}

func newSlots(dev Device) slots { return slots{dev: dev, own: map[*Buffer]Buffer{}} }

// grow makes *slot a buffer of n values, a view of the slot's allocation
// when that is large enough, else of a new one (and the old one is freed).
func (s *slots) grow(slot *Buffer, n int) error {
	old, ok := s.own[slot]
	if ok && old.Len() >= n {
		*slot = old.Slice(0, n)
		return nil
	}
	b, err := s.dev.Alloc(max(n, 1))
	if err != nil {
		return err
	}
	if ok {
		if err := s.dev.Free(old); err != nil {
			return errors.Join(err, s.dev.Free(b))
		}
	}
	s.own[slot] = b
	s.gen++
	*slot = b.Slice(0, n)
	return nil
}

// free releases every allocation.
func (s *slots) free() error {
	var errs []error
	for _, b := range s.own {
		errs = append(errs, s.dev.Free(b))
	}
	clear(s.own)
	return errors.Join(errs...)
}
